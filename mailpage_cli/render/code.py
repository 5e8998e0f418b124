"""Code blocks: monospace, whitespace kept, long lines wrapping, the title on top."""

from __future__ import annotations

from bs4 import BeautifulSoup, Tag

from mailpage_cli.render.boxes import box


def _language(pre: Tag) -> str:
    params = str(pre.get("data-syntaxhighlighter-params") or "")
    for part in params.split(";"):
        key, _, value = part.partition(":")
        if key.strip() == "brush" and value.strip() not in ("", "none", "text"):
            return value.strip()
    return ""


def render(soup: BeautifulSoup) -> None:
    for macro in soup.find_all("div", attrs={"data-macro-name": ["code", "noformat"]}):
        pre = macro.find("pre")
        if pre is None:
            continue
        title_tag = macro.select_one(".code-title, .codeHeader")
        marked = box(soup, "code")
        if title_tag is not None and (title := " ".join(title_tag.get_text(" ").split())):
            heading = soup.new_tag("p", attrs={"class": "mp-code-title"})
            strong = soup.new_tag("strong")
            strong.string = title
            heading.append(strong)
            marked.append(heading)
        clean = soup.new_tag("pre")
        if language := _language(pre):
            clean["data-language"] = language  # the text alternative's code fence says it
        clean.string = pre.get_text()
        marked.append(clean)
        macro.replace_with(marked)
