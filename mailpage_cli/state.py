"""What ``--if-changed`` remembers: per profile, page id and a hash of the recipient set, the
last version sent and when. Nothing else (no addresses, no titles, no content).

One JSON file in ``$MAILPAGE_STATE_DIR`` or ``$XDG_STATE_HOME/mailpage``, mode 0600,
replaced atomically and under a lock, and written only after a successful send.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
from collections.abc import Iterable, Iterator, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from mailpage_cli.errors import ConfigError
from mailpage_cli.settings import write_private

FILE = "sent.json"


def state_dir(env: Mapping[str, str]) -> Path:
    """``MAILPAGE_STATE_DIR`` > ``$XDG_STATE_HOME/mailpage`` > ``~/.local/state/mailpage``."""
    if env.get("MAILPAGE_STATE_DIR"):
        return Path(env["MAILPAGE_STATE_DIR"]).expanduser()
    base = env.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base).expanduser() / "mailpage"


def recipients_hash(addresses: Iterable[str]) -> str:
    """The same set of addresses, in any order or case, hashes the same."""
    joined = "\n".join(sorted({a.lower() for a in addresses}))
    return hashlib.sha256(joined.encode()).hexdigest()[:32]


class SentState:
    def __init__(self, directory: Path) -> None:
        self.path = directory / FILE

    def _read(self) -> dict[str, Any]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as exc:
            raise ConfigError(f"Cannot read the state file {self.path} ({exc})",
                              "Move it away; the next --if-changed run sends again.") from exc
        return data if isinstance(data, dict) else {}

    def last_version(self, profile: str, page_id: str, recipients: str) -> str | None:
        entry = self._read().get("sent", {}).get(profile, {}).get(page_id, {}).get(recipients)
        return str(entry["version"]) if isinstance(entry, dict) and "version" in entry else None

    def record(self, profile: str, page_id: str, recipients: str, version: str) -> None:
        with self._locked():
            data = self._read()
            sent = data.setdefault("sent", {}).setdefault(profile, {}).setdefault(page_id, {})
            sent[recipients] = {"version": version,
                                "sent_at": datetime.now(UTC).isoformat(timespec="seconds")}
            data["format"] = 1
            self._write(data)

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        """Two jobs finishing at once must not lose each other's record."""
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        with (self.path.parent / f"{FILE}.lock").open("a") as lock:
            try:
                import fcntl  # noqa: PLC0415 - POSIX only; elsewhere the rename is enough

                fcntl.flock(lock, fcntl.LOCK_EX)
            except ImportError:  # pragma: no cover - Windows
                pass
            yield

    def _write(self, data: dict[str, Any]) -> None:
        write_private(self.path, json.dumps(data, indent=1, sort_keys=True).encode())
