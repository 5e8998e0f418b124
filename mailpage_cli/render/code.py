"""Code blocks: monospace, whitespace kept, long lines wrapping, the title on top. Exports
often drop the macro's name and keep only its markup (``div.code.panel`` around
``pre.syntaxhighlighter-pre``; ``div.preformatted.panel`` for noformat): those count too."""

from __future__ import annotations

from mailpage_cli.render.boxes import box
from mailpage_cli.render.tree import Element, classes, new, replace, text_content, text_of


def _language(pre: Element) -> str:
    params = str(pre.get("data-syntaxhighlighter-params") or "")
    for part in params.split(";"):
        key, _, value = part.partition(":")
        if key.strip() == "brush" and value.strip() not in ("", "none", "text"):
            return value.strip()
    return ""


def _is_code(div: Element) -> bool:
    if div.get("data-macro-name") is not None:
        return div.get("data-macro-name") in ("code", "noformat")
    names = classes(div)
    return "panel" in names and ("code" in names or "preformatted" in names)


def render(root: Element) -> None:
    macros = [div for div in root.iter("div") if _is_code(div)]
    for macro in macros:
        pre = next(macro.iter("pre"), None)
        if pre is None:
            continue
        title = next((e for e in macro.iter()
                      if {"code-title", "codeHeader"}.intersection(classes(e))), None)
        marked = box("code")
        if title is not None and (words := text_of(title)):
            heading = new("p", **{"class": "mp-code-title"})
            heading.append(new("strong", words))
            marked.append(heading)
        clean = new("pre", text_content(pre))
        if language := _language(pre):
            clean.set("data-language", language)  # the text alternative's fence says it
        marked.append(clean)
        replace(macro, marked)
