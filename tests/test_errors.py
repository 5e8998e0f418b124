"""The exception tree lives in one file, drawn in its docstring (STYLE, principle 2)."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import re

import mailpage_cli
from mailpage_cli import errors
from mailpage_cli.errors import MailpageError


def _package_modules() -> list[str]:
    return [info.name for info in pkgutil.walk_packages(mailpage_cli.__path__, "mailpage_cli.")
            if not info.name.endswith("__main__")]


def test_every_mailpage_error_is_defined_in_errors() -> None:
    elsewhere = {
        f"{cls.__module__}.{cls.__qualname__}"
        for name in _package_modules()
        for _, cls in inspect.getmembers(importlib.import_module(name), inspect.isclass)
        if issubclass(cls, MailpageError) and cls.__module__ != errors.__name__
    }
    assert elsewhere == set()


def test_every_error_is_drawn_in_the_tree_and_exported() -> None:
    drawn = set(re.findall(r"^ {4}(?:[│ ]   )*(?:[├└]── )?(\w+) ", errors.__doc__ or "", re.M))
    defined = {name for name, cls in inspect.getmembers(errors, inspect.isclass)
               if issubclass(cls, MailpageError)}
    assert drawn == defined
    assert defined <= set(errors.__all__)
