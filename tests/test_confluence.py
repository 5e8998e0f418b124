"""Confluence pages, images, attachments and recipients, against a loopback Confluence that
answers like Cloud (/wiki, basic auth, a media host) and like Data Center (a context path,
bearer auth), with the real atlassian-python-api and requests underneath."""

from __future__ import annotations

import json
from collections.abc import Iterator
from email import message_from_bytes, policy
from pathlib import Path

import pytest

from mailpage_cli.errors import ConfigError
from mailpage_cli.sites import make_site
from tests.conftest import ROOT, run, set_env
from tests.support import smtp
from tests.support.confluence_server import (
    DATACENTER,
    MISSING,
    Attachment,
    FakeConfluence,
    Page,
    Site,
    User,
    group_id,
    tiny_code,
)

PICTURES = ROOT / "examples" / "export" / "attachments" / "98487"
CHART = (PICTURES / "98501.png").read_bytes()
DIAGRAM = (PICTURES / "98502.png").read_bytes()


def page_html(context: str, page_id: str) -> str:
    download = f"{context}/download/attachments/{page_id}"
    return (
        "<p>Release <strong>2.4</strong> ships Tuesday "
        '<img class="emoticon emoticon-tick" data-emoticon-name="tick" alt="(tick)"'
        f' src="{context}/images/icons/emoticons/check.svg"></p>'
        '<p><span class="confluence-embedded-file-wrapper"><img class="confluence-embedded-image"'
        f' src="{download}/chart.png?version=1&amp;modificationDate=1700000000000&amp;api=v2"'
        ' alt="Build times"></span></p>'
        f'<p><img class="confluence-embedded-image" src="{download}/diagram.png?version=2"></p>'
        f'<p><img src="{download}/chart.png?version=1"></p>'  # the same picture again
        f'<p>See <a href="{context}/spaces/ENG/pages/1/Other">the other page</a>.</p>'
    )


def attachments() -> list[Attachment]:
    return [
        Attachment("chart.png", "image/png", CHART),
        Attachment("diagram.png", "image/png", DIAGRAM),
        Attachment("notes.txt", "text/plain", b"release notes\n"),
        Attachment("known-issues.csv", "text/csv", b"key,summary\nENG-1,slow\n"),
        Attachment("Überblick 2.4.pdf", "application/pdf", b"%PDF-1.4 fake"),
    ]


ME = User("Ann Example", "ann@example.com")
BOB = User("Bob Builder", "bob@example.com")
CY = User("Cy Twombly", "cy@example.com")
DEE = User("Dee Dee Ramone", "dee@example.com")
ROBOT = User("Automation for Confluence", "", account_type="app")
HIDDEN = User("Hidden Hilda", "")
NULL = User("Null Norbert", None)
ABSENT = User("Absent Abe", MISSING)
ANN_TWIN = User("Ann Examplesson", "ann.s@example.com")
GONE = User("Gone Gary", "gary@example.com", active=False)


def make_site_data(deployment: str, context: str) -> Site:
    members = [BOB, CY, ROBOT, DEE, ME]
    if deployment == DATACENTER:
        members = [BOB, CY, GONE, DEE, ME]
    return Site(
        deployment=deployment,
        context=context,
        me=ME,
        users=[BOB, CY, DEE, HIDDEN, NULL, ABSENT, ANN_TWIN, GONE],
        groups={"release-team": members, "secret-keepers": [BOB, HIDDEN], "new-hires": []},
        pages=[
            Page("98487", "Release notes 2.4", version=7, view=page_html(context, "98487"),
                 export_view=page_html(context, "98487"), attachments=attachments(),
                 watchers=[BOB, ROBOT, CY]),
            Page("65639", "Launch day", type="blogpost", posting_day="2024-01-15",
                 export_view=None, view="<p>Blog body from view</p>"),
            Page("1", "Other", export_view="<p>Body from export_view</p>",
                 view="<p>Body from view</p>"),
            Page("4242", "Secret plans", restricted=True),
        ],
    )


@pytest.fixture
def cloud() -> Iterator[FakeConfluence]:
    with FakeConfluence(make_site_data("cloud", "/wiki")) as fake:
        yield fake


@pytest.fixture
def datacenter() -> Iterator[FakeConfluence]:
    with FakeConfluence(make_site_data(DATACENTER, "/confluence")) as fake:
        yield fake


@pytest.fixture
def on_cloud(cloud: FakeConfluence, monkeypatch: pytest.MonkeyPatch) -> FakeConfluence:
    set_env(monkeypatch, cloud.env())
    return cloud


@pytest.fixture
def on_datacenter(datacenter: FakeConfluence, monkeypatch: pytest.MonkeyPatch) -> FakeConfluence:
    set_env(monkeypatch, datacenter.env())
    return datacenter


def dry_run(*args: str) -> dict[str, object]:
    result = run("send", *args, "--dry-run", "--json")
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)  # type: ignore[no-any-return]


def delivered(server: smtp.SmtpServer):  # type: ignore[no-untyped-def]
    (received,) = server.received
    return received, message_from_bytes(received.data, policy=policy.default)


def test_cloud_page_url_to_me_and_a_group_with_attachments(
    on_cloud: FakeConfluence, smtp_env: smtp.SmtpServer
) -> None:
    url = f"{on_cloud.url}/spaces/ENG/pages/98487/Release+notes+2.4"
    result = run("send", url, "--to", "me", "--cc", "group:release-team", "--attachments",
                 "--json")
    assert result.exit_code == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["page"] == {"id": "98487", "title": "Release notes 2.4", "version": 7,
                              "url": f"{on_cloud.url}/spaces/ENG/pages/98487/Release+notes+2.4"}
    assert report["recipients"] == {
        "to": ["ann@example.com"],
        "cc": ["bob@example.com", "cy@example.com", "dee@example.com"],  # no app, no repeat
        "bcc": [],
    }
    received, msg = delivered(smtp_env)
    assert sorted(received.rcpt_tos) == ["ann@example.com", "bob@example.com",
                                         "cy@example.com", "dee@example.com"]
    assert msg["To"] == "Ann Example <ann@example.com>"
    assert msg["Reply-To"] == "ann@example.com"
    html = msg.get_body(("html",)).get_content()
    inline = {p["Content-ID"].strip("<>"): p.get_content() for p in msg.walk()
              if p["Content-ID"]}
    assert sorted(inline.values()) == sorted([CHART, DIAGRAM])  # each picture once
    assert html.count("cid:") == 3
    assert "✅" in html and "check.svg" not in html
    assert f'href="{on_cloud.root}/wiki/spaces/ENG/pages/1/Other"' in html
    assert f'href="{on_cloud.url}/spaces/ENG/pages/98487/Release+notes+2.4"' in html
    names = sorted(str(p.get_filename()) for p in msg.iter_attachments())
    assert names == sorted(a.filename for a in attachments())
    media = on_cloud.media_requests
    assert media and all(r.authorization is None and r.status == 200 for r in media)
    downloads = [r.path.rsplit("/", 1)[-1] for r in on_cloud.requests
                 if "/download/" in r.path]
    assert downloads.count("diagram.png") == 1  # shown and attached: fetched once
    attachment_pages = [r for r in on_cloud.requests
                        if r.path == "/wiki/api/v2/pages/98487/attachments"]
    assert len(attachment_pages) == 3  # five attachments, two a page, through REST v2
    assert not [r for r in on_cloud.requests if "/rest/api/content/98487" in r.path]
    assert all(r.path.startswith("/wiki/") for r in on_cloud.requests)


def test_data_center_display_url_with_context_path_and_bearer_token(
    on_datacenter: FakeConfluence, smtp_env: smtp.SmtpServer
) -> None:
    url = f"{on_datacenter.url}/display/ENG/Release+notes+2.4"
    result = run("send", url, "--to", "me", "--cc", "group:release-team", "--attach", "*.png",
                 "--attach", "*.pdf")
    assert result.exit_code == 0, result.stderr
    received, msg = delivered(smtp_env)
    assert sorted(received.rcpt_tos) == ["ann@example.com", "bob@example.com",
                                         "cy@example.com", "dee@example.com"]  # Gary left
    assert len([p for p in msg.walk() if p["Content-ID"]]) == 2
    assert sorted(str(p.get_filename()) for p in msg.iter_attachments()) == [
        "chart.png", "diagram.png", "Überblick 2.4.pdf"]
    assert all(r.authorization == f"Bearer {on_datacenter.site.token}"
               for r in on_datacenter.requests)
    assert all(r.path.startswith("/confluence/") for r in on_datacenter.requests)


@pytest.mark.parametrize(
    ("form", "page_id"),
    [
        ("98487", "98487"),
        ("ENG:Release notes 2.4", "98487"),
        ("{url}/spaces/ENG/pages/98487/Release+notes+2.4", "98487"),
        ("{url}/spaces/ENG/pages/edit-v2/98487", "98487"),
        ("{url}/spaces/ENG/blog/2024/01/15/65639/Launch+day", "65639"),
        ("{url}/x/" + tiny_code(98487), "98487"),
        ("{url}/rest/api/content/98487", "98487"),
        ("{url}/api/v2/pages/98487", "98487"),
        ("{url}/pages/viewpage.action?pageId=98487", "98487"),
    ],
)
def test_every_cloud_page_form_resolves(on_cloud: FakeConfluence, form: str,
                                        page_id: str) -> None:
    report = dry_run(form.format(url=on_cloud.url), "--to", "a@example.com")
    assert report["page"]["id"] == page_id  # type: ignore[index]


@pytest.mark.parametrize(
    ("form", "page_id"),
    [
        ("{url}/display/ENG/Release+notes+2.4", "98487"),
        ("{url}/display/ENG/Release%20notes%202.4", "98487"),
        ("{url}/pages/viewpage.action?spaceKey=ENG&title=Release+notes+2.4", "98487"),
        ("{url}/display/ENG/2024/01/15/Launch+day", "65639"),
        ("{url}/x/" + tiny_code(65639), "65639"),
    ],
)
def test_every_data_center_page_form_resolves(on_datacenter: FakeConfluence, form: str,
                                              page_id: str) -> None:
    report = dry_run(form.format(url=on_datacenter.url), "--to", "a@example.com")
    assert report["page"]["id"] == page_id  # type: ignore[index]


def test_export_view_is_preferred_and_falls_back_to_view(on_cloud: FakeConfluence) -> None:
    preferred = run("preview", "1", "--text")
    assert preferred.exit_code == 0, preferred.stderr
    assert "Body from export_view" in preferred.stdout and "from view" not in preferred.stdout
    result = run("preview", "65639", "--text")
    assert result.exit_code == 0, result.stderr
    assert "Blog body from view" in result.stdout


def test_restricted_page_is_not_found(on_cloud: FakeConfluence) -> None:
    result = run("send", "4242", "--to", "a@example.com", "--dry-run")
    assert result.exit_code == 5
    assert "missing, or restricted" in result.stderr


def test_unknown_title_is_not_found(on_datacenter: FakeConfluence) -> None:
    result = run("send", "ENG:No such page", "--to", "a@example.com", "--dry-run")
    assert result.exit_code == 5
    assert "No page titled 'No such page' in space ENG" in result.stderr


def test_the_help_example_title_is_found_and_a_plus_in_a_missing_one_is_explained(
    on_datacenter: FakeConfluence,
) -> None:
    assert "mailpage send 'ENG:Release notes 2.4'" in run("--help").stdout
    found = run("send", "ENG:Release notes 2.4", "--to", "a@example.com", "--dry-run")
    assert found.exit_code == 0, found.stderr
    missing = run("send", "ENG:Release+notes+2.4", "--to", "a@example.com", "--dry-run")
    assert missing.exit_code == 5
    assert "a + is a plus, not a space" in missing.stderr
    assert "a + is a plus" not in run("send", "ENG:No such page", "--to", "a@example.com",
                                      "--dry-run").stderr


def test_wrong_token_is_exit_4(on_cloud: FakeConfluence) -> None:
    result = run("send", "98487", "--to", "a@example.com", "--dry-run",
                 env={"MAILPAGE_CONFLUENCE_TOKEN": "wrong"})
    assert result.exit_code == 4
    assert "refused the credentials (401)" in result.stderr
    assert "wrong" not in result.stderr


def test_a_url_on_another_host_is_refused_before_any_request(on_cloud: FakeConfluence) -> None:
    result = run("send", "https://evil.example.com/wiki/spaces/ENG/pages/98487",
                 "--to", "a@example.com", "--dry-run")
    assert result.exit_code == 3
    assert on_cloud.requests == []


@pytest.mark.parametrize("user", [HIDDEN, NULL, ABSENT], ids=["empty", "null", "absent"])
def test_a_user_without_visible_email_is_exit_5_naming_them(
    on_cloud: FakeConfluence, user: User
) -> None:
    result = run("send", "98487", "--to", f"user:{user.account_id}", "--dry-run")
    assert result.exit_code == 5
    assert user.display_name in result.stderr
    assert "--skip-unresolvable" in result.stderr


def test_an_empty_group_as_the_only_recipient_says_so(on_cloud: FakeConfluence) -> None:
    result = run("send", "98487", "--to", "group:new-hires", "--dry-run")
    assert result.exit_code == 2
    assert "The recipients came to nobody (an empty group?)" in result.stderr
    assert "Give at least one --to" not in result.stderr  # one was given


def test_skip_unresolvable_warns_and_sends_to_the_rest(on_cloud: FakeConfluence) -> None:
    report = dry_run("98487", "--to", "group:secret-keepers", "--skip-unresolvable")
    assert report["recipients"]["to"] == ["bob@example.com"]  # type: ignore[index]
    assert any("Hidden Hilda" in w for w in report["warnings"])  # type: ignore[attr-defined]


def test_user_by_unique_display_name(on_cloud: FakeConfluence) -> None:
    report = dry_run("98487", "--to", "user:Bob Builder")
    assert report["recipients"]["to"] == ["bob@example.com"]  # type: ignore[index]


def test_an_exact_name_wins_over_longer_matches(on_cloud: FakeConfluence) -> None:
    report = dry_run("98487", "--to", "user:Ann Example")
    assert report["recipients"]["to"] == ["ann@example.com"]  # type: ignore[index]


def test_an_ambiguous_name_lists_the_candidates(on_cloud: FakeConfluence) -> None:
    result = run("send", "98487", "--to", "user:Ann", "--dry-run")
    assert result.exit_code == 5
    assert "Ann Example (user:" in result.stderr and "Ann Examplesson (user:" in result.stderr


@pytest.mark.parametrize("key", ["username", "user_key"])
def test_data_center_users_by_username_or_key(on_datacenter: FakeConfluence, key: str) -> None:
    report = dry_run("98487", "--to", f"user:{getattr(CY, key)}")
    assert report["recipients"]["to"] == ["cy@example.com"]  # type: ignore[index]


def test_recipients_command_lists_every_page_of_a_group(on_cloud: FakeConfluence) -> None:
    result = run("recipients", "group:release-team", "--json")
    assert result.exit_code == 0, result.stderr
    rows = json.loads(result.stdout)["recipients"]
    assert [(r["name"], r["address"], r["source"]) for r in rows] == [
        ("Bob Builder", "bob@example.com", "group:release-team"),
        ("Cy Twombly", "cy@example.com", "group:release-team"),
        ("Dee Dee Ramone", "dee@example.com", "group:release-team"),
        ("Ann Example", "ann@example.com", "group:release-team"),
    ]
    member_pages = [r for r in on_cloud.requests if r.path.endswith("/membersByGroupId")]
    assert len(member_pages) == 3
    plain = run("recipients", "me", "bob@example.com")
    assert plain.stdout.splitlines() == ["Ann Example <ann@example.com>\tme",
                                         "bob@example.com\taddress"]


def test_unknown_group_is_not_found(on_datacenter: FakeConfluence) -> None:
    result = run("recipients", "group:nobody")
    assert result.exit_code == 5
    assert "No Confluence group named 'nobody'" in result.stderr


def test_watchers_on_cloud(on_cloud: FakeConfluence) -> None:
    result = run("recipients", "watchers", "--page", "98487", "--json")
    assert result.exit_code == 0, result.stderr
    rows = json.loads(result.stdout)["recipients"]
    assert [r["address"] for r in rows] == ["bob@example.com", "cy@example.com"]


def test_a_list_file_naming_everyone_watching_a_page_given_by_title(
    on_cloud: FakeConfluence, tmp_path: Path,
) -> None:
    listed = tmp_path / "list.txt"
    listed.write_text("watchers\n")  # known only once the list is read: the page id waits
    result = run("send", "ENG:Release notes 2.4", "--to", f"file:{listed}", "--dry-run",
                 "--json")
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["recipients"]["to"] == ["bob@example.com", "cy@example.com"]


def test_watchers_on_data_center_say_there_is_no_api(on_datacenter: FakeConfluence) -> None:
    result = run("send", "98487", "--to", "watchers", "--dry-run")
    assert result.exit_code == 2  # the recipient is what to change, not the settings
    assert "`watchers` needs Confluence Cloud" in result.stderr


def test_debug_lines_name_no_user_data(on_cloud: FakeConfluence) -> None:
    result = run("--debug", "send", "ENG:Release notes 2.4", "--to", "user:Bob Builder",
                 "--cc", "group:release-team", "--dry-run", "--attachments")
    assert result.exit_code == 0, result.stderr
    debug = "\n".join(line for line in result.stderr.splitlines() if line.startswith("debug:"))
    assert "debug: confluence GET /*/api/v2/pages?space-id&title 200" in debug  # Cloud: v2
    for value in ("Bob", "release-team", "Release notes", "ENG", "bob@example.com",
                  on_cloud.site.token, "Überblick", group_id("release-team")):
        assert value not in debug


def test_set_site_and_check_prove_both_logins(
    cloud: FakeConfluence, smtp_env: smtp.SmtpServer, config_file: Path,
    isolated,  # type: ignore[no-untyped-def]
) -> None:
    stored = run("config", "set-site", cloud.url, "--user", str(ME.email), "--deployment",
                 "cloud", "--token-stdin", input=cloud.site.token + "\n")
    assert stored.exit_code == 0, stored.stderr
    assert json.loads(isolated.store[("mailpage", "default/confluence")])["secret"] == (
        cloud.site.token)
    assert cloud.site.token not in config_file.read_text()
    result = run("config", "check")
    assert result.exit_code == 0, result.stdout + result.stderr
    assert "confluence: ok" in result.stdout and "as Ann Example" in result.stdout
    assert "smtp: ok" in result.stdout and "logged in" in result.stdout
    assert smtp_env.received == []
    wrong = run("config", "check", env={"MAILPAGE_CONFLUENCE_TOKEN": "nope"})
    assert wrong.exit_code == 4
    assert "confluence: FAILED" in wrong.stdout and "smtp: ok" in wrong.stdout


def test_plain_http_is_refused_except_on_loopback() -> None:
    with pytest.raises(ConfigError, match="plain http"):
        make_site("http://wiki.example.com", "datacenter", "bearer", None)
    assert make_site("http://127.0.0.1:8090/", "datacenter", "bearer", None).url == (
        "http://127.0.0.1:8090")
    assert make_site("https://acme.atlassian.net", "cloud", "basic", "a@b.c").url == (
        "https://acme.atlassian.net/wiki")
    with pytest.raises(ConfigError, match="needs a user"):
        make_site("https://acme.atlassian.net", "cloud", "basic", None)


# Addresses Confluence hides: the address book


def _book(tmp_path: Path, name: str, text: str, monkeypatch: pytest.MonkeyPatch) -> Path:
    book = tmp_path / name
    book.write_text(text)
    book.chmod(0o600)
    monkeypatch.setenv("MAILPAGE_ADDRESS_BOOK", str(book))
    return book


@pytest.mark.parametrize(("name", "text"), [
    ("book.toml", f'"{HIDDEN.account_id}" = "hilda@example.com"\n'),
    ("book.csv", "key,address\nHidden Hilda,Hilda H <hilda@example.com>\n"),
])
def test_the_address_book_fills_in_hidden_addresses_and_says_so(
    on_cloud: FakeConfluence, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str,
    text: str,
) -> None:
    _book(tmp_path, name, text, monkeypatch)
    result = run("recipients", "group:secret-keepers", "--json")
    assert result.exit_code == 0, result.stderr
    rows = json.loads(result.stdout)["recipients"]
    assert [(r["address"], r["source"], r["found_in"]) for r in rows] == [
        ("bob@example.com", "group:secret-keepers", "confluence"),
        ("hilda@example.com", "group:secret-keepers", "address book"),
    ]
    text_rows = run("recipients", "group:secret-keepers").stdout.splitlines()
    assert text_rows[1] == "Hidden Hilda <hilda@example.com>\tgroup:secret-keepers (address book)"


def test_without_the_address_book_a_hidden_address_stops_the_send(
    on_cloud: FakeConfluence,
) -> None:
    result = run("recipients", "group:secret-keepers")
    assert result.exit_code == 5
    assert "Hidden Hilda (group:secret-keepers) has no visible e-mail address" in result.stderr
    assert "address book" in result.stderr


def test_on_data_center_a_hidden_address_is_for_an_administrator_to_show(
    on_datacenter: FakeConfluence,
) -> None:
    result = run("recipients", "group:secret-keepers")
    assert result.exit_code == 5
    assert "Ask a Confluence administrator to show e-mail addresses" in result.stderr
    assert "Atlassian profile" not in result.stderr


@pytest.mark.parametrize(("name", "text", "error"), [
    ("book.csv", "Hidden Hilda,hilda@example.com\nNull Norbert,not an address\n",
     "book.csv:line 2: 'not an address' is not a valid e-mail address"),
    ("book.csv", "Hidden Hilda,hilda@example.com,extra\n", "Line 1 of the address book has 3"),
    ("book.toml", '"Hidden Hilda" = 7\n', "the entry 'Hidden Hilda' is not a string"),
    ("book.txt", "x", "neither .toml nor .csv"),
])
def test_a_bad_address_book_is_refused_with_its_line(
    on_cloud: FakeConfluence, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str,
    text: str, error: str,
) -> None:
    _book(tmp_path, name, text, monkeypatch)
    result = run("recipients", "group:secret-keepers")
    assert result.exit_code == 3
    assert error in result.stderr


def test_an_address_book_others_can_write_is_refused(
    on_cloud: FakeConfluence, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    book = _book(tmp_path, "book.toml", '"Hidden Hilda" = "evil@example.net"\n', monkeypatch)
    book.chmod(0o666)
    result = run("send", "98487", "--to", "group:secret-keepers", "--dry-run")
    assert result.exit_code == 3
    assert "address book" in result.stderr and "writable by other users" in result.stderr


# REST v2 on Cloud, v1 where v2 lacks the answer


def test_cloud_reads_a_blog_post_by_id_through_rest_v2_with_its_view(
    on_cloud: FakeConfluence,
) -> None:
    report = dry_run("65639", "--to", "a@example.com")
    assert report["page"]["title"] == "Launch day"  # type: ignore[index]
    paths = [r.path for r in on_cloud.requests]
    assert "/wiki/api/v2/pages/65639" in paths  # not a page...
    assert "/wiki/api/v2/blogposts/65639" in paths  # ...a blog post
    views = [r.query.get("body-format") for r in on_cloud.requests
             if r.path == "/wiki/api/v2/blogposts/65639"]
    assert views == [["export_view"], ["view"]]  # no export view: its view
    assert not [p for p in paths if p.startswith("/wiki/rest/api/content")]


def test_a_cloud_blog_post_by_title_and_day_stays_on_rest_v1(on_cloud: FakeConfluence) -> None:
    dry_run(f"{on_cloud.url}/display/ENG/2024/01/15/Launch+day", "--to", "a@example.com")
    assert any(r.path == "/wiki/rest/api/content" and r.query.get("postingDay")
               for r in on_cloud.requests)


def test_data_center_stays_on_rest_v1(on_datacenter: FakeConfluence) -> None:
    dry_run("98487", "--to", "a@example.com", "--attachments")
    assert not [r for r in on_datacenter.requests if "/api/v2/" in r.path]


def test_set_site_with_a_page_url_keeps_its_site(
    cloud: FakeConfluence, config_file: Path,
) -> None:
    page = f"{cloud.url}/spaces/ENG/pages/1310715/Release"
    stored = run("config", "set-site", page, "--user", str(ME.email), "--deployment", "cloud",
                 "--token-stdin", input=cloud.site.token + "\n")
    assert stored.exit_code == 0, stored.stderr
    assert f"that is a page URL; the site is {cloud.url}." in " ".join(stored.stderr.split())
    assert f'url = "{cloud.url}"' in config_file.read_text()
