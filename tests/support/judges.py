"""Independent judges of a rendered e-mail: SpamAssassin and headless Chromium.

They are real programs, run offline, so that the tests do not grade the renderer with the
renderer's own ideas. Without the program a test skips, except under CI, where it fails:
CI is expected to install them (Debian packages ``spamassassin`` and ``chromium``).
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import pwd
import re
import shutil
import signal
import subprocess
import tempfile
import zlib
from dataclasses import dataclass, field
from email.message import EmailMessage
from html import unescape
from pathlib import Path
from urllib.parse import unquote

import pytest

PACKAGES = {"spamassassin": "spamassassin", "chromium": "chromium"}

SPAMASSASSIN_TIMEOUT = 60.0
CHROMIUM_TIMEOUT = 60.0
SCREENSHOT_MAX_HEIGHT = 16_000
# Headless Chromium 156 paints only the top (height - 87) pixels of a window under ~145 px tall.
SCREENSHOT_MIN_HEIGHT = 200


def judge_missing(name: str) -> None:
    """The judge ``name`` is not installed: fail under CI (it must be there), else skip."""
    package = PACKAGES.get(name, name)
    reason = f"{name} is not installed (Debian package {package!r}: apt-get install {package})"
    if os.environ.get("CI"):
        pytest.fail(f"{reason}; CI must install it", pytrace=False)
    pytest.skip(reason)


def require_judge(name: str) -> str:
    """The path of the judge's program ("spamassassin", "chromium"); if missing, judge_missing."""
    found = shutil.which(name)
    if found is None:
        judge_missing(name)
        raise AssertionError("unreachable")  # pytest.skip and pytest.fail raise
    return found


def _run(
    argv: list[str],
    *,
    stdin: bytes = b"",
    env: dict[str, str],
    timeout: float,
    cwd: str | None = None,
) -> subprocess.CompletedProcess[bytes]:
    """Run a program in its own process group; on timeout kill the whole group, then raise.

    Chromium starts helpers (zygote, renderer, GPU); killing only the browser would leave them.
    """
    with subprocess.Popen(
        argv,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        cwd=cwd,
        start_new_session=True,
    ) as process:
        try:
            out, err = process.communicate(stdin, timeout=timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.communicate()
            raise
        return subprocess.CompletedProcess(argv, process.returncode, out, err)


def _base_env(home: str) -> dict[str, str]:
    return {
        "PATH": os.environ.get("PATH", "/usr/local/bin:/usr/bin:/bin"),
        "HOME": home,
        "LC_ALL": "C.UTF-8",
        "TZ": "UTC",
    }


# --- SpamAssassin -------------------------------------------------------------------------


@dataclass(frozen=True)
class SpamReport:
    """SpamAssassin's verdict: the total score and the points of each rule that fired."""

    score: float
    rules: dict[str, float]
    report: str

    def __str__(self) -> str:
        fired = ", ".join(f"{name}={points:g}" for name, points in sorted(self.rules.items()))
        return f"score={self.score:g} ({fired})"


_STATUS_SCORE = re.compile(r"\bscore=(-?\d+(?:\.\d+)?)")
# "%4s %-22s %s": points right-aligned in four columns, then the rule name. Continuation lines
# of long descriptions are indented by 28 spaces and start with no number.
_REPORT_RULE = re.compile(r"^ {0,3}(-?\d+(?:\.\d+)?) ([A-Za-z0-9_]+)\b", re.MULTILINE)
_REPORT_START = "Content analysis details:"


def _unprivileged() -> tuple[list[str], int, int] | None:
    """As root: the prefix that drops to ``nobody`` and its uid/gid; otherwise ``None``."""
    if os.geteuid() != 0:
        return None
    nobody = pwd.getpwnam("nobody")
    setpriv = shutil.which("setpriv")
    if setpriv:
        prefix = [
            setpriv, f"--reuid={nobody.pw_uid}", f"--regid={nobody.pw_gid}", "--clear-groups",
        ]
    else:
        runuser = shutil.which("runuser")
        if runuser is None:
            raise RuntimeError("running as root, but neither setpriv nor runuser is available")
        prefix = [runuser, "-u", "nobody", "--"]
    return prefix, nobody.pw_uid, nobody.pw_gid


def spamassassin(message: bytes, *, timeout: float = SPAMASSASSIN_TIMEOUT) -> SpamReport:
    """Score ``message`` with ``spamassassin -L -t``: local rules only, no network, no Bayes.

    As root it runs as ``nobody`` with a private HOME (SpamAssassin writes ~/.spamassassin).
    It never runs sa-update: the rules are the ones the Debian package ships.
    """
    program = require_judge("spamassassin")
    drop = _unprivileged()
    home = tempfile.mkdtemp(prefix="judge-sa-")
    try:
        argv = [
            program, "-L", "-t",
            "--cf=use_bayes 0", "--cf=bayes_auto_learn 0", "--cf=use_auto_welcomelist 0",
        ]
        env = _base_env(home)
        if drop is not None:
            prefix, uid, gid = drop
            os.chown(home, uid, gid)
            # env: runuser would otherwise set HOME to nobody's (/nonexistent)
            argv = [*prefix, "env", f"HOME={home}", *argv]
        result = _run(argv, stdin=message, env=env, timeout=timeout, cwd=home)
    finally:
        shutil.rmtree(home, ignore_errors=True)
    output = result.stdout.decode("utf-8", "replace")
    if result.returncode != 0 or _REPORT_START not in output:
        stderr = result.stderr.decode("utf-8", "replace")
        raise RuntimeError(
            f"spamassassin exited {result.returncode} without a report:\n{stderr}\n{output[:2000]}"
        )
    return parse_spamassassin(output)


def parse_spamassassin(output: str) -> SpamReport:
    """Read ``spamassassin -t`` output: the X-Spam-Status score, the report's rule table."""
    head = re.split(r"\r?\n\r?\n", output, maxsplit=1)[0]
    unfolded = re.sub(r"\r?\n[ \t]+", " ", head)
    status = next(
        (line for line in unfolded.splitlines() if line.lower().startswith("x-spam-status:")),
        None,
    )
    match = _STATUS_SCORE.search(status or "")
    if match is None:
        raise RuntimeError(f"no score in SpamAssassin's X-Spam-Status header:\n{head}")
    report = output[output.rfind(_REPORT_START):]
    rules = {name: float(points) for points, name in _REPORT_RULE.findall(report)}
    return SpamReport(score=float(match.group(1)), rules=rules, report=report.strip())


# --- Chromium -----------------------------------------------------------------------------


@dataclass(frozen=True)
class RenderReport:
    """What headless Chromium saw: images in the page, how many decoded, the page height."""

    images_total: int
    images_loaded: int
    broken: list[str] = field(default_factory=list)
    height: int = 0
    dark: bool = False


CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",  # root has no user namespace sandbox; the page is our own document
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-extensions",
    "--disable-dev-shm-usage",  # a container's /dev/shm is small
    "--hide-scrollbars",
    "--mute-audio",
    # Nothing remote is fetched, even where the network is open (loopback too).
    "--proxy-server=127.0.0.1:9",
    "--proxy-bypass-list=<-loopback>",
]
LIGHT_FLAGS = ["--blink-settings=preferredColorScheme=1"]
DARK_FLAGS = ["--force-dark-mode", "--blink-settings=preferredColorScheme=0"]

_MARK = "MAILPAGE-JUDGE:"
# Only data: images, inline styles and this script: a cid: left unreplaced or a remote image
# shows up as broken instead of being fetched.
_CSP = (
    "default-src 'none'; img-src data:; style-src 'unsafe-inline' data:; font-src data:; "
    "script-src 'unsafe-inline'"
)
_PROBE = (
    f'<meta http-equiv="Content-Security-Policy" content="{_CSP}">'
    "<script>addEventListener('load', () => {"
    " const images = [...document.images];"
    " const ok = (i) => i.complete && i.naturalWidth > 0;"
    " const root = document.documentElement, body = document.body;"
    " document.title = " + json.dumps(_MARK) + " + JSON.stringify({"
    "  total: images.length, loaded: images.filter(ok).length,"
    "  broken: images.filter((i) => !ok(i)).map((i) => (i.getAttribute('src') || ''))"
    "   .map((s) => (s.length > 200 ? s.slice(0, 200) + '...' : s)),"
    "  height: Math.ceil(Math.max(root.getBoundingClientRect().height,"
    "   body ? body.getBoundingClientRect().bottom : 0)),"
    "  dark: matchMedia('(prefers-color-scheme: dark)').matches});"
    "});</script>"
)
_TITLE = re.compile(r"<title>" + re.escape(_MARK) + r"(.*?)</title>", re.DOTALL)


def _with_probe(html: str) -> str:
    """A copy of ``html`` with the CSP and the counting script first in its <head>."""
    for tag in (r"<head\b[^>]*>", r"<html\b[^>]*>", r"<!doctype[^>]*>"):
        match = re.search(tag, html, re.IGNORECASE)
        if match:
            return html[: match.end()] + _PROBE + html[match.end():]
    return _PROBE + html


def chromium_render(
    html: str,
    png: Path | None = None,
    *,
    dark: bool = False,
    width: int = 800,
    timeout: float = CHROMIUM_TIMEOUT,
) -> RenderReport:
    """Render a standalone HTML document in headless Chromium and count its images.

    ``cid:`` references must already be ``data:`` URIs (see :func:`html_with_data_uris`).
    With ``png``, also write a screenshot of the whole page (a second run), ``width`` pixels
    wide and as tall as the page (at least 200, at most 16,000 pixels).
    With ``dark``, the page sees ``prefers-color-scheme: dark``.
    """
    program = require_judge("chromium")
    scheme = DARK_FLAGS if dark else LIGHT_FLAGS
    with tempfile.TemporaryDirectory(prefix="judge-chromium-", ignore_cleanup_errors=True) as tmp:
        page = Path(tmp) / "page.html"
        page.write_text(_with_probe(html), encoding="utf-8")
        url = page.as_uri()

        def chromium(*args: str) -> subprocess.CompletedProcess[bytes]:
            profile = tempfile.mkdtemp(prefix="profile-", dir=tmp)
            argv = [program, *CHROMIUM_FLAGS, *scheme, f"--user-data-dir={profile}", *args, url]
            return _run(argv, env=_base_env(tmp), timeout=timeout, cwd=tmp)

        result = chromium(f"--window-size={width},600", "--dump-dom")
        dom = result.stdout.decode("utf-8", "replace")
        match = _TITLE.search(dom)
        if match is None:
            stderr = result.stderr.decode("utf-8", "replace")
            raise RuntimeError(
                f"chromium exited {result.returncode} with no result from the probe:\n"
                f"{stderr[-3000:]}\n{dom[:1000]}"
            )
        found = json.loads(unescape(match.group(1)))
        report = RenderReport(
            images_total=int(found["total"]),
            images_loaded=int(found["loaded"]),
            broken=[str(src) for src in found["broken"]],
            height=int(found["height"]),
            dark=bool(found["dark"]),
        )
        if png is not None:
            height = max(SCREENSHOT_MIN_HEIGHT, min(report.height, SCREENSHOT_MAX_HEIGHT))
            shot = Path(tmp) / "screenshot.png"
            result = chromium(f"--window-size={width},{height}", f"--screenshot={shot}")
            if not shot.is_file():
                stderr = result.stderr.decode("utf-8", "replace")
                raise RuntimeError(f"chromium wrote no screenshot:\n{stderr[-3000:]}")
            png.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(shot, png)
    return report


# --- Helpers ------------------------------------------------------------------------------


def html_with_data_uris(message: EmailMessage) -> str:
    """The message's text/html part, each ``cid:X`` replaced by a data: URI of part <X>.

    A ``cid:`` with no matching part is left alone, so that the render shows it broken.
    """
    html_part = message.get_body(preferencelist=("html",))
    if html_part is None:
        raise ValueError("the message has no text/html part")
    html = html_part.get_content()
    if not isinstance(html, str):
        raise TypeError("the text/html part did not decode to text")
    parts: dict[str, str] = {}
    for part in message.walk():
        content_id = part.get("Content-ID")
        if content_id is None or part.is_multipart():
            continue
        payload = part.get_payload(decode=True)
        if not isinstance(payload, bytes):
            continue
        encoded = base64.b64encode(payload).decode("ascii")
        parts[str(content_id).strip().strip("<>")] = (
            f"data:{part.get_content_type()};base64,{encoded}"
        )

    def replace(match: re.Match[str]) -> str:
        cid = match.group(2)
        return match.group(1) + parts.get(cid, parts.get(unquote(cid), f"cid:{cid}"))

    return re.sub(r"""(["'(]\s*)cid:([^"')\s]+)""", replace, html, flags=re.IGNORECASE)


def png_size(png: Path) -> tuple[int, int]:
    """Width and height of a PNG file, from its IHDR chunk."""
    data = png.read_bytes()[:24]
    if data[:8] != b"\x89PNG\r\n\x1a\n" or data[12:16] != b"IHDR":
        raise ValueError(f"{png} is not a PNG file")
    return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")


def png_top_left(png: Path) -> tuple[int, int, int]:
    """The RGB colour of the top-left pixel of an 8-bit RGB(A) PNG (a page's background).

    Every PNG row filter predicts the first pixel of the first row as zero, so its bytes are
    the raw ones that follow the row's filter byte.
    """
    data = png.read_bytes()
    if data[:8] != b"\x89PNG\r\n\x1a\n" or data[24] != 8 or data[25] not in (2, 6):
        raise ValueError(f"{png} is not an 8-bit RGB or RGBA PNG file")
    idat, offset = b"", 8
    while offset < len(data):
        length = int.from_bytes(data[offset:offset + 4], "big")
        if data[offset + 4:offset + 8] == b"IDAT":
            idat += data[offset + 8:offset + 8 + length]
        offset += 12 + length
    red, green, blue = zlib.decompressobj().decompress(idat, 8)[1:4]
    return red, green, blue
