"""Keyring backends for tests: the keyring is the one edge with no wire to test against.

``MemoryKeyring`` serves tests that run the CLI in-process; ``FileKeyring`` serves those that
run it as a subprocess (selected with ``PYTHON_KEYRING_BACKEND``), keeping the secrets in the
JSON file named by ``MAILPAGE_TEST_KEYRING``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from keyring.backend import KeyringBackend
from keyring.errors import PasswordDeleteError


class MemoryKeyring(KeyringBackend):
    priority = 1  # type: ignore[assignment]

    def __init__(self) -> None:
        super().__init__()
        self.store: dict[tuple[str, str], str] = {}

    def get_password(self, service: str, username: str) -> str | None:
        return self.store.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self.store[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        if self.store.pop((service, username), None) is None:
            raise PasswordDeleteError(username)


class FileKeyring(MemoryKeyring):
    @property
    def path(self) -> Path:
        return Path(os.environ["MAILPAGE_TEST_KEYRING"])

    def _load(self) -> None:
        data = json.loads(self.path.read_text()) if self.path.exists() else {}
        self.store = {tuple(k.split("\n", 1)): v for k, v in data.items()}  # type: ignore[misc]

    def _save(self) -> None:
        self.path.write_text(json.dumps({"\n".join(k): v for k, v in self.store.items()}))

    def get_password(self, service: str, username: str) -> str | None:
        self._load()
        return super().get_password(service, username)

    def set_password(self, service: str, username: str, password: str) -> None:
        self._load()
        super().set_password(service, username, password)
        self._save()

    def delete_password(self, service: str, username: str) -> None:
        self._load()
        super().delete_password(service, username)
        self._save()
