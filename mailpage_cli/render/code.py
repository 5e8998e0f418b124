"""Code blocks: monospace, whitespace kept, long lines wrapping, the title on top."""

from __future__ import annotations

from mailpage_cli.render.boxes import box
from mailpage_cli.render.tree import Element, find, new, replace, text_content, text_of


def _language(pre: Element) -> str:
    params = str(pre.get("data-syntaxhighlighter-params") or "")
    for part in params.split(";"):
        key, _, value = part.partition(":")
        if key.strip() == "brush" and value.strip() not in ("", "none", "text"):
            return value.strip()
    return ""


def render(root: Element) -> None:
    for macro in find(root, "descendant::div[@data-macro-name='code' or"
                            " @data-macro-name='noformat']"):
        pres = find(macro, "descendant::pre")
        if not pres:
            continue
        titles = find(macro, "descendant::*[contains(@class, 'code-title') or"
                             " contains(@class, 'codeHeader')]")
        marked = box("code")
        if titles and (title := text_of(titles[0])):
            heading = new("p", **{"class": "mp-code-title"})
            heading.append(new("strong", title))
            marked.append(heading)
        clean = new("pre", text_content(pres[0]))
        if language := _language(pres[0]):
            clean.set("data-language", language)  # the text alternative's fence says it
        marked.append(clean)
        replace(macro, marked)
