"""A hostile or broken Confluence, over real HTTP: answers of the wrong shape, too large, too
slow, cut short, looping or redirected, and errors that echo the credentials. Each ends in a
clear error that names Confluence (or leaves an image out with a warning), never in a "bug",
a hang, unbounded memory, or a secret on the screen. Retries run on a fake clock."""

from __future__ import annotations

import base64
import copy
import json
import time
import tracemalloc
import zlib
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from mailpage_cli import confluence as confluence_module
from mailpage_cli import downloads
from tests.conftest import run, set_env
from tests.support.clock import FakeClock
from tests.support.confluence_server import (
    JSON_TYPE,
    Attachment,
    FakeConfluence,
    Fault,
    Page,
    Site,
    User,
    space_id,
)

ME = User("Ann Example", "ann@example.com")
TEAM = [User(f"Member {n}", f"member{n}@example.com") for n in range(3)]
CONTENT = "/api/v2/pages/98487"  # Cloud reads pages and attachments through REST v2
ATTACHMENTS = CONTENT + "/attachments"
SPACE = "/api/v2/spaces/"
V1_CONTENT = "/rest/api/content/98487"  # Data Center, and Cloud's watchers
IMAGE = "/download/attachments/98487/chart.png"
PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 64


@pytest.fixture
def site(monkeypatch: pytest.MonkeyPatch, clock: FakeClock) -> Iterator[FakeConfluence]:
    page = Page("98487", "Release notes", export_view=None,
                view='<p>Ships Tuesday.</p><p><img src="/wiki/download/attachments/98487/'
                     'chart.png"></p>',
                attachments=[Attachment("chart.png", "image/png", PNG),
                             Attachment("notes.txt", "text/plain", b"notes")],
                watchers=[TEAM[0]])
    data = Site("cloud", "/wiki", me=ME, users=list(TEAM), groups={"team": list(TEAM)},
                pages=[page])
    with FakeConfluence(data) as fake:
        set_env(monkeypatch, fake.env())
        yield fake


def dry_run(*extra: str):  # type: ignore[no-untyped-def]
    return run("send", "98487", "--to", "a@example.com", "--dry-run", *extra)


def requests_to(fake: FakeConfluence, path: str) -> int:
    return sum(1 for r in fake.requests if r.path == "/wiki" + path)


def raw_json(prefix: str, text: str) -> Fault:
    """A 200 labelled JSON whose body is ``text`` as it is (any JSON value, or not JSON)."""
    return Fault(prefix, 200, headers={"Content-Type": JSON_TYPE}, body=text.encode())


# --------------------------------------------------------------------------- E7 wrong types


def page_answer(fake: FakeConfluence) -> dict[str, Any]:
    return {"id": "98487", "title": "Release notes", "spaceId": str(space_id("ENG")),
            "version": {"number": 7}, "body": {"export_view": {"value": "<p>x</p>"}},
            "_links": {"base": fake.url, "webui": "/spaces/ENG/pages/98487"}}


def space_answer(fake: FakeConfluence) -> dict[str, Any]:
    return {"id": str(space_id("ENG")), "key": "ENG", "name": "Engineering"}


def attachment_list(fake: FakeConfluence) -> dict[str, Any]:
    return {"results": [{"id": "att1", "title": "notes.txt", "mediaType": "text/plain",
                         "fileSize": 5,
                         "downloadLink": "/download/attachments/98487/notes.txt"}],
            "_links": {"base": fake.url}}


def member_list(fake: FakeConfluence) -> dict[str, Any]:
    return {"results": [{"type": "known", "accountId": "557058:abc", "email": "x@example.com",
                         "displayName": "X"}],
            "start": 0, "limit": 200, "size": 1, "_links": {"base": fake.url}}


Change = Callable[[dict[str, Any]], object]


def setting(path: str, value: object) -> Change:
    """Sets ``a.b.c`` (list indexes as digits) to ``value`` and returns the answer."""
    def change(answer: dict[str, Any]) -> object:
        *parents, last = path.split(".")
        node: Any = answer
        for key in parents:
            node = node[int(key)] if key.isdigit() else node[key]
        node[int(last) if last.isdigit() else last] = value
        return answer
    return change


def whole(value: object) -> Change:
    return lambda _: value


PAGE_VARIANTS: list[tuple[str, Change, str]] = [
    ("version-word", setting("version.number", "seven"),
     "version.number is a string, not a whole number"),
    ("version-list", setting("version.number", [7]), "version.number is a list"),
    ("version-string", setting("version", "7"), "version is a string, not an object"),
    ("body-string", setting("body", "x"), "body is a string, not an object"),
    ("export-int", setting("body.export_view.value", 42),
     "body.export_view.value is a number, not a string"),
    ("export-dict", setting("body.export_view.value", {"a": 1}),
     "body.export_view.value is an object"),
    ("export-list", setting("body.export_view", []), "body.export_view is a list"),
    ("links-list", setting("_links", []), "_links is a list, not an object"),
    ("base-number", setting("_links.base", 1), "_links.base is a number"),
    ("top-list", whole([]), "the page is a list, not an object"),
    ("top-null", whole(None), "the page is null"),
    ("top-string", whole("str"), "the page is a string"),
    ("top-number", whole(42), "the page is a number"),
]


@pytest.mark.parametrize(("change", "detail"), [v[1:] for v in PAGE_VARIANTS],
                         ids=[v[0] for v in PAGE_VARIANTS])
def test_a_page_answer_of_the_wrong_shape_is_confluences_fault(
    site: FakeConfluence, clock: FakeClock, change: Change, detail: str,
) -> None:
    site.fail(raw_json(CONTENT, json.dumps(change(page_answer(site)))))
    result = dry_run()
    assert result.exit_code == 3, result.stderr
    assert "Confluence sent an answer mailpage cannot read (" in result.stderr
    assert detail in result.stderr
    assert "bug" not in result.stderr and "Traceback" not in result.stderr
    assert clock.sleeps == []  # not retried: the next answer would be the same


LIST_VARIANTS: list[tuple[str, str, Callable[[FakeConfluence], dict[str, Any]], Change,
                          tuple[str, ...], str]] = [
    ("attachments-results-null", ATTACHMENTS, attachment_list, setting("results", None),
     ("send", "98487", "--to", "a@example.com", "--dry-run", "--attachments"),
     "results is null, not a list"),
    ("attachments-results-object", ATTACHMENTS, attachment_list, setting("results", {}),
     ("send", "98487", "--to", "a@example.com", "--dry-run", "--attachments"),
     "results is an object, not a list"),
    ("attachment-a-string", ATTACHMENTS, attachment_list, setting("results.0", "notes.txt"),
     ("send", "98487", "--to", "a@example.com", "--dry-run", "--attachments"),
     "an item of results is a string"),
    ("file-size-huge", ATTACHMENTS, attachment_list,
     setting("results.0.fileSize", "huge"),
     ("send", "98487", "--to", "a@example.com", "--dry-run", "--attachments"),
     "fileSize is a string, not a whole number"),
    ("media-type-number", ATTACHMENTS, attachment_list, setting("results.0.mediaType", 5),
     ("send", "98487", "--to", "a@example.com", "--dry-run", "--attachments"),
     "mediaType is a number"),
    ("download-number", ATTACHMENTS, attachment_list,
     setting("results.0.downloadLink", 5),
     ("send", "98487", "--to", "a@example.com", "--dry-run", "--attachments"),
     "downloadLink is a number"),
    ("space-string", SPACE, space_answer, whole("ENG"),
     ("send", "98487", "--to", "a@example.com", "--dry-run"),
     "the space is a string, not an object"),
    ("space-name-true", SPACE, space_answer, setting("name", value=True),
     ("send", "98487", "--to", "a@example.com", "--dry-run"), "space.name is true or false"),
    ("list-links-string", ATTACHMENTS, attachment_list, setting("_links", "next"),
     ("send", "98487", "--to", "a@example.com", "--dry-run", "--attachments"),
     "_links is a string"),
    ("next-number", ATTACHMENTS, attachment_list, setting("_links.next", 2),
     ("send", "98487", "--to", "a@example.com", "--dry-run", "--attachments"),
     "_links.next is a number"),
    ("members-numbers", "/rest/api/group/", member_list, setting("results", [1, 2]),
     ("recipients", "group:team"), "an item of results is a number"),
    ("member-email-number", "/rest/api/group/", member_list,
     setting("results.0.email", 5), ("recipients", "group:team"),
     "email is a number, not a string"),
    ("member-details-string", "/rest/api/group/", member_list,
     setting("results.0.details", "x"), ("recipients", "group:team"),
     "details is a string"),
    ("members-top-list", "/rest/api/group/", member_list, whole([]),
     ("recipients", "group:team"), "the list is a list, not an object"),
    ("me-list", "/rest/api/user/current", member_list, whole([]),
     ("recipients", "me"), "a user is a list"),
    ("watcher-string", V1_CONTENT + "/notification", member_list,
     setting("results", [{"watcher": "ann"}]), ("recipients", "watchers", "--page", "98487"),
     "a user is a string"),
]


@pytest.mark.parametrize(("prefix", "answer", "change", "args", "detail"),
                         [v[1:] for v in LIST_VARIANTS], ids=[v[0] for v in LIST_VARIANTS])
def test_a_list_or_user_answer_of_the_wrong_shape_is_confluences_fault(
    site: FakeConfluence, prefix: str, answer: Callable[[FakeConfluence], dict[str, Any]],
    change: Change, args: tuple[str, ...], detail: str,
) -> None:
    if prefix == "/rest/api/group/":  # the group's id first, then its members
        site.fail(Fault("/rest/api/group/by-name", 200, body={"name": "team", "id": "g1"}),
                  raw_json("/rest/api/group/g1/", json.dumps(change(answer(site)))))
    else:
        site.fail(raw_json(prefix, json.dumps(change(copy.deepcopy(answer(site))))))
    result = run(*args)
    assert result.exit_code == 3, result.stderr
    assert f"Confluence sent an answer mailpage cannot read ({detail}" in result.stderr
    assert "bug" not in result.stderr and "Traceback" not in result.stderr


def test_a_group_id_of_the_wrong_type_is_confluences_fault(site: FakeConfluence) -> None:
    site.fail(Fault("/rest/api/group/by-name", 200, body={"name": "team", "id": ["g1"]}))
    result = run("recipients", "group:team")
    assert result.exit_code == 3
    assert "cannot read (id is a list, not a string)" in result.stderr


def test_search_hits_of_the_wrong_shape_are_confluences_fault(site: FakeConfluence) -> None:
    hits = {"results": [{"content": {"id": "1", "title": "T", "_links": ["webui"]}}],
            "_links": {"base": site.url}}
    site.fail(raw_json("/rest/api/search", json.dumps(hits)))
    result = run("digest", "--cql", "space = ENG", "--to", "a@example.com", "--dry-run")
    assert result.exit_code == 3, result.stderr
    assert "cannot read (content._links is a list, not an object)" in result.stderr


# --------------------------------------------------------------------------- E1b


def test_html_labelled_as_json_is_reported_at_once_not_retried(
    site: FakeConfluence, clock: FakeClock,
) -> None:
    site.fail(raw_json(CONTENT, "\n  <!DOCTYPE html><html><body>Please log in</body></html>"))
    result = dry_run()
    assert result.exit_code == 4
    assert "answered with a web page" in result.stderr and "site URL" in result.stderr
    assert clock.sleeps == [] and requests_to(site, CONTENT) == 1


# --------------------------------------------------------------------------- E3 size


def gzip_bomb(size: int) -> bytes:
    """A gzip body of ``size`` bytes of JSON-ish text, a thousandth of that on the wire."""
    squeeze = zlib.compressobj(9, zlib.DEFLATED, 31)
    block = b" " * 1_000_000
    parts = [squeeze.compress(b'{"title": "')]
    parts += [squeeze.compress(block) for _ in range(size // len(block))]
    return b"".join([*parts, squeeze.flush()])


def test_a_gzip_bomb_on_the_page_api_stops_at_the_answer_limit(
    site: FakeConfluence, clock: FakeClock, monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(confluence_module, "MAX_ANSWER", 2_000_000)
    bomb = gzip_bomb(300_000_000)
    assert len(bomb) < 1_000_000
    site.fail(Fault(CONTENT, 200, headers={"Content-Type": JSON_TYPE,
                                           "Content-Encoding": "gzip"}, body=bomb))
    tracemalloc.start()
    try:
        result = dry_run()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert result.exit_code == 8, result.stderr
    assert "Confluence sent an answer larger than 2 MB" in result.stderr
    assert peak < 40_000_000  # a few MB read, not 300
    assert clock.sleeps == []


def test_an_answer_under_the_limit_is_read_whole(site: FakeConfluence,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(confluence_module, "MAX_ANSWER", 2_000_000)
    answer = page_answer(site)
    answer["body"]["export_view"]["value"] = "<p>" + "word " * 300_000 + "</p>"  # 1.5 MB
    text = json.dumps(answer).encode()
    site.fail(Fault(CONTENT, 200, headers={"Content-Type": JSON_TYPE,
                                           "Content-Encoding": "gzip"},
                    body=zlib.compress(text, wbits=31)))
    result = dry_run("--json")
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["message"]["bytes"] > 1_500_000


def test_a_gzip_bomb_image_stops_at_the_message_budget(site: FakeConfluence) -> None:
    run("config", "set-policy", "--max-size", "1")
    site.fail(Fault(IMAGE, 200, headers={"Content-Type": "image/png",
                                         "Content-Encoding": "gzip"},
                    body=gzip_bomb(100_000_000)))
    result = dry_run()
    assert result.exit_code == 8
    assert "chart.png is larger" in result.stderr


# --------------------------------------------------------------------------- E8c cut short


def test_an_image_cut_short_is_left_out_with_a_warning(site: FakeConfluence) -> None:
    site.fail(Fault(IMAGE, 200, headers={"Content-Type": "image/png"}, body=PNG[:40],
                    declared_length=5_000_000))
    result = dry_run("--json")
    assert result.exit_code == 0, result.stderr
    (warning,) = [w for w in json.loads(result.stdout)["warnings"] if "chart.png" in w]
    assert "Downloading chart.png failed (the connection failed or broke off" in warning


def test_an_attachment_cut_short_is_exit_6(site: FakeConfluence) -> None:
    site.fail(Fault("/download/attachments/98487/notes.txt", 200,
                    headers={"Content-Type": "text/plain"}, body=b"no",
                    declared_length=5_000_000))
    result = dry_run("--attach", "notes.txt")
    assert result.exit_code == 6, result.stderr
    assert "Downloading notes.txt failed (the connection failed or broke off" in result.stderr
    assert "Try again later" in result.stderr and "bug" not in result.stderr


def test_an_image_host_that_refuses_connections_leaves_the_image_out(
    monkeypatch: pytest.MonkeyPatch, clock: FakeClock,
) -> None:
    page = Page("7", "External", export_view=None,
                view='<p><img src="http://127.0.0.1:9/gone.png"></p>')
    with FakeConfluence(Site("cloud", "/wiki", me=ME, pages=[page])) as fake:
        set_env(monkeypatch, fake.env())
        result = run("send", "7", "--to", "a@example.com", "--dry-run",
                     "--external-images", "embed")
    assert result.exit_code == 0, result.stderr
    assert "Downloading gone.png failed (the connection failed" in result.stderr


# --------------------------------------------------------------------------- E8e/f deadline


def test_a_page_api_trickling_bytes_is_given_up_at_the_deadline(
    site: FakeConfluence, clock: FakeClock, monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(confluence_module, "ANSWER_DEADLINE", 0.5)
    body = json.dumps(page_answer(site)).encode()  # ~300 bytes: 15 s at 20 a second
    site.fail(Fault(CONTENT, 200, headers={"Content-Type": JSON_TYPE}, body=body,
                    trickle=0.05))
    started = time.monotonic()
    result = dry_run()
    assert time.monotonic() - started < 5
    assert result.exit_code == 6, result.stderr
    assert "Confluence took more than 0.5 s to send one answer" in result.stderr


def test_an_image_trickling_bytes_is_left_out_at_the_deadline(
    site: FakeConfluence, monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(downloads, "DEADLINE", 0.5)
    site.fail(Fault(IMAGE, 200, headers={"Content-Type": "image/png"}, body=PNG * 4,
                    trickle=0.05))
    started = time.monotonic()
    result = dry_run()
    assert time.monotonic() - started < 5
    assert result.exit_code == 0, result.stderr
    assert "Downloading chart.png failed (it took more than 0.5 s)" in result.stderr


# --------------------------------------------------------------------------- E9f paging


def members_page(fake: FakeConfluence, start: int) -> Fault:
    body = member_list(fake) | {"_links": {
        "base": fake.url, "next": f"/rest/api/group/g1/membersByGroupId?start={start}"}}
    return Fault("/rest/api/group/g1/membersByGroupId", 200, body=body)


def test_a_next_link_that_leads_back_ends_with_a_clear_error(site: FakeConfluence) -> None:
    site.fail(Fault("/rest/api/group/by-name", 200, body={"name": "team", "id": "g1"}),
              *[members_page(site, 0)] * 50)
    result = run("recipients", "group:team")
    assert result.exit_code == 3, result.stderr
    assert "link to the next page leads back to a page already read" in result.stderr
    assert requests_to(site, "/rest/api/group/g1/membersByGroupId") == 2


def test_paging_stops_at_the_page_limit(site: FakeConfluence,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(confluence_module, "MAX_PAGES", 5)
    site.fail(Fault("/rest/api/group/by-name", 200, body={"name": "team", "id": "g1"}),
              *[members_page(site, n) for n in range(1, 20)])
    result = run("recipients", "group:team")
    assert result.exit_code == 8, result.stderr
    assert "Confluence listed more than 5 pages of results" in result.stderr
    assert requests_to(site, "/rest/api/group/g1/membersByGroupId") == 5


# --------------------------------------------------------------------------- E2 redirects


COOKIE = {"Set-Cookie": "JSESSIONID=COOKIE-MARK-123; Path=/"}


def test_a_redirect_to_another_port_is_not_followed_and_carries_no_cookie(
    site: FakeConfluence, clock: FakeClock,
) -> None:
    with FakeConfluence(Site("cloud", "/wiki", me=ME)) as other:
        target = f"http://127.0.0.1:{other.port}/wiki{CONTENT}?token=x"
        site.fail(Fault(CONTENT, 503, headers=COOKIE),  # the site sets a session cookie
                  Fault(CONTENT, 302, headers={"Location": target}))
        result = dry_run()
        assert other.requests == []
    assert result.exit_code == 3, result.stderr
    assert (f"redirected the request (302) to http://127.0.0.1:{other.port}/wiki{CONTENT};"
            in result.stderr)
    redirected = [r for r in site.requests if r.path == "/wiki" + CONTENT][-1]
    assert "COOKIE-MARK" in redirected.headers.get("Cookie", "")  # the cookie was live


def test_an_image_redirected_to_another_port_gets_no_cookie_or_credentials(
    site: FakeConfluence,
) -> None:
    with FakeConfluence(Site("cloud", "/wiki", me=ME)) as other:
        page = page_answer(site) | {"body": {"view": {"value": f'<img src="/wiki{IMAGE}">'}}}
        site.fail(Fault(CONTENT, 200, headers={**COOKIE, "Content-Type": JSON_TYPE},
                        body=json.dumps(page).encode()),  # the site sets a session cookie
                  Fault(IMAGE, 302, headers={"Location": f"{other.root}/chart.png"}))
        result = dry_run()
        (seen,) = other.requests
    assert result.exit_code == 0, result.stderr
    image = next(r for r in site.requests if r.path == "/wiki" + IMAGE)
    assert "COOKIE-MARK" in image.headers.get("Cookie", "")  # on the site: the cookie goes
    assert seen.authorization is None and "Cookie" not in seen.headers  # elsewhere: nothing


# --------------------------------------------------------------------------- D2 secrets


@pytest.mark.parametrize("lead", ["Bad request, your header was ",
                                  "x" * 190 + " "],  # the secret straddles the 200-char cut
                         ids=["short", "cut-at-200"])
def test_an_error_message_echoing_the_credentials_is_masked(
    site: FakeConfluence, lead: str,
) -> None:
    site.fail(Fault(CONTENT, 400, body=lead, echo_header="Authorization"))
    result = dry_run()
    basic = base64.b64encode(f"{ME.email}:{site.site.token}".encode()).decode()
    assert result.exit_code == 2
    assert "Confluence rejected the request: " + lead[:20] in result.stderr
    assert "Basic ***" in result.stderr
    for secret in (site.site.token, basic, basic[:12]):
        assert secret not in result.stderr


def test_a_bearer_token_echoed_in_an_error_is_masked(monkeypatch: pytest.MonkeyPatch) -> None:
    data = Site("datacenter", "/confluence", me=ME, pages=[Page("98487", "Release notes")])
    with FakeConfluence(data) as fake:
        set_env(monkeypatch, fake.env())
        fake.fail(Fault(V1_CONTENT, 400, body="You sent ", echo_header="Authorization"))
        result = dry_run()
    assert result.exit_code == 2
    assert "You sent Bearer ********" in result.stderr
    assert data.token not in result.stderr
