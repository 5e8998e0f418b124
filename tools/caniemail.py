"""Regenerate mailpage_cli/data/caniemail.json from Can I email's data (MIT licence).

    npm pack caniemail && tar xzf caniemail-*.tgz
    python tools/caniemail.py package/data/caniemail.json

Keeps, for each CSS property, what the newest test says of classic Outlook on Windows and of
Gmail's webmail: ``y`` supported, ``a`` partly, ``n`` ignored, ``u`` unknown.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

OUT = Path(__file__).resolve().parent.parent / "mailpage_cli" / "data" / "caniemail.json"
CLIENTS = {"outlook": ("outlook", "windows"), "gmail": ("gmail", "desktop-webmail")}
SKIP = ("at-", "pseudo-", "selector-", "unit-", "function-", "sytem-", "modern-", "nesting",
        "important", "inert-", "intrinsic-", "rgb", "hsl")


def newest(stats: dict[str, dict[str, dict[str, str]]], client: str, platform: str) -> str:
    versions = stats.get(client, {}).get(platform, {})
    return list(versions.values())[-1].split()[0] if versions else "u"


def main(source: str) -> None:
    data = json.loads(Path(source).read_text())
    features = {}
    for feature in data["data"]:
        slug = feature["slug"]
        if feature.get("category") != "css" or slug.removeprefix("css-").startswith(SKIP):
            continue
        features[slug.removeprefix("css-")] = {
            name: newest(feature["stats"], *where) for name, where in CLIENTS.items()}
    OUT.write_text(json.dumps({
        "source": "Can I email (https://www.caniemail.com), MIT licence; see"
                  " caniemail.LICENSE", "last_update_date": data.get("last_update_date"),
        "features": dict(sorted(features.items()))}, indent=0, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main(sys.argv[1])
