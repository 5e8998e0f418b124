"""Every PAGE form resolves offline to the right reference; other hosts are refused."""

from __future__ import annotations

from pathlib import Path

import pytest

from mailpage_cli.errors import ConfigError, NotFoundError, UsageError
from mailpage_cli.pagerefs import LocalFile, PageId, PageTitle, parse, tiny_link_id
from tests.conftest import EXAMPLE

CLOUD = "https://acme.atlassian.net/wiki"
DC = "https://wiki.example.com/confluence"


@pytest.mark.parametrize(("code", "page_id"), [("t4AB", "98487"), ("ZwAB", "65639"),
                                               ("AgM", "770"), ("BQ", "5")])
def test_tiny_links_decode_offline(code: str, page_id: str) -> None:
    assert tiny_link_id(code) == page_id


@pytest.mark.parametrize(
    ("text", "site", "expected"),
    [
        ("98487", None, PageId("98487")),
        ("ENG:Release notes 2.4", None, PageTitle("ENG", "Release notes 2.4")),
        ("~ann:My page", None, PageTitle("~ann", "My page")),
        (f"{CLOUD}/spaces/ENG/pages/98487/Release+notes+2.4", CLOUD, PageId("98487")),
        (f"{CLOUD}/spaces/ENG/pages/98487", "https://acme.atlassian.net", PageId("98487")),
        (f"{CLOUD}/spaces/ENG/pages/edit-v2/98487", CLOUD, PageId("98487")),
        (f"{CLOUD}/spaces/ENG/blog/2024/01/15/98487/Launch", CLOUD, PageId("98487")),
        (f"{CLOUD}/spaces/ENG/blog/98487", CLOUD, PageId("98487")),
        (f"{CLOUD}/x/t4AB", CLOUD, PageId("98487")),
        (f"{CLOUD}/rest/api/content/98487?expand=body.view", CLOUD, PageId("98487")),
        (f"{CLOUD}/api/v2/pages/98487", CLOUD, PageId("98487")),
        (f"{DC}/display/ENG/Release+notes+2.4", DC, PageTitle("ENG", "Release notes 2.4")),
        (f"{DC}/display/ENG/Caf%C3%A9+%26+more", DC, PageTitle("ENG", "Café & more")),
        (f"{DC}/display/ENG/2024/01/15/Launch+day", DC,
         PageTitle("ENG", "Launch day", "2024-01-15")),
        (f"{DC}/pages/viewpage.action?pageId=65639", DC, PageId("65639")),
        (f"{DC}/pages/viewpage.action?spaceKey=ENG&title=Release+notes", DC,
         PageTitle("ENG", "Release notes")),
        (f"{DC}/x/ZwAB", DC, PageId("65639")),
        ("http://wiki.example.com:80/confluence/x/ZwAB", "https://wiki.example.com/confluence",
         PageId("65639")),
    ],
)
def test_page_forms(text: str, site: str | None, expected: object) -> None:
    assert parse(text, site) == expected


def test_local_files(tmp_path: Path) -> None:
    assert parse(str(EXAMPLE)) == LocalFile(EXAMPLE)
    with pytest.raises(NotFoundError, match="No such file"):
        parse(str(tmp_path / "missing.html"))


@pytest.mark.parametrize("name", ["missing.htm", "MISSING.HTML", "Missing.Htm"])
def test_a_missing_export_of_any_html_suffix_is_not_found(tmp_path: Path, name: str) -> None:
    """A typo in an export's name says "no such file" (exit 5), whatever the suffix's case."""
    with pytest.raises(NotFoundError, match="No such file") as caught:
        parse(str(tmp_path / name))
    assert caught.value.exit_code == 5


@pytest.mark.parametrize(("text", "expected"), [("0098487", "98487"), ("000", "0")])
def test_leading_zeros_of_a_page_id_are_dropped(text: str, expected: str) -> None:
    """One page, one id: the state key and the API path do not depend on how it was typed."""
    assert parse(text) == PageId(expected)


def test_a_tiny_link_that_decodes_to_zero_is_refused() -> None:
    with pytest.raises(UsageError, match="not a Confluence tiny link"):
        tiny_link_id("AAAA")


@pytest.mark.parametrize("url", [
    "https://evil.example.com/wiki/spaces/ENG/pages/1",
    "https://acme.atlassian.net.evil.com/wiki/x/t4AB",
    "https://acme.atlassian.net:8443/wiki/spaces/ENG/pages/1",
])
def test_urls_on_another_host_are_refused(url: str) -> None:
    with pytest.raises(ConfigError, match="never sends credentials") as caught:
        parse(url, CLOUD)
    assert caught.value.exit_code == 3


def test_a_url_on_another_port_names_both_ports_never_a_password() -> None:
    with pytest.raises(ConfigError) as caught:
        parse("https://ann:secret@acme.atlassian.net:8443/wiki/spaces/ENG/pages/1", CLOUD)
    assert "on acme.atlassian.net:8443, not on the configured site acme.atlassian.net;" in str(
        caught.value)
    assert "secret" not in str(caught.value)


def test_urls_need_a_site() -> None:
    with pytest.raises(ConfigError, match="set-site"):
        parse(f"{CLOUD}/x/t4AB", None)


@pytest.mark.parametrize("text", [
    "", "no page here", f"{CLOUD}/spaces/ENG/overview",
    f"{CLOUD}/pages/viewpage.action?pageId=abc",  # not an id: not taken for one
    f"{CLOUD}/pages/viewpage.action?pageId=12a",
    f"{CLOUD}/x/AAAA",  # decodes to 0, which no page has
])
def test_unrecognised_pages_are_usage_errors(text: str) -> None:
    with pytest.raises(UsageError):
        parse(text, CLOUD)
