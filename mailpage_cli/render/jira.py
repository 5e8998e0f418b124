"""Jira issue macros -> the key as a link and the summary; Jira's icons (another host) go."""

from __future__ import annotations

from mailpage_cli.render.tree import Element, classes, remove

_ISSUE = {"confluence-jim-macro", "jira-issue"}


def render(root: Element) -> None:
    issues = [e for e in root.iter("span", "div") if _ISSUE.intersection(classes(e))]
    for issue in issues:
        for img in list(issue.iter("img")):
            remove(img)
        issue.set("class", "mp-jira")
        key = str(issue.get("data-jira-key") or "")
        if key and next(issue.iter("a"), None) is None:
            issue.text = key + (issue.text or "")
