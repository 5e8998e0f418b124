"""Jira issue macros -> the key as a link and the summary; Jira's icons (another host) go.
The ``view`` format sends the macro before JavaScript fills it in: a wait icon, "Getting
issue details..." and a "STATUS" lozenge, all marked ``issue-placeholder``; only the key
stays. Runs before :mod:`status`, which would make the fake lozenge a real one."""

from __future__ import annotations

from mailpage_cli.render.tree import Element, classes, remove, text_of

_ISSUE = {"confluence-jim-macro", "jira-issue"}
_PLACEHOLDER = "issue-placeholder"
_LOADING = "Getting issue details"
_SEPARATORS = {"", "-", "–", "—"}  # noqa: RUF001 - the dashes a key and summary stand between


def _loading(issue: Element) -> bool:
    """The macro as sent before JavaScript fetched the issue."""
    return any(_PLACEHOLDER in classes(e) for e in issue.iterdescendants())


def _drop_placeholders(issue: Element) -> None:
    waiting = _loading(issue)
    for inner in list(issue.iterdescendants()):
        names = classes(inner)
        if _PLACEHOLDER in names or ("summary" in names and (
                waiting or text_of(inner).startswith(_LOADING))):
            remove(inner)
    # The " - " that stood before the summary, now before nothing.
    last = issue[-1] if len(issue) else None
    if last is not None and (last.tail or "").strip() in _SEPARATORS:
        last.tail = None


def render(root: Element) -> None:
    issues = [e for e in root.iter("span", "div") if _ISSUE.intersection(classes(e))]
    for issue in issues:
        for img in list(issue.iter("img")):
            remove(img)
        _drop_placeholders(issue)
        issue.set("class", "mp-jira")
        key = str(issue.get("data-jira-key") or "")
        if key and next(issue.iter("a"), None) is None:
            issue.text = key + (issue.text or "")
