"""Recipient specs -> validated, deduplicated addresses.

A spec is an address (``ann@example.com``, ``Ann Smith <ann@example.com>``), a list of them
separated by commas, ``file:PATH`` (one spec a line, ``-`` = stdin), or a Confluence spec
(``me``, ``user:X``, ``group:NAME``, ``watchers``) that a resolver turns into addresses.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from mailpage_cli.errors import ConfigError, NotFoundError, UsageError
from mailpage_cli.headers import clean_text
from mailpage_cli.models import Person, Recipient, Recipients
from mailpage_cli.privatefiles import check_owned
from mailpage_cli.wording import count

SPEC_HELP = (
    "addr@example.com, 'Name <addr@example.com>', me, user:X, group:NAME, watchers, file:PATH"
)
# What a sender setting may be, for parse_address(forms=...): no recipient specs there.
ADDRESS_FORMS = "addr@example.com, 'Name <addr@example.com>'"
REPLY_TO_FORMS = f"me, none, {ADDRESS_FORMS}"
CONFLUENCE_PREFIXES = ("user:", "group:")
CONFLUENCE_WORDS = ("me", "watchers")

_ATOM = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_LOCAL = re.compile(rf"{_ATOM}(?:\.{_ATOM})*")
_LABEL = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?")
# A display name may quote anything, angle brackets too: "A <x@y>" <z@example.com>.
_NAMED = re.compile(r'^(?P<name>(?:"(?:[^"\\]|\\.)*"|[^<>"])*)<(?P<address>[^<>]*)>$')

Resolver = Callable[[str], list[Recipient]]


def split_list(text: str) -> list[str]:
    """Split on commas that are not inside quotes or angle brackets."""
    items: list[str] = []
    current: list[str] = []
    quoted = angle = False
    for char in text:
        if char == '"':
            quoted = not quoted
        elif char in "<>" and not quoted:
            angle = char == "<"
        elif char == "," and not quoted and not angle:
            items.append("".join(current))
            current = []
            continue
        current.append(char)
    items.append("".join(current))
    return [item.strip() for item in items if item.strip()]


def _normalise_domain(domain: str) -> str | None:
    try:
        ascii_domain = (domain if domain.isascii() else domain.encode("idna").decode()).lower()
    except UnicodeError:
        return None
    labels = ascii_domain.split(".")
    if len(ascii_domain) > 253 or not all(_LABEL.fullmatch(label) for label in labels):
        return None
    return ascii_domain


def parse_address(spec: str, source: str = "", *, forms: str = SPEC_HELP,
                  dotless: bool = False) -> Recipient:
    """``addr`` or ``Name <addr>`` -> a validated :class:`Recipient`. ``forms`` names what
    the caller accepts (for the error); a domain without a dot (other than ``localhost``) is
    taken for a typo unless ``dotless`` (an address Confluence gave, not one typed)."""
    text = clean_text(spec)
    name, address = "", text
    if named := _NAMED.match(text):
        name = re.sub(r'\\(.)|"', r"\1", named["name"]).strip()
        address = named["address"].strip()
    local, at, domain = address.rpartition("@")
    normalised = _normalise_domain(domain) if at else None
    what = "e-mail address or recipient" if forms == SPEC_HELP else "e-mail address"
    if at and normalised and local and not local.isascii():
        raise UsageError(
            f"{spec!r} is not a valid e-mail address: the part before the @ must be ASCII",
            "Only the domain may be international (ann@例え.jp); ask for an ASCII address.",
        )
    if not (local and _LOCAL.fullmatch(local) and len(local) <= 64 and normalised):
        raise UsageError(f"{spec!r} is not a valid {what}", f"Use one of: {forms}.")
    if not dotless and "." not in normalised and normalised != "localhost":
        raise UsageError(
            f"{spec!r} has no dot in its domain ({normalised}): probably a typo",
            f"Write the whole domain, e.g. {local}@{normalised}.com.",
        )
    return Recipient(f"{local}@{normalised}", name, source or "address")


def is_confluence_spec(spec: str) -> bool:
    return spec.lower() in CONFLUENCE_WORDS or spec.lower().startswith(CONFLUENCE_PREFIXES)


def _read_list(path: str, read_stdin: Callable[[], str]) -> str:
    if path == "-":
        return read_stdin()
    try:
        return Path(path).expanduser().read_text(encoding="utf-8")
    except (OSError, ValueError) as exc:  # ValueError: a NUL in the path, or not UTF-8
        raise UsageError(
            f"Cannot read the recipient list {path!r} ({exc})",
            "Check the path after file: (one recipient a line).",
        ) from exc


def reads_stdin(specs: Iterable[str]) -> bool:
    """Whether a ``file:-`` among ``specs`` reads the recipients from stdin."""
    return any(spec.lower().startswith("file:") and spec[len("file:"):].strip() == "-"
               for raw in specs for spec in split_list(raw))


def expand(specs: Iterable[str],
           read_stdin: Callable[[], str]) -> Iterator[tuple[str, str, str]]:
    """Each single spec with the place it came from and, for a line of a ``file:`` list (read
    here; ``file:-`` with ``read_stdin``), ``FILE:LINE``."""
    for raw in specs:
        for spec in split_list(raw):
            if not spec.lower().startswith("file:"):
                yield spec, spec, ""
                continue
            path = spec[len("file:") :].strip()
            listed = False
            for number, line in enumerate(_read_list(path, read_stdin).splitlines(), start=1):
                line = line.strip()  # noqa: PLW2901 - the same line, trimmed
                for item in split_list(line) if line and not line.startswith("#") else ():
                    if item.lower().startswith("file:"):
                        raise UsageError(
                            f"The recipient list {path!r} names another list ({item})",
                            "Put the addresses in one file.",
                        )
                    listed = True
                    yield item, spec, f"{'stdin' if path == '-' else path}:{number}"
            if not listed:
                raise UsageError(f"{spec} lists no recipients",
                                 "Write one recipient a line (# starts a comment).")


def resolve_one(spec: str, source: str, resolver: Resolver | None,
                where: str = "") -> list[Recipient]:
    if not is_confluence_spec(spec):
        try:
            return [parse_address(spec, "address" if source == spec else source)]
        except UsageError as exc:
            if not where:
                raise
            raise UsageError(f"{where}: {exc.message}", exc.fix) from None
    if resolver is None:
        raise ConfigError(
            f"The recipient {spec!r} needs a Confluence site",
            "Run `mailpage config set-site URL` or set MAILPAGE_CONFLUENCE_URL.",
        )
    return resolver(spec)


def resolve(
    to: Iterable[str],
    cc: Iterable[str] = (),
    bcc: Iterable[str] = (),
    resolver: Resolver | None = None,
    *,
    read_stdin: Callable[[], str],
) -> Recipients:
    """Resolve and deduplicate, case-insensitively: To beats Cc beats Bcc."""
    seen: set[str] = set()
    lists: list[tuple[Recipient, ...]] = []
    for specs in (to, cc, bcc):
        found: list[Recipient] = []
        for spec, source, where in expand(specs, read_stdin):
            for recipient in resolve_one(spec, source, resolver, where):
                if recipient.address.lower() not in seen:
                    seen.add(recipient.address.lower())
                    found.append(recipient)
        lists.append(tuple(found))
    return Recipients(*lists)


class Directory(Protocol):
    """Where Confluence specs find people (``confluence.Client`` is one)."""

    def me(self) -> Person: ...
    def user(self, key: str) -> Person | None: ...
    def search_users(self, name: str) -> list[Person]: ...
    def group_members(self, name: str) -> list[Person]: ...
    def watchers(self, page_id: str) -> list[Person]: ...


def find_user(directory: Directory, query: str) -> Person:
    """accountId / username / userKey, else a display-name search that must find one."""
    if person := directory.user(query):
        return person
    found = directory.search_users(query)
    exact = [p for p in found if p.display_name.casefold() == query.casefold()]
    matches = exact or found
    if not matches:
        raise NotFoundError(f"No Confluence user matches {query!r}",
                            "Check the name, or give user:ACCOUNT_ID (Data Center: username).")
    if len(matches) > 1:
        listed = "; ".join(f"{p.display_name} (user:{p.key})" for p in matches[:10])
        raise NotFoundError(f"{len(matches)} Confluence users match {query!r}: {listed}",
                            "Give one of them as user:ID.")
    return directory.user(matches[0].key) or matches[0]  # search results carry no e-mail


Lookup = Callable[[Person], str | None]  # an address Confluence hides, found elsewhere


def confluence_resolver(
    directory: Directory,
    page_id: Callable[[], str | None],
    *,
    skip_unresolvable: bool = False,
    warn: Callable[[str], None] = lambda _: None,
    lookups: Sequence[tuple[str, Lookup]] = (),
    cloud: bool = True,
) -> Resolver:
    """A resolver for ``me``, ``user:``, ``group:`` and ``watchers`` (whose page id
    ``page_id()`` gives only then: it may still be loading). A user whose address Confluence
    hides is looked up in ``lookups`` (named: the address book, the directory), in order.
    ``cloud``: each user hides their own e-mail; on Data Center an administrator does."""
    ask = ("Ask them to make it visible in their Atlassian profile" if cloud else
           "Ask a Confluence administrator to show e-mail addresses (Data Center hides them"
           " for everyone: User email visibility)")

    def people(spec: str) -> list[Person]:
        kind, _, value = spec.partition(":")
        kind, value = kind.lower(), value.strip()
        if kind == "me":
            me = directory.me()
            if me.app:
                raise NotFoundError(
                    f"`me` is the service account {me.display_name}, which has no mailbox",
                    "Give the addresses (or user:, group:) to send to instead of `me`.")
            return [me]
        if kind == "user" and value:
            return [find_user(directory, value)]
        if kind == "group" and value:
            return [p for p in directory.group_members(value) if p.active and not p.app]
        if kind == "watchers":
            if (watched := page_id()) is None:
                raise UsageError("`watchers` needs a Confluence page",
                                 "Give a page on Confluence (for `recipients`: --page PAGE).")
            return [p for p in directory.watchers(watched) if p.active and not p.app]
        raise UsageError(f"{spec!r} is not a valid recipient", f"Use one of: {SPEC_HELP}.")

    def resolve(spec: str) -> list[Recipient]:
        found = []
        for person in people(spec):
            email, found_in = person.email, "confluence"
            if not email:
                for found_in, lookup in lookups:  # noqa: B007 - found_in: where it was found
                    if email := lookup(person):
                        break
            if not email:
                problem = f"{person.display_name} ({spec}) has no visible e-mail address"
                if not skip_unresolvable:
                    raise NotFoundError(
                        problem,
                        f"{ask}, add them to the address book (README: Hidden addresses),"
                        " leave them out, or pass --skip-unresolvable.",
                    )
                warn(f"{problem}; skipped")
                continue
            address = parse_address(email, dotless=True).address
            found.append(Recipient(address, clean_text(person.display_name), spec, found_in))
        return found

    return resolve


@dataclass(frozen=True)
class AddressBook:
    """Addresses Confluence hides, by accountId (Data Center: username or userKey) or by
    display name, from a file of the user's own: TOML (``"KEY" = "address"``) or CSV (``KEY,
    address`` a row). Keys match case-insensitively."""

    path: Path
    addresses: Mapping[str, str]

    def find(self, person: Person) -> str | None:
        return (self.addresses.get(person.key.casefold())
                or self.addresses.get(person.display_name.casefold()))


def load_address_book(path: Path) -> AddressBook:
    """Read and validate the address book; refused when another user could have changed it
    (it decides who gets the mail), with the file and line of every mistake."""
    try:
        with path.open("rb") as handle:
            check_owned(path, os.fstat(handle.fileno()), "address book",
                        "decides who gets your mail", "Keep it in a folder of your own.")
            text = handle.read().decode("utf-8")
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise ConfigError(f"Cannot read the address book {path} ({_why(exc)})",
                          "Check the path (confluence.address_book, MAILPAGE_ADDRESS_BOOK).",
                          ) from exc
    if path.suffix.lower() == ".csv":
        rows = _csv_rows(text)
    elif path.suffix.lower() == ".toml":
        rows = _toml_rows(text, path)
    else:
        raise ConfigError(f"The address book {path} is neither .toml nor .csv",
                          "Name it with the suffix of its format.")
    addresses: dict[str, str] = {}
    for where, key, value in rows:
        try:
            addresses[clean_text(key).casefold()] = parse_address(value).address
        except UsageError:
            raise ConfigError(f"{path}:{where}: {value!r} is not a valid e-mail address",
                              "Correct that entry.") from None
    return AddressBook(path, addresses)


def _csv_rows(text: str) -> list[tuple[str, str, str]]:
    import csv  # noqa: PLC0415 - only for a CSV address book

    rows = []
    for number, row in enumerate(csv.reader(text.splitlines()), start=1):
        cells = [cell.strip() for cell in row]
        if not any(cells) or cells[0].startswith("#"):
            continue
        if len(cells) != 2 or not all(cells):
            raise ConfigError(f"Line {number} of the address book has {count(len(cells), 'cell')}",
                              "Write one `KEY,address` a line (quote a key with a comma).")
        if number == 1 and "@" not in cells[1]:  # a header row
            continue
        rows.append((f"line {number}", cells[0], cells[1]))
    return rows


def _toml_rows(text: str, path: Path) -> list[tuple[str, str, str]]:
    import tomllib  # noqa: PLC0415 - only for a TOML address book

    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"The address book {path} is not valid TOML ({exc})",
                          'Write one `"KEY" = "address"` a line.') from exc
    rows = []
    for key, value in data.items():
        if not isinstance(value, str):
            raise ConfigError(f"{path}: the entry {key!r} is not a string",
                              'Write one `"KEY" = "address"` a line.')
        rows.append((f"key {key!r}", key, value))
    return rows


def _why(exc: Exception) -> str:
    return getattr(exc, "strerror", None) or str(exc)
