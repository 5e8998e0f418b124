"""Recipient specs: addresses, lists, files, deduplication."""

from __future__ import annotations

from pathlib import Path

import pytest

from mailpage_cli import recipients
from mailpage_cli.errors import ConfigError, UsageError
from mailpage_cli.models import Recipients
from mailpage_cli.recipients import ADDRESS_FORMS, parse_address, split_list


def resolve(*specs: list[str], stdin: str = "") -> Recipients:
    """To, Cc and Bcc specs resolved, ``file:-`` reading ``stdin``."""
    return recipients.resolve(*specs, read_stdin=lambda: stdin)


def test_lists_split_on_commas_outside_quotes_and_brackets() -> None:
    assert split_list('a@x.com, "Doe, Jane" <jane@x.com>,, b@x.com') == [
        "a@x.com", '"Doe, Jane" <jane@x.com>', "b@x.com"]


def test_named_addresses_keep_the_name_and_lowercase_the_domain() -> None:
    recipient = parse_address('"Doe, Jane" <Jane.Doe@Example.COM>')
    assert (recipient.name, recipient.address) == ("Doe, Jane", "Jane.Doe@example.com")


@pytest.mark.parametrize(("spec", "name"), [
    ('"A <x@y.example>" <z@example.com>', "A <x@y.example>"),  # RFC 5322: quoted, not an address
    ('"Say \\"hi\\"" <z@example.com>', 'Say "hi"'),
    ('Ann "the boss" Lee <z@example.com>', "Ann the boss Lee"),
])
def test_a_quoted_name_may_hold_brackets_and_escaped_quotes(spec: str, name: str) -> None:
    recipient = parse_address(spec)
    assert (recipient.name, recipient.address) == (name, "z@example.com")


def test_international_domains_become_punycode() -> None:
    assert parse_address("joerg@bücher.example").address == "joerg@xn--bcher-kva.example"


@pytest.mark.parametrize("spec", ["jörg@example.com", "a@b..c", "<>", "@example.com",
                                  "a@example.com\r\nBcc: x@evil.com", "a@-x.com"])
def test_invalid_or_injected_addresses_are_refused(spec: str) -> None:
    with pytest.raises(UsageError):
        parse_address(spec)


def test_control_characters_in_names_never_survive() -> None:
    recipient = parse_address("Evil\r\nBcc: x@evil.com <a@example.com>")
    assert "\n" not in recipient.name and "\r" not in recipient.name
    assert recipient.address == "a@example.com"


def test_duplicates_are_removed_to_beats_cc_beats_bcc() -> None:
    found = resolve(["a@example.com", "B@example.com"], ["b@example.com", "c@example.com"],
                    ["A@EXAMPLE.com", "c@example.com", "d@example.com"])
    assert [r.address for r in found.to] == ["a@example.com", "B@example.com"]
    assert [r.address for r in found.cc] == ["c@example.com"]
    assert [r.address for r in found.bcc] == ["d@example.com"]


def test_file_lists_skip_comments_and_blank_lines(tmp_path: Path) -> None:
    listing = tmp_path / "team.txt"
    listing.write_text("# the team\nann@example.com\n\nBob <bob@example.com>, cy@example.com\n")
    found = resolve([f"file:{listing}", "dee@example.com"])
    assert [r.address for r in found.to] == [
        "ann@example.com", "bob@example.com", "cy@example.com", "dee@example.com"]
    assert found.to[0].source == f"file:{listing}"


def test_a_list_on_stdin_comes_from_the_runs_stdin() -> None:
    found = resolve(["file:-"], stdin="# the team\nann@example.com\nbob@example.com\n")
    assert [r.address for r in found.to] == ["ann@example.com", "bob@example.com"]
    assert found.to[0].source == "file:-"


def test_file_lists_cannot_nest_or_be_missing(tmp_path: Path) -> None:
    listing = tmp_path / "team.txt"
    listing.write_text(f"file:{listing}\n")
    with pytest.raises(UsageError, match="names another list"):
        resolve([f"file:{listing}"])
    with pytest.raises(UsageError, match="Cannot read"):
        resolve([f"file:{tmp_path / 'missing.txt'}"])


@pytest.mark.parametrize("spec", ["me", "user:ann", "group:team", "watchers", "ME"])
def test_confluence_specs_need_a_resolver(spec: str) -> None:
    with pytest.raises(ConfigError, match="needs a Confluence site"):
        resolve([spec])


def test_a_local_part_may_be_64_characters_but_no_more() -> None:
    """RFC 5321 4.5.3.1.1: servers may refuse anything longer."""
    assert parse_address("a" * 64 + "@example.com").address == "a" * 64 + "@example.com"
    with pytest.raises(UsageError):
        parse_address("a" * 65 + "@example.com")


@pytest.mark.parametrize("text", ["", "# only a comment\n\n   \n"])
def test_an_empty_file_list_is_named_not_taken_for_no_recipients(
    tmp_path: Path, text: str,
) -> None:
    listing = tmp_path / "empty.txt"
    listing.write_text(text)
    with pytest.raises(UsageError) as raised:
        resolve([f"file:{listing}", "ann@example.com"])
    assert raised.value.message == f"file:{listing} lists no recipients"


def test_a_bad_line_of_a_file_list_is_named_by_file_and_line(tmp_path: Path) -> None:
    listing = tmp_path / "team.txt"
    listing.write_text("# the team\nann@example.com\nnot-an-address\n")
    with pytest.raises(UsageError) as raised:
        resolve([f"file:{listing}"])
    assert raised.value.message == (
        f"{listing}:3: 'not-an-address' is not a valid e-mail address or recipient")


def test_a_non_ascii_local_part_is_explained() -> None:
    with pytest.raises(UsageError, match="the part before the @ must be ASCII") as raised:
        parse_address("bücher@例え.jp")
    assert "domain may be international" in raised.value.fix
    assert parse_address("buecher@例え.jp").address == "buecher@xn--r8jz45g.jp"


def test_a_domain_without_a_dot_is_taken_for_a_typo_but_localhost_is_not() -> None:
    with pytest.raises(UsageError, match=r"no dot in its domain \(example\)") as raised:
        parse_address("bob@example")
    assert "bob@example.com" in raised.value.fix
    assert parse_address("root@localhost").address == "root@localhost"
    assert parse_address("bob@intranet", dotless=True).address == "bob@intranet"


def test_a_sender_address_error_names_only_the_forms_it_allows() -> None:
    with pytest.raises(UsageError) as raised:
        parse_address("not-an-address", forms=ADDRESS_FORMS)
    assert raised.value.message == "'not-an-address' is not a valid e-mail address"
    assert "file:" not in raised.value.fix and "group:" not in raised.value.fix
