"""Files only their owner may write: written atomically with mode 0600 from the first byte,
never through a link or onto a device; locked while in use; refused when another user could
have written them (as ssh refuses its config). Used by the config file, the state, --save,
the address book and the OAuth token cache.

(``render.files`` is a different thing: a page's attachments as the mail shows them.)
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
from collections.abc import Iterator
from pathlib import Path

from mailpage_cli.errors import ConfigError

__all__ = ["NotRegularFileError", "check_owned", "exclusive_lock", "write_private"]


def check_owned(path: Path, file: os.stat_result, kind: str, why: str, elsewhere: str) -> None:
    """Refuse the ``kind`` of file at ``path`` (``file`` its fstat) when another user owns
    or can write it or its folder: it ``why``."""
    if os.name != "posix" or stat.S_ISCHR(file.st_mode):  # /dev/null: "no config file"
        return
    folder = path.parent
    for what, found, target, chmod, danger in (
        (f"The {kind} {path}", file, path, "600", f"it {why}"),
        (f"The folder {folder} of the {kind}", folder.stat(), folder, "go-w",
         f"they could replace the file, which {why}"),
    ):
        if found.st_uid not in (os.getuid(), 0):  # root could change it anyway
            raise ConfigError(
                f"{what} belongs to another user (uid {found.st_uid}); {danger}", elsewhere)
        if found.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
            import shlex  # noqa: PLC0415 - only a refusal needs it

            raise ConfigError(
                f"{what} is writable by other users (mode {stat.S_IMODE(found.st_mode):04o});"
                f" {danger}", f"Run `chmod {chmod} {shlex.quote(str(target))}`.")


class NotRegularFileError(OSError):
    """:func:`write_private` found something other than a regular file at its path."""

    def __init__(self, path: Path, kind: str) -> None:
        super().__init__(errno.EEXIST, f"{kind}, not a regular file", str(path))
        self.kind = kind


_KINDS = (  # what lstat may find instead of a regular file, as a message names it
    (stat.S_ISLNK, "a symbolic link"),
    (stat.S_ISDIR, "a directory"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISFIFO, "a named pipe (FIFO)"),
    (stat.S_ISSOCK, "a socket"),
)


def _refuse_special(path: Path) -> None:
    """Raise :class:`NotRegularFileError` unless ``path`` is absent or a regular file.

    Looked at with lstat: a link is refused, not followed. Renaming over a device node or a
    FIFO would replace it (``--save /dev/null`` as root breaks /dev/null for everyone), and
    replacing a link (``/dev/stdout``) would not do what was meant either."""
    try:
        mode = os.lstat(path).st_mode
    except FileNotFoundError:
        return
    if not stat.S_ISREG(mode):
        kind = next((name for test, name in _KINDS if test(mode)), "a special file")
        raise NotRegularFileError(path, kind)


def write_private(path: Path, data: bytes) -> None:
    """Replace the regular file ``path`` (or create it) with ``data`` atomically, readable by
    its owner only from the first byte: a new file (mkstemp makes it 0600) in the same folder,
    synced, then renamed over the old one. Anything else at ``path`` (a link, a device, a FIFO,
    a folder) raises :class:`NotRegularFileError`, an ``OSError``. The temporary file goes on
    any exception, KeyboardInterrupt and SIGTERM's included: it holds the same content."""
    import tempfile  # noqa: PLC0415 - only writers need it

    _refuse_special(path)
    fd, name = tempfile.mkstemp(dir=path.parent, prefix=".mailpage-", suffix=".tmp")
    tmp = Path(name)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())  # the rename must not outrun the data to the disk
        # Again, just before: rename replaces whatever entry is there by then, but never
        # writes through it, so what is left of the race can only replace, not redirect.
        _refuse_special(path)
        tmp.replace(path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


@contextlib.contextmanager
def exclusive_lock(path: Path) -> Iterator[None]:
    """Hold an exclusive lock on ``path`` (made, with a private folder, if missing): another
    process asking for it waits until this one is done. Raises ``OSError``."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    with path.open("a") as lock:
        try:
            import fcntl  # noqa: PLC0415 - POSIX only
        except ImportError:  # pragma: no cover - Windows: renames are atomic, overlaps unguarded
            yield
            return
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield
