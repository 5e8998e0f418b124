"""Strict tools run with the tests: ruff, mypy (strict on the package), import-linter."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.conftest import EXAMPLE, ROOT


@pytest.mark.parametrize(
    "command",
    [
        [sys.executable, "-m", "ruff", "check", "mailpage_cli", "tests", "benchmarks"],
        [sys.executable, "-m", "mypy"],
        ["lint-imports"],
    ],
    ids=["ruff", "mypy", "import-linter"],
)
def test_tool_passes(command: list[str]) -> None:
    if command[0] == "lint-imports":  # beside this interpreter, not necessarily on PATH
        command = [str(Path(sys.executable).parent / "lint-imports")]
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=600,
                            check=False)
    assert result.returncode == 0, result.stdout + result.stderr


def test_help_imports_no_heavy_library() -> None:
    """`mailpage --help` must start fast: rendering, HTTP and keyring libraries load later."""
    code = (
        "import sys, runpy; sys.argv = ['mailpage', '--help']\n"
        "try:\n    runpy.run_module('mailpage_cli', run_name='__main__')\n"
        "except SystemExit:\n    pass\n"
        "heavy = ['atlassian', 'requests', 'css_inline', 'nh3', 'markdownify', 'keyring', 'bs4',"
        " 'PIL', 'mailpage_cli.render', 'mailpage_cli.pipeline']\n"
        "print('HEAVY=' + ','.join(m for m in heavy if m in sys.modules))"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                            text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "HEAVY="


def test_a_send_without_oauth2_loads_no_oauth_library(tmp_path: Path) -> None:
    """msal and google-auth cost start-up time: only an OAuth2 sign-in loads them."""
    code = (
        "import sys, runpy\n"
        f"sys.argv = ['mailpage', 'send', {str(EXAMPLE)!r}, '--to', 'a@example.com',"
        " '--save', '-']\n"
        "try:\n    runpy.run_module('mailpage_cli', run_name='__main__')\n"
        "except SystemExit:\n    pass\n"
        "heavy = ['msal', 'google.auth', 'google.oauth2', 'google_auth_oauthlib', 'jwt']\n"
        "print('HEAVY=' + ','.join(m for m in heavy if m in sys.modules), file=sys.stderr)"
    )
    env = {**os.environ, "MAILPAGE_SENDER_ADDRESS": "ann@example.com",
           "MAILPAGE_CONFIG": str(tmp_path / "none.toml")}
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                            text=True, timeout=60, check=False, env=env)
    assert result.stdout.startswith("From: "), result.stderr
    assert result.stderr.strip().splitlines()[-1] == "HEAVY="


def test_wheel_holds_every_module(tmp_path: Path) -> None:
    """`pip install .` (the README's first command) installs all of the package, subpackages
    included: the editable install the tests run from would not notice one left out."""
    source = tmp_path / "source"  # a copy: no build/ left over from earlier builds
    shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(
        ".*", "build", "dist", "*.egg-info", "__pycache__", "tests", "docs", "examples"))
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w",
                    str(tmp_path), str(source)], check=True, capture_output=True, timeout=600)
    (wheel,) = tmp_path.glob("mailpage-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        packed = {name for name in archive.namelist() if name.endswith(".py")}
    modules = {path.relative_to(ROOT).as_posix()
               for path in (ROOT / "mailpage_cli").rglob("*.py")}
    assert modules <= packed, sorted(modules - packed)
