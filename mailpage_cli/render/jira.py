"""Jira issue macros -> the key as a link and the summary; Jira's icons (another host) go."""

from __future__ import annotations

from bs4 import BeautifulSoup


def render(soup: BeautifulSoup) -> None:
    for issue in soup.select(".confluence-jim-macro, .jira-issue"):
        for img in issue.find_all("img"):
            img.decompose()
        issue["class"] = "mp-jira"
        key = str(issue.get("data-jira-key") or "")
        link = issue.find("a")
        if link is None and key:
            issue.insert(0, key)
