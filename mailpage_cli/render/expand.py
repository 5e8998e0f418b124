"""Expand macros, which need JavaScript to open, are shown open under their title."""

from __future__ import annotations

from mailpage_cli.render.boxes import box
from mailpage_cli.render.tree import Element, move_children, remove, replace, text_of, with_class


def render(root: Element) -> None:
    for container in reversed(with_class(root, "expand-container")):  # innermost first
        controls = with_class(container, "expand-control", axis="child")
        labels = with_class(controls[0], "expand-control-text") if controls else []
        title = text_of(labels[0]) if labels else ""
        for control in controls:
            remove(control)
        content = with_class(container, "expand-content", axis="child")
        marked = box("expand", f"▾ {title or 'Details'}")
        move_children(content[0] if content else container, marked)
        replace(container, marked)
