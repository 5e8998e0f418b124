"""A layout judge: what of a rendered mail is wider than the mail column, in headless Chromium.

It runs Chromium the way :mod:`tests.support.judges` does (offline, no remote fetch, light
scheme) and measures the page after load: whether the document scrolls sideways, which
tables end right of the column's content box, and which scroll wrappers have to scroll.
"""

from __future__ import annotations

import json
import re
import tempfile
from dataclasses import dataclass
from html import unescape
from pathlib import Path

from tests.support import judges

_MARK = "MAILPAGE-LAYOUT:"
_PROBE = (
    "<script>addEventListener('load', () => {"
    " const main = document.querySelector('.mp-main') || document.body;"
    " const box = main.getBoundingClientRect(), style = getComputedStyle(main);"
    " const right = box.right - parseFloat(style.paddingRight) + 0.5;"
    " const name = (e) => (e.textContent || '').trim().replace(/\\s+/g, ' ').slice(0, 60);"
    " document.title = " + json.dumps(_MARK) + " + JSON.stringify({"
    "  column: Math.round(right - box.left - parseFloat(style.paddingLeft)),"
    "  page: document.documentElement.scrollWidth, window: innerWidth,"
    "  tables: [...document.querySelectorAll('.mp-page table')]"
    "   .filter((t) => t.getBoundingClientRect().right > right)"
    "   .map((t) => Math.round(t.getBoundingClientRect().width) + 'px: ' + name(t)),"
    "  scrolled: [...document.querySelectorAll('.mp-page *')]"
    "   .filter((e) => ['auto', 'scroll'].includes(getComputedStyle(e).overflowX)"
    "    && e.scrollWidth > e.clientWidth + 1).map(name)});"
    "});</script>"
)
_TITLE = re.compile(r"<title>" + re.escape(_MARK) + r"(.*?)</title>", re.DOTALL)


@dataclass(frozen=True)
class Layout:
    """How a mail lays out in a window ``window`` pixels wide."""

    window: int
    page: int  # the document's scroll width: more than ``window`` scrolls sideways
    column: int  # the width of the mail column's content box
    tables: list[str]  # the tables (width: first words) that end right of the column
    scrolled: list[str]  # scroll wrappers whose content is wider than they are

    @property
    def fits(self) -> bool:
        return self.page <= self.window and not self.tables and not self.scrolled


def layout(html: str, width: int = 760) -> Layout:
    """Lay the mail ``html`` out in a window ``width`` pixels wide and measure it."""
    program = judges.require_judge("chromium")
    head = re.search(r"<head\b[^>]*>", html, re.IGNORECASE)
    page_html = html[: head.end()] + _PROBE + html[head.end():] if head else _PROBE + html
    with tempfile.TemporaryDirectory(prefix="judge-layout-", ignore_cleanup_errors=True) as tmp:
        page = Path(tmp) / "page.html"
        page.write_text(page_html, encoding="utf-8")
        argv = [program, *judges.CHROMIUM_FLAGS, *judges.LIGHT_FLAGS,
                f"--user-data-dir={tempfile.mkdtemp(prefix='profile-', dir=tmp)}",
                f"--window-size={width},600", "--dump-dom", page.as_uri()]
        # The judges' own runner: offline, in a process group killed on timeout.
        result = judges._run(argv, env=judges._base_env(tmp),
                             timeout=judges.CHROMIUM_TIMEOUT, cwd=tmp)
    dom = result.stdout.decode("utf-8", "replace")
    match = _TITLE.search(dom)
    if match is None:
        raise RuntimeError(f"chromium exited {result.returncode} with no layout:\n"
                           f"{result.stderr.decode('utf-8', 'replace')[-3000:]}")
    found = json.loads(unescape(match.group(1)))
    return Layout(window=int(found["window"]), page=int(found["page"]),
                  column=int(found["column"]), tables=list(found["tables"]),
                  scrolled=list(found["scrolled"]))
