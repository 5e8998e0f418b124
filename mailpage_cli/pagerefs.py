"""PAGE strings -> a page reference.

For now a PAGE is a local Confluence HTML export; ids, URLs, tiny links and ``SPACE:Title``
need a Confluence site.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from mailpage_cli.errors import ConfigError, UsageError


@dataclass(frozen=True)
class LocalFile:
    path: Path


PageRef = LocalFile


def parse(text: str) -> PageRef:
    text = text.strip()
    if not text:
        raise UsageError("PAGE is empty", "Give a page id, URL, SPACE:Title or an .html file.")
    path = Path(text).expanduser()
    if path.suffix.lower() in (".html", ".htm") or path.exists():
        if not path.is_file():
            raise UsageError(f"No such file: {text}", "Check the path of the HTML export.")
        return LocalFile(path)
    raise ConfigError(
        f"The page {text!r} is on Confluence, which needs a configured site",
        "Run `mailpage config set-site URL`, or give a local Confluence HTML export (.html).",
    )
