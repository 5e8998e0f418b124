"""The mail stylesheet: Confluence's look in colours that survive dark mode.

Every rule that sets a text colour sets the background under it too (and the other way
round), so that a client that darkens the mail cannot leave dark text on a dark background.
The ``@media (prefers-color-scheme: dark)`` rules stay in a ``<style>`` element for the
clients that honour them (Apple Mail, iOS, some webmails); the rest are inlined.
"""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class Colours:
    """A background, the text on it, and a border or accent."""

    background: str
    text: str
    accent: str


# A colour value a page may carry (panel backgrounds, cell highlights), safe to copy.
COLOUR = re.compile(r"#[0-9a-fA-F]{3,8}|rgba?\([\d\s.,%]+\)")
PAGE = Colours("#ffffff", "#172b4d", "#dfe1e6")
MUTED_TEXT = "#5e6c84"
LINK = "#0052cc"
CODE = Colours("#f4f5f7", "#172b4d", "#dfe1e6")
HEADER_CELL = Colours("#f4f5f7", "#172b4d", "#c1c7d0")
# A blockquote's left rule: inlined, border and padding on the element itself are what Word
# (Outlook) draws as a paragraph border and what Gmail keeps.
QUOTE_RULE = "#c1c7d0"
PANELS = {
    "info": Colours("#deebff", "#172b4d", "#0052cc"),
    "note": Colours("#fffae6", "#172b4d", "#ff991f"),
    "warning": Colours("#ffebe6", "#172b4d", "#de350b"),
    "tip": Colours("#e3fcef", "#172b4d", "#00875a"),
    "panel": Colours("#f4f5f7", "#172b4d", "#c1c7d0"),
    "expand": Colours("#ffffff", "#172b4d", "#dfe1e6"),
    "placeholder": Colours("#f4f5f7", "#5e6c84", "#c1c7d0"),
    "message": Colours("#f4f5f7", "#172b4d", "#0052cc"),
}
LOZENGES = {  # aui-lozenge modifiers
    "": Colours("#dfe1e6", "#42526e", "#dfe1e6"),
    "success": Colours("#e3fcef", "#006644", "#e3fcef"),
    "current": Colours("#fff0b3", "#172b4d", "#fff0b3"),
    "error": Colours("#ffebe6", "#bf2600", "#ffebe6"),
    "complete": Colours("#deebff", "#0747a6", "#deebff"),
    "moved": Colours("#eae6ff", "#403294", "#eae6ff"),
}
DARK = {
    "page": Colours("#1d2125", "#c7d1db", "#38414a"),
    "link": Colours("#1d2125", "#579dff", "#579dff"),
    "code": Colours("#161a1d", "#c7d1db", "#38414a"),
    "header-cell": Colours("#2c333a", "#c7d1db", "#454f59"),
    "info": Colours("#092957", "#c7d1db", "#579dff"),
    "note": Colours("#533f04", "#f5f5f5", "#f5cd47"),
    "warning": Colours("#5d1f1a", "#f5f5f5", "#f87168"),
    "tip": Colours("#164b35", "#f5f5f5", "#4bce97"),
    "panel": Colours("#22272b", "#c7d1db", "#454f59"),
    "expand": Colours("#1d2125", "#c7d1db", "#38414a"),
    "placeholder": Colours("#22272b", "#9fadbc", "#454f59"),
    "message": Colours("#22272b", "#c7d1db", "#579dff"),
}
FONT = "-apple-system, 'Segoe UI', Roboto, Helvetica, Arial, sans-serif"
MONO = "Consolas, 'SFMono-Regular', 'Liberation Mono', Menlo, monospace"


def _panel_rules() -> str:
    return "\n".join(
        f"td.mp-box-{name} {{ background-color: {c.background}; color: {c.text};"
        f" border-left: 4px solid {c.accent}; }}"
        for name, c in PANELS.items()
    )


def _lozenge_rules() -> str:
    return "\n".join(
        f".mp-lozenge-{name or 'default'} {{ background-color: {c.background}; color: {c.text}; }}"
        f"\n.mp-lozenge-{name or 'default'}.mp-subtle {{ background-color: {PAGE.background};"
        f" color: {c.text}; border: 1px solid {c.accent}; }}"
        for name, c in LOZENGES.items()
    )


def _dark_rules() -> str:
    d = DARK
    boxes = "\n".join(
        f"  table td.mp-box-{name} {{ background-color: {d[name].background} !important;"
        f" color: {d[name].text} !important; border-color: {d[name].accent} !important; }}"
        for name in PANELS
    )
    return f"""@media (prefers-color-scheme: dark) {{
  body, .mp-frame, .mp-main, .mp-page, .mp-page td {{
    background-color: {d['page'].background} !important; color: {d['page'].text} !important; }}
  .mp-page th, .mp-page .mp-th {{ background-color: {d['header-cell'].background} !important;
    color: {d['header-cell'].text} !important; }}
  .mp-page th, .mp-page td {{ border-color: {d['page'].accent} !important; }}
  blockquote {{ border-left-color: {d['panel'].accent} !important; }}
  a {{ color: {d['link'].text} !important; }}
  .mp-meta, .mp-footer {{ color: #9fadbc !important; }}
  .mp-mention {{ background-color: #2c333a !important; color: {d['link'].text} !important; }}
  .mp-code, .mp-code pre, .mp-code-title, code {{
    background-color: {d['code'].background} !important; color: {d['code'].text} !important; }}
{boxes}
}}"""


MAIL_CSS = f"""
body {{ margin: 0; padding: 0; background-color: {PAGE.background}; color: {PAGE.text};
  font-family: {FONT}; font-size: 14px; line-height: 1.5; }}
.mp-frame {{ width: 100%; background-color: {PAGE.background}; color: {PAGE.text}; }}
.mp-main {{ max-width: 760px; padding: 16px 20px; background-color: {PAGE.background};
  color: {PAGE.text}; font-family: {FONT}; font-size: 14px; line-height: 1.5; }}
.mp-title {{ font-size: 24px; line-height: 1.25; margin: 0 0 4px 0; }}
.mp-meta {{ font-size: 12px; color: {MUTED_TEXT}; margin: 0 0 12px 0; }}
.mp-view {{ margin: 0 0 16px 0; }}
.mp-view a {{ font-weight: bold; }}
.mp-page {{ border-top: 1px solid {PAGE.accent}; padding-top: 12px; }}
.mp-footer {{ border-top: 1px solid {PAGE.accent}; margin-top: 24px; padding-top: 8px;
  font-size: 12px; color: {MUTED_TEXT}; }}
a {{ color: {LINK}; }}
h1 {{ font-size: 22px; }} h2 {{ font-size: 19px; }} h3 {{ font-size: 16px; }}
h1, h2, h3, h4, h5, h6 {{ line-height: 1.3; margin: 20px 0 8px 0; }}
img {{ max-width: 100%; height: auto; border: 0; }}
.mp-page table {{ border-collapse: collapse; }}
.mp-page th, .mp-page td {{ border: 1px solid {HEADER_CELL.accent}; padding: 6px 10px;
  vertical-align: top; text-align: left; }}
.mp-page td p, .mp-page th p, .mp-page td ul, .mp-page td ol {{ margin: 2px 0; }}
.mp-page th, .mp-page .mp-th {{ background-color: {HEADER_CELL.background};
  color: {HEADER_CELL.text}; font-weight: bold; }}
td.mp-box {{ border-top: 0; border-right: 0; border-bottom: 0; padding: 8px 12px; }}
.mp-box p, .mp-box ul, .mp-box ol {{ margin: 4px 0; }}
.mp-page td.mp-code, td.mp-code {{ padding: 0; }}
.mp-wide {{ overflow-x: auto; }}
.mp-box-title {{ font-weight: bold; margin: 0 0 4px 0; }}
{_panel_rules()}
.mp-code {{ background-color: {CODE.background}; color: {CODE.text};
  border: 1px solid {CODE.accent}; padding: 0; }}
.mp-code-title {{ font-family: {FONT}; font-size: 12px; font-weight: bold; margin: 0;
  background-color: #ebecf0; color: {CODE.text}; padding: 4px 12px;
  border-bottom: 1px solid {CODE.accent}; }}
pre {{ font-family: {MONO}; font-size: 12px; line-height: 1.4; white-space: pre-wrap;
  word-wrap: break-word; overflow-wrap: anywhere; margin: 0; padding: 8px 12px;
  background-color: {CODE.background}; color: {CODE.text}; }}
code {{ font-family: {MONO}; font-size: 12px; background-color: {CODE.background};
  color: {CODE.text}; }}
pre code {{ font-size: 12px; }}
.mp-lozenge {{ font-size: 11px; font-weight: bold; text-transform: uppercase;
  padding: 1px 4px; border-radius: 3px; white-space: nowrap; }}
{_lozenge_rules()}
.mp-tasks {{ list-style-type: none; padding-left: 4px; }}
.mp-task-box {{ font-size: 16px; line-height: 1; }}
.mp-mention {{ color: {LINK}; background-color: #ebecf0; padding: 0 2px; border-radius: 3px; }}
.mp-jira a {{ font-weight: bold; }}
.mp-placeholder a {{ font-weight: bold; }}
.mp-column {{ margin: 0 0 12px 0; }}
blockquote {{ margin: 8px 0 8px 4px; padding: 0 0 0 12px; border-left: 3px solid {QUOTE_RULE}; }}
blockquote p {{ margin: 4px 0; }}
"""

DARK_CSS = _dark_rules()
