"""The part of Confluence's CQL the fake Confluence answers: ``space``, ``type``, ``title``,
``text``, ``lastmodified``/``created`` compared with dates or ``now("-7d")``, ``and``, ``or``,
``not``, parentheses, ``in (...)``, and ``order by``. Anything else is a 400, as on Confluence."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

_TOKEN = re.compile(
    r"""\s*(?:(?P<str>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')"""
    r"|(?P<op>!=|>=|<=|!~|[=<>~(),])|(?P<word>[\w.\-]+))"
)
_UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks", "y": "weeks"}


class CQLError(ValueError):
    pass


@dataclass
class Fields:
    """What a query can ask of one piece of content."""

    space: str
    type: str
    title: str
    text: str
    lastmodified: datetime
    created: datetime


Predicate = Callable[[Fields], bool]


def _tokens(text: str) -> list[tuple[str, str]]:
    tokens, index = [], 0
    while index < len(text):
        match = _TOKEN.match(text, index)
        if not match or match.end() == index:
            if text[index:].strip():
                raise CQLError(f"Could not parse cql : {text}")
            break
        kind = match.lastgroup or ""
        value = match.group(kind)
        if kind == "str":
            value = re.sub(r"\\(.)", r"\1", value[1:-1])
        tokens.append((kind, value))
        index = match.end()
    return tokens


def _date(value: str, function: str | None) -> datetime:
    if function == "now":
        match = re.fullmatch(r"([+-]?)(\d+)([mhdwy])", value.strip())
        if not match:
            raise CQLError(f"Bad now() argument: {value}")
        amount = int(match[2]) * (52 if match[3] == "y" else 1)
        delta = timedelta(**{_UNITS[match[3]]: amount})
        return datetime.now(UTC) + (delta if match[1] == "+" else -delta)
    try:
        parsed = datetime.fromisoformat(value.replace("/", "-"))
    except ValueError as error:
        raise CQLError(f"Bad date: {value}") from error
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


class _Parser:
    def __init__(self, text: str) -> None:
        self.tokens = _tokens(text)
        self.at = 0

    def peek(self) -> tuple[str, str] | None:
        return self.tokens[self.at] if self.at < len(self.tokens) else None

    def take(self) -> tuple[str, str]:
        token = self.peek()
        if token is None:
            raise CQLError("Unexpected end of cql")
        self.at += 1
        return token

    def word(self, *words: str) -> bool:
        token = self.peek()
        if token and token[0] == "word" and token[1].lower() in words:
            self.at += 1
            return True
        return False

    def expression(self) -> Predicate:
        left = self.conjunction()
        while self.word("or"):
            right, first = self.conjunction(), left
            left = lambda f, a=first, b=right: a(f) or b(f)  # noqa: E731
        return left

    def conjunction(self) -> Predicate:
        left = self.negation()
        while self.word("and"):
            right, first = self.negation(), left
            left = lambda f, a=first, b=right: a(f) and b(f)  # noqa: E731
        return left

    def negation(self) -> Predicate:
        if self.word("not"):
            inner = self.negation()
            return lambda f: not inner(f)
        if self.peek() == ("op", "("):
            self.take()
            inner = self.expression()
            if self.take() != ("op", ")"):
                raise CQLError("Missing )")
            return inner
        return self.clause()

    def value(self) -> tuple[str, str | None]:
        kind, value = self.take()
        if kind == "word" and self.peek() == ("op", "("):
            self.take()
            argument = "" if self.peek() == ("op", ")") else self.take()[1]
            if self.take() != ("op", ")"):
                raise CQLError("Missing )")
            return argument, value.lower()
        if kind == "op":
            raise CQLError(f"Unexpected {value}")
        return value, None

    def clause(self) -> Predicate:
        kind, field = self.take()
        name = field.lower()
        if kind != "word" or name not in ("space", "type", "title", "text", "lastmodified",
                                          "created", "space.key"):
            raise CQLError(f"Unsupported field: {field}")
        name = "space" if name == "space.key" else name
        if self.word("in"):
            if self.take() != ("op", "("):
                raise CQLError("Expected (")
            values = []
            while self.peek() != ("op", ")"):
                values.append(self.value()[0].lower())
                if self.peek() == ("op", ","):
                    self.take()
            self.take()
            return lambda f: str(getattr(f, name)).lower() in values
        kind, op = self.take()
        if kind != "op":
            raise CQLError(f"Expected an operator after {field}")
        value, function = self.value()
        if name in ("lastmodified", "created"):
            when = _date(value, function)
            compare = {">=": lambda a: a >= when, ">": lambda a: a > when,
                       "<=": lambda a: a <= when, "<": lambda a: a < when,
                       "=": lambda a: a.date() == when.date()}.get(op)
            if compare is None:
                raise CQLError(f"Unsupported operator {op} for {field}")
            return lambda f: compare(getattr(f, name))
        needle = value.lower()
        if op in ("~", "!~"):
            words = [w for w in re.split(r"\W+", needle.replace("*", "")) if w]
            def contains(f: Fields) -> bool:
                return all(w in str(getattr(f, name)).lower() for w in words)
            return contains if op == "~" else (lambda f: not contains(f))
        if op in ("=", "!="):
            return ((lambda f: str(getattr(f, name)).lower() == needle) if op == "="
                    else (lambda f: str(getattr(f, name)).lower() != needle))
        raise CQLError(f"Unsupported operator {op} for {field}")


@dataclass
class Query:
    matches: Predicate
    order: str  # a field name, "-" in front for descending


def parse(text: str) -> Query:
    parts = re.split(r"\border\s+by\b", text, maxsplit=1, flags=re.IGNORECASE)
    parser = _Parser(parts[0])
    if not parser.tokens:
        raise CQLError("Empty cql")
    predicate = parser.expression()
    if parser.peek() is not None:
        raise CQLError(f"Could not parse cql : {text}")
    order = "-lastmodified"
    if len(parts) > 1:
        words = parts[1].split()
        if not words or words[0].lower() not in ("lastmodified", "created", "title"):
            raise CQLError(f"Unsupported order by: {parts[1]}")
        descending = len(words) > 1 and words[1].lower() == "desc"
        order = ("-" if descending else "") + words[0].lower()
    return Query(predicate, order)
