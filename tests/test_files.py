"""The files mailpage writes (--save, preview --html, the config file, the state): regular
files only, private from the first byte, never through a link, and no temporary file left
behind, whatever stops the write."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from mailpage_cli import privatefiles
from mailpage_cli.errors import Terminated
from tests.conftest import EXAMPLE, run

SEND = ("send", str(EXAMPLE), "--to", "a@example.com")


def _no_temp_file(folder: Path) -> None:
    assert [p.name for p in folder.iterdir() if p.name.startswith(".mailpage-")] == []


def _never_write(*args: object, **kwargs: object) -> tuple[int, str]:
    """Stands in for mkstemp where a write must be refused before it begins: without the
    refusal, the test fails here instead of replacing a device node."""
    raise AssertionError("write_private began a write it should have refused")


def test_save_replaces_an_existing_file_with_a_private_one(tmp_path: Path) -> None:
    target = tmp_path / "message.eml"
    target.write_text("old")
    target.chmod(0o644)
    result = run(*SEND, "--save", str(target))
    assert result.exit_code == 0, result.stderr
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert target.read_bytes().startswith(b"From: ")
    _no_temp_file(tmp_path)


def test_save_refuses_a_symlink_and_leaves_its_target_alone(tmp_path: Path) -> None:
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me")
    victim.chmod(0o644)
    link = tmp_path / "message.eml"
    link.symlink_to(victim)
    result = run(*SEND, "--save", str(link))
    assert result.exit_code == 2
    assert f"{link} is not a regular file: it is a symbolic link" in result.stderr
    assert "--save - for stdout" in result.stderr
    assert link.is_symlink() and link.readlink() == victim
    assert victim.read_text() == "keep me"
    assert stat.S_IMODE(victim.stat().st_mode) == 0o644
    _no_temp_file(tmp_path)


def test_save_refuses_a_fifo_without_blocking_or_replacing_it(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    result = run(*SEND, "--save", str(fifo))  # opening the FIFO to write would block here
    assert result.exit_code == 2
    assert "is not a regular file: it is a named pipe (FIFO)" in result.stderr
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)
    _no_temp_file(tmp_path)


def test_save_refuses_a_directory(tmp_path: Path) -> None:
    result = run(*SEND, "--save", str(tmp_path))
    assert result.exit_code == 2
    assert "it is a directory" in result.stderr


def test_save_to_dev_null_leaves_the_device_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tempfile, "mkstemp", _never_write)
    result = run(*SEND, "--save", os.devnull)
    assert result.exit_code == 2
    assert f"{os.devnull} is not a regular file: it is a character device" in result.stderr
    assert stat.S_ISCHR(os.lstat(os.devnull).st_mode)


def test_write_private_refuses_a_link_to_a_device(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """/dev/stdout is such a link: replacing it would not write to stdout either."""
    monkeypatch.setattr(tempfile, "mkstemp", _never_write)
    link = tmp_path / "stdout"
    link.symlink_to(os.devnull)
    with pytest.raises(privatefiles.NotRegularFileError) as caught:
        privatefiles.write_private(link, b"x")
    assert caught.value.kind == "a symbolic link"
    assert isinstance(caught.value, OSError)


def test_save_into_a_read_only_folder_says_the_folder_must_be_writable() -> None:
    # The atomic rename needs the folder; root ignores folder modes, so it runs as nobody.
    folder = Path(tempfile.mkdtemp())
    target = folder / "message.eml"
    target.write_text("old")
    target.chmod(0o666)
    folder.chmod(0o555)
    as_nobody = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]
    code = ("import sys; from pathlib import Path;"
            " from mailpage_cli.pipeline import write_private_file;"
            " from mailpage_cli.errors import UsageError\n"
            "try: write_private_file(Path(sys.argv[1]), b'new')\n"
            "except UsageError as exc: print(exc)")
    try:
        done = subprocess.run([*(as_nobody if os.geteuid() == 0 else []), sys.executable, "-c",
                               code, str(target)], capture_output=True, text=True, check=True,
                              cwd=Path(__file__).parents[1])
        assert "Permission denied" in done.stdout
        assert "the folder must be writable too" in done.stdout
        assert target.read_text() == "old"
        _no_temp_file(folder)
    finally:
        folder.chmod(0o700)
        shutil.rmtree(folder)


def test_preview_html_is_private(tmp_path: Path) -> None:
    target = tmp_path / "page.html"
    result = run("preview", str(EXAMPLE), "--html", str(target))
    assert result.exit_code == 0, result.stderr
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert "Release notes 2.4" in target.read_text(encoding="utf-8")


def test_preview_html_refuses_a_symlink(tmp_path: Path) -> None:
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me")
    link = tmp_path / "page.html"
    link.symlink_to(victim)
    result = run("preview", str(EXAMPLE), "--html", str(link))
    assert result.exit_code == 2
    assert "it is a symbolic link" in result.stderr and "--html - for stdout" in result.stderr
    assert victim.read_text() == "keep me"
    assert link.is_symlink()


@pytest.mark.parametrize("stop", [KeyboardInterrupt, Terminated])
def test_an_interrupted_save_leaves_no_temporary_file(
    stop: type[BaseException], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The temporary file holds the message: Ctrl-C or SIGTERM mid-write removes it."""
    written: list[int] = []

    def interrupted(fd: int) -> None:
        written.append(os.fstat(fd).st_size)
        raise stop

    monkeypatch.setattr(os, "fsync", interrupted)
    target = tmp_path / "message.eml"
    result = run(*SEND, "--save", str(target))
    assert result.exit_code in (130, 143)
    assert written and written[0] > 1000  # it was stopped with the message on disk
    assert not target.exists()
    _no_temp_file(tmp_path)


def test_a_failed_write_leaves_the_old_file_and_no_temporary_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "config.toml"
    target.write_text("old")

    def full(fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", full)
    with pytest.raises(OSError, match="No space"):
        privatefiles.write_private(target, b"new")
    assert target.read_text() == "old"
    _no_temp_file(tmp_path)


def test_config_commands_refuse_a_symlinked_config_file(
    config_file: Path, tmp_path: Path
) -> None:
    real = tmp_path / "dotfiles" / "mailpage.toml"
    real.parent.mkdir()
    real.write_text('[profiles.default.sender]\nname = "Ann"\n')
    real.chmod(0o600)
    config_file.parent.mkdir(parents=True)
    config_file.symlink_to(real)
    result = run("config", "set-sender", "--name", "Bob")
    assert result.exit_code == 3
    assert "it is a symbolic link" in result.stderr and "MAILPAGE_CONFIG" in result.stderr
    assert config_file.is_symlink() and "Ann" in real.read_text()
    result = run("config", "set-sender", "--name", "Bob", env={"MAILPAGE_CONFIG": str(real)})
    assert result.exit_code == 0, result.stderr
    assert "Bob" in real.read_text()
