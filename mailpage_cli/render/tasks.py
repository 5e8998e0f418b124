"""Task lists -> ☑ done / ☐ open items."""

from __future__ import annotations

from mailpage_cli.render.tree import Element, classes, new, with_class

DONE, OPEN = "☑", "☐"


def render(root: Element) -> None:
    for task_list in with_class(root, "inline-task-list", "ul"):
        task_list.set("class", "mp-tasks")
        for item in task_list.iterchildren("li"):
            done = "checked" in classes(item)
            mark = new("span", f"{DONE if done else OPEN}\u00a0", **{"class": "mp-task-box"})
            mark.tail, item.text = item.text, None
            item.insert(0, mark)
            item.attrib.pop("class", None)
