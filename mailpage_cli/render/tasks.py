"""Task lists -> ☑ done / ☐ open items."""

from __future__ import annotations

from bs4 import BeautifulSoup

DONE, OPEN = "☑", "☐"


def render(soup: BeautifulSoup) -> None:
    for task_list in soup.select("ul.inline-task-list"):
        task_list["class"] = "mp-tasks"
        for item in task_list.find_all("li", recursive=False):
            done = "checked" in (item.get("class") or [])
            box = soup.new_tag("span", attrs={"class": "mp-task-box"})
            box.string = f"{DONE if done else OPEN}\u00a0"
            item.insert(0, box)
            del item["class"]
