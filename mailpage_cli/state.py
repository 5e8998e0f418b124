"""What ``--if-changed`` remembers: per profile and page, the version last sent and which
recipients have it, as salted hashes (never addresses, titles or content)::

    {"format": 2, "salt": "9f0c…",
     "pages": {"default": {"98487": {"version": "7", "sent_at": "2026-12-01T08:00:00+00:00",
                                     "delivered": ["3b1f…", …], "unknown": ["c0de…"]}}}}

``unknown`` are the recipients of a message whose final reply was lost: the server may have
queued it, so a rerun does not send it to them again (it warns instead).

One JSON file in ``$MAILPAGE_STATE_DIR`` or ``$XDG_STATE_HOME/mailpage``, mode 0600, replaced
atomically. A run holds an exclusive lock on it from the check until its last record, so two
overlapping runs cannot both send; each accepted message is recorded before the next goes out.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import secrets
from collections.abc import Iterable, Iterator, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from mailpage_cli.errors import StateError
from mailpage_cli.privatefiles import exclusive_lock, write_private

FILE = "sent.json"
FORMAT = 2


def state_dir(env: Mapping[str, str]) -> Path:
    """``MAILPAGE_STATE_DIR`` > ``$XDG_STATE_HOME/mailpage`` > ``~/.local/state/mailpage``."""
    if env.get("MAILPAGE_STATE_DIR"):
        return Path(env["MAILPAGE_STATE_DIR"]).expanduser()
    base = env.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base).expanduser() / "mailpage"


def recipients_hash(addresses: Iterable[str]) -> str:
    """Format 1's key: the same set of addresses, in any order or case, hashes the same."""
    joined = "\n".join(sorted({a.lower() for a in addresses}))
    return hashlib.sha256(joined.encode()).hexdigest()[:32]


class SentState:
    """Use inside :meth:`locked`: every read and write of a run happens under one lock."""

    def __init__(self, directory: Path) -> None:
        self.path = directory / FILE
        self._data: dict[str, Any] = {}

    @contextlib.contextmanager
    def locked(self) -> Iterator[SentState]:
        """Held from the check until the last record: an overlapping run waits, then sees
        what this one sent."""
        with contextlib.ExitStack() as stack:
            try:
                stack.enter_context(exclusive_lock(self.path.parent / f"{FILE}.lock"))
            except OSError as exc:
                raise self._error("lock", exc) from exc
            self._data = self._read()
            yield self

    def done(self, profile: str, page_id: str, version: str,
             addresses: Iterable[str]) -> dict[str, str]:
        """Those of ``addresses`` that have this version: address -> "delivered" | "unknown"."""
        entry = self._entry(profile, page_id)
        addresses = list(addresses)
        if self._legacy_sent(profile, page_id, addresses) == version:
            return dict.fromkeys(addresses, "delivered")
        if entry.get("version") != version:
            return {}
        found: dict[str, str] = {}
        for outcome in ("delivered", "unknown"):
            hashes = set(entry.get(outcome, []))
            found |= {a: outcome for a in addresses if self._hash(a) in hashes}
        return found

    def ensure_writable(self) -> None:
        """Write the state back as it is: a read-only directory or a full disk shows up
        before anything is sent, not after."""
        self._write()

    def record(self, profile: str, page_id: str, version: str, *,
               delivered: Iterable[str] = (), unknown: Iterable[str] = ()) -> None:
        entry = self._entry(profile, page_id)
        if entry.get("version") != version:  # a new version: everybody is due again
            entry.clear()
            entry["version"] = version
        for outcome, addresses in (("delivered", delivered), ("unknown", unknown)):
            hashes = set(entry.get(outcome, [])) | {self._hash(a) for a in addresses}
            entry[outcome] = sorted(hashes)
        entry["sent_at"] = datetime.now(UTC).isoformat(timespec="seconds")
        self._data.setdefault("pages", {}).setdefault(profile, {})[page_id] = entry
        self._write()

    def _entry(self, profile: str, page_id: str) -> dict[str, Any]:
        entry = self._data.get("pages", {}).get(profile, {}).get(page_id, {})
        return dict(entry) if isinstance(entry, dict) else {}

    def _legacy_sent(self, profile: str, page_id: str, addresses: list[str]) -> str | None:
        """Format 1 kept one version per exact recipient set."""
        entry = (self._data.get("sent", {}).get(profile, {}).get(page_id, {})
                 .get(recipients_hash(addresses)))
        return str(entry["version"]) if isinstance(entry, dict) and "version" in entry else None

    def _hash(self, address: str) -> str:
        salt = self._data.setdefault("salt", secrets.token_hex(16))
        return hashlib.sha256(f"{salt}\n{address.lower()}".encode()).hexdigest()[:32]

    def _read(self) -> dict[str, Any]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as exc:
            raise self._error("read", exc) from exc
        if not _well_formed(data):
            raise StateError(f"The state file {self.path} is not in mailpage's format",
                             "Move it away; the next --if-changed run sends to everyone again.")
        return dict(data)

    def _write(self) -> None:
        self._data["format"] = FORMAT
        try:
            write_private(self.path, json.dumps(self._data, indent=1, sort_keys=True).encode())
        except OSError as exc:
            raise self._error("write", exc) from exc

    def _error(self, doing: str, exc: OSError | ValueError) -> StateError:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        return StateError(
            f"Cannot {doing} the --if-changed state {self.path} ({reason})",
            "Free space or fix the permissions there, or point MAILPAGE_STATE_DIR elsewhere.",
        )


def _well_formed(data: object) -> bool:
    """Mappings where mappings belong: a hand-edited file must not fail half-way."""
    if not isinstance(data, dict):
        return False
    for key in ("sent", "pages"):
        profiles = data.get(key, {})
        if not isinstance(profiles, dict) or not all(
                isinstance(pages, dict) and all(isinstance(e, dict) for e in pages.values())
                for pages in profiles.values()):
            return False
    return all(isinstance(entry.get(outcome, []), list)
               for pages in data.get("pages", {}).values() for entry in pages.values()
               for outcome in ("delivered", "unknown"))
