"""The fake Confluence answers like the real one where mailpage depends on it: checked with the
real atlassian-python-api client and ``requests`` over TCP, and against Atlassian's OpenAPI
document for Confluence Cloud REST v1 (required properties only)."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from atlassian import ConfluenceServer
from atlassian.errors import ApiError, ApiNotFoundError

from tests.support.confluence_server import (
    MISSING,
    Attachment,
    FakeConfluence,
    Fault,
    Page,
    Site,
    StaticFile,
    User,
    follow_pages,
    group_id,
    tiny_code,
    tiny_id,
)

# The required-property skeleton of the schemas these tests check, derived from Atlassian's
# Confluence Cloud REST v1 OpenAPI document (see the file's _source).
OPENAPI = Path(__file__).parent / "data" / "confluence-openapi-required.json"
TIMEOUT = 5  # seconds; loopback answers in milliseconds
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4

ANN = User("Ann Example", "ann@example.com")
HIDDEN = User("Bob Hidden", "")
NULL = User("Carol Null", None)
ABSENT = User("Dave Absent", MISSING)
GONE = User("Erin Gone", "erin@example.com", active=False)
BOT = User("Deploy Bot", "", account_type="app")


def make_site(deployment: str, context: str, **kwargs: Any) -> Site:
    release = Page(
        "98487", "Release notes 2.4",
        view="<p>Hello <strong>view</strong></p>", export_view="<p>Hello export</p>",
        attachments=[Attachment(f"shot {n}.png", "image/png", PNG[: 100 + n]) for n in range(5)],
        watchers=[ANN, HIDDEN, NULL, ABSENT, BOT],
    )
    pages = [
        release,
        Page("65639", "Secret plans", restricted=True),
        Page("131074", "Empty export", export_view=None, view="<p>Only view</p>"),
        Page("229377", "Sprint 7 & friends", type="blogpost", posting_day="2024-01-15"),
    ]
    return Site(deployment, context, me=ANN, users=[HIDDEN, NULL, ABSENT, GONE],
                groups={"release team": [ANN, HIDDEN, NULL, ABSENT, GONE, BOT]},
                pages=pages, **kwargs)


@pytest.fixture
def cloud() -> Iterator[FakeConfluence]:
    fake = FakeConfluence(make_site("cloud", "/wiki")).start()
    yield fake
    fake.stop()


@pytest.fixture
def dc() -> Iterator[FakeConfluence]:
    fake = FakeConfluence(make_site("datacenter", "/confluence")).start()
    yield fake
    fake.stop()


@pytest.fixture(params=["cloud", "dc"])
def fake(request: pytest.FixtureRequest) -> FakeConfluence:
    return request.getfixturevalue(request.param)  # type: ignore[no-any-return]


def session_for(fake: FakeConfluence, token: str | None = None) -> requests.Session:
    """A plain requests session authenticated as mailpage would be."""
    session = requests.Session()
    token = fake.site.token if token is None else token
    if fake.site.cloud:
        session.auth = (str(fake.site.me.email), token)
    else:
        session.headers["Authorization"] = f"Bearer {token}"
    return session


def api(fake: FakeConfluence, path: str, **params: Any) -> requests.Response:
    with session_for(fake) as session:
        return session.get(fake.url + path, params=params, timeout=TIMEOUT)


# --------------------------------------------------------------------------- pages


def test_cloud_page_through_the_real_client(cloud: FakeConfluence) -> None:
    client = ConfluenceServer(cloud.url, username="ann@example.com", password="tok-secret",
                              cloud=True)
    page = client.get_page_by_id("98487", expand="body.view,version,space")
    assert page["id"] == "98487" and page["type"] == "page" and page["status"] == "current"
    assert page["title"] == "Release notes 2.4"
    assert page["body"]["view"] == {
        "value": "<p>Hello <strong>view</strong></p>", "representation": "view",
        "_expandable": {"webresource": "", "embeddedContent": "", "mediaToken": "",
                        "content": "/rest/api/content/98487"}}
    assert "export_view" in page["body"]["_expandable"]
    assert page["version"]["number"] == 1 and page["version"]["by"]["displayName"] == "Ann Example"
    assert page["space"]["key"] == "ENG" and page["space"]["name"] == "Engineering"
    assert "history" in page["_expandable"] and "history" not in page
    links = page["_links"]
    assert links["base"] == cloud.url == f"http://127.0.0.1:{cloud.port}/wiki"
    assert links["context"] == "/wiki"
    assert links["webui"] == "/spaces/ENG/pages/98487/Release+notes+2.4"
    assert links["tinyui"] == "/x/t4AB"
    assert links["self"] == cloud.url + "/rest/api/content/98487"
    [seen] = cloud.requests
    assert seen.path == "/wiki/rest/api/content/98487"
    assert seen.query["expand"] == ["body.view,version,space"]
    assert seen.authorization is not None and seen.authorization.startswith("Basic ")
    assert seen.host == f"127.0.0.1:{cloud.port}" and seen.status == 200


def test_dc_page_under_a_context_path(dc: FakeConfluence) -> None:
    client = ConfluenceServer(dc.url, token="tok-secret")
    page = client.get_page_by_id("98487", expand="body.view,version,space")
    assert page["title"] == "Release notes 2.4"
    assert page["body"]["view"]["value"] == "<p>Hello <strong>view</strong></p>"
    assert page["_links"]["base"] == f"http://127.0.0.1:{dc.port}/confluence"
    assert page["_links"]["context"] == "/confluence"
    assert page["_links"]["webui"] == "/display/ENG/Release+notes+2.4"
    assert "accountId" not in page["version"]["by"] and page["version"]["by"]["username"]
    [seen] = dc.requests
    assert seen.path == "/confluence/rest/api/content/98487"
    assert seen.authorization == "Bearer tok-secret"


def test_expansions_history_and_export_view(fake: FakeConfluence) -> None:
    page = api(fake, "/rest/api/content/98487",
               expand="body.export_view,body.view,history,history.lastUpdated").json()
    assert page["body"]["export_view"]["value"] == "<p>Hello export</p>"
    assert page["history"]["latest"] is True
    assert page["history"]["lastUpdated"]["when"] == "2026-11-26T10:00:00.000Z"
    assert {"version", "space", "body"} - set(page["_expandable"]) == {"body"}
    empty = api(fake, "/rest/api/content/131074", expand="body.export_view,body.view").json()
    assert empty["body"]["export_view"]["value"] == ""
    assert empty["body"]["view"]["value"] == "<p>Only view</p>"
    bare = api(fake, "/rest/api/content/98487").json()
    assert "body" not in bare and {"body", "version", "space", "history"} <= set(
        bare["_expandable"])


def test_blog_post_links(cloud: FakeConfluence, dc: FakeConfluence) -> None:
    assert api(cloud, "/rest/api/content/229377").json()["_links"]["webui"] == (
        "/spaces/ENG/blog/2024/01/15/229377/Sprint+7+%26+friends")
    assert api(dc, "/rest/api/content/229377").json()["_links"]["webui"] == (
        "/display/ENG/2024/01/15/Sprint+7+%26+friends")


def test_tiny_links() -> None:
    assert tiny_code(98487) == "t4AB" and tiny_code("65639") == "ZwAB"
    for page_id in ("1", "255", "256", "98487", "4066191", "2147483647", "98765432109"):
        assert tiny_id(tiny_code(page_id)) == page_id


@pytest.mark.parametrize("which", ["cloud", "dc"])
def test_wrong_token_is_401(which: str, request: pytest.FixtureRequest) -> None:
    fake: FakeConfluence = request.getfixturevalue(which)
    with pytest.raises(requests.HTTPError) as caught:
        fake.client(token="wrong").get_page_by_id("98487")
    response = caught.value.response
    assert response is not None and response.status_code == 401
    assert response.json()["statusCode"] == 401
    assert "authenticated" in str(caught.value)
    seraph = response.headers.get("X-Seraph-LoginReason")
    assert seraph == (None if fake.site.cloud else "AUTHENTICATION_DENIED")
    anonymous = requests.get(fake.url + "/rest/api/content/98487", timeout=TIMEOUT)
    assert anonymous.status_code == 401
    assert "X-Seraph-LoginReason" not in anonymous.headers
    assert [r.status for r in fake.requests] == [401, 401]


def test_restricted_page_is_a_plain_api_error(fake: FakeConfluence) -> None:
    """atlassian-python-api 5.0.5 turns the 404 into a plain ApiError (not ApiNotFoundError)."""
    for page_id in ("65639", "999"):
        with pytest.raises(ApiError) as caught:
            fake.client().get_page_by_id(page_id)
        assert type(caught.value) is ApiError
        response = caught.value.reason.response
        assert response.status_code == 404
        assert response.json()["message"] == f"No content found with id: {page_id}"
        assert response.json()["statusCode"] == 404


def test_page_by_title(fake: FakeConfluence) -> None:
    client = fake.client()
    found = client.get_page_by_title("ENG", "Release notes 2.4", expand="version")
    assert [p["id"] for p in found["results"]] == ["98487"]
    assert found["results"][0]["version"]["number"] == 1
    assert found["size"] == 1 and found["_links"]["base"] == fake.url
    assert client.get_page_by_title("ENG", "Secret plans")["results"] == []
    assert client.get_page_by_title("ENG", "No such page")["results"] == []
    blog = api(fake, "/rest/api/content", spaceKey="ENG", title="Sprint 7 & friends",
               type="blogpost", postingDay="2024-01-15").json()
    assert [p["id"] for p in blog["results"]] == ["229377"]


# --------------------------------------------------------------------------- paging


def test_attachments_paged_by_base_plus_next(fake: FakeConfluence) -> None:
    pages = list(follow_pages(session_for(fake),
                              fake.url + "/rest/api/content/98487/child/attachment",
                              params={"limit": 50}))
    assert len(pages) == 3
    assert [p["size"] for p in pages] == [2, 2, 1]
    assert [p["start"] for p in pages] == [0, 2, 4] and {p["limit"] for p in pages} == {2}
    assert pages[0]["_links"]["next"] == (
        "/rest/api/content/98487/child/attachment?limit=2&start=2")
    assert "next" not in pages[-1]["_links"]
    results = [a for p in pages for a in p["results"]]
    assert [a["title"] for a in results] == [f"shot {n}.png" for n in range(5)]
    first = results[0]
    assert first["id"].startswith("att") and first["type"] == "attachment"
    assert first["extensions"] == {"mediaType": "image/png", "fileSize": 100, "comment": ""}
    assert first["_links"]["download"] == (
        "/download/attachments/98487/shot%200.png?version=1&modificationDate=1700000000000"
        "&api=v2")


def test_group_members_paged_cloud(cloud: FakeConfluence) -> None:
    group = api(cloud, "/rest/api/group/by-name", name="release team").json()
    assert group["type"] == "group" and group["name"] == "release team"
    assert group["id"] == group_id("release team")
    pages = list(follow_pages(session_for(cloud),
                              f"{cloud.url}/rest/api/group/{group['id']}/membersByGroupId"))
    assert len(pages) == 3
    members = [u for p in pages for u in p["results"]]
    assert [u["displayName"] for u in members] == [
        "Ann Example", "Bob Hidden", "Carol Null", "Dave Absent", "Erin Gone", "Deploy Bot"]
    assert members[-1]["accountType"] == "app"
    assert [u.get("email", "<absent>") for u in members[:4]] == [
        "ann@example.com", "", None, "<absent>"]
    assert api(cloud, "/rest/api/group/by-name", name="nobody").status_code == 404
    assert api(cloud, "/rest/api/group/no-such-id/membersByGroupId").status_code == 404


def test_group_members_paged_dc(dc: FakeConfluence) -> None:
    url = dc.url + "/rest/api/group/release%20team/member"
    pages = list(follow_pages(session_for(dc), url, params={"expand": "status"}))
    assert len(pages) == 3
    assert pages[0]["_links"]["next"] == (
        "/rest/api/group/release team/member?expand=status&limit=2&start=2".replace(" ", "%20"))
    members = [u for p in pages for u in p["results"]]
    assert [(u["username"], u["status"]) for u in members][3:5] == [
        ("dave.absent", "Active"), ("erin.gone", "Deactivated")]
    assert all("email" not in u and "accountId" not in u for u in members)
    plain = api(dc, "/rest/api/group/release team/member").json()
    assert "status" not in plain["results"][0]
    assert dc.client().get_group_members("release team", expand="status")["size"] == 2
    assert api(dc, "/rest/api/group/nobody/member").status_code == 404


@pytest.mark.parametrize("context", ["/wiki", "/confluence"])
def test_library_pager_drops_the_context_path(context: str) -> None:
    """The trap of CONFLUENCE.md, reproduced: `_get_paged` joins the relative next link to the
    host root, so the second page is asked for without the context path and answers 404."""
    deployment = "cloud" if context == "/wiki" else "datacenter"
    with FakeConfluence(make_site(deployment, context)) as fake:
        children = fake.client().get_page_child_by_type("98487", type="attachment")
        got = [next(children)["title"], next(children)["title"]]
        with pytest.raises(requests.HTTPError) as caught:
            next(children)
        assert got == ["shot 0.png", "shot 1.png"]
        assert caught.value.response is not None
        assert caught.value.response.status_code == 404
        assert [(r.path, r.status) for r in fake.requests] == [
            (f"{context}/rest/api/content/98487/child/attachment", 200),
            ("/rest/api/content/98487/child/attachment", 404),
        ]


def test_library_pager_works_without_a_context_path() -> None:
    """Same call on a Data Center at the host root: the fake's next links are right."""
    with FakeConfluence(make_site("datacenter", "")) as fake:
        titles = [a["title"] for a in
                  fake.client().get_page_child_by_type("98487", type="attachment")]
        assert len(titles) == 5 and len(fake.requests) == 3


# --------------------------------------------------------------------------- downloads


def test_cloud_download_redirects_to_the_media_host(cloud: FakeConfluence) -> None:
    link = "/download/attachments/98487/shot%202.png?version=1&api=v2"
    with session_for(cloud) as session:
        hop = session.get(cloud.url + link, allow_redirects=False)
        assert hop.status_code == 302
        location = urlsplit(hop.headers["Location"])
        assert location.hostname == "127.0.0.2" and location.port == cloud.media_port
        assert location.path.endswith("/binary")
        assert parse_qs(location.query)["name"] == ["shot 2.png"]

        followed = session.get(cloud.url + link)  # requests drops Authorization on a new host
    assert followed.status_code == 200 and followed.content == PNG[:102]
    assert followed.headers["Content-Type"] == "image/png"
    assert followed.headers["Content-Length"] == "102"
    assert [r.status_code for r in followed.history] == [302]
    assert [r.authorization for r in cloud.media_requests] == [None]
    assert cloud.media_requests[0].status == 200
    assert cloud.requests[-1].authorization is not None

    with_auth = requests.get(hop.headers["Location"], headers={"Authorization": "Basic eA=="},
                             timeout=TIMEOUT)
    assert with_auth.status_code == 400
    assert with_auth.json() == {"error": "Authorization header not allowed"}
    bare = f"{cloud.media_url}{location.path}"
    assert requests.get(bare, timeout=TIMEOUT).status_code == 403
    assert requests.get(bare, params={"token": "forged"}, timeout=TIMEOUT).status_code == 403
    # the site itself needs the login
    assert requests.get(cloud.url + link, timeout=TIMEOUT).status_code == 401


def test_dc_download_serves_the_bytes(dc: FakeConfluence) -> None:
    link = "/download/attachments/98487/shot%203.png?version=1&modificationDate=1&api=v2"
    with session_for(dc) as session:
        response = session.get(dc.url + link)
        assert response.status_code == 200 and response.content == PNG[:103]
        assert response.headers["Content-Type"] == "image/png" and not response.history
        assert session.get(dc.url + "/download/attachments/98487/nope.png").status_code == 404
        assert session.get(dc.url + "/download/attachments/65639/x.png").status_code == 404
    assert requests.get(dc.url + link, timeout=TIMEOUT).status_code == 401
    assert dc.media_requests == []


def test_static_files_under_the_site() -> None:
    site = make_site("cloud", "/wiki", files={
        "/images/icons/emoticons/check.svg": StaticFile("image/svg+xml", b"<svg/>",
                                                        needs_auth=False),
        "/download/thumbnails/98487/shot%200.png": StaticFile("image/png", PNG[:50]),
    })
    with FakeConfluence(site) as fake:
        icon = requests.get(fake.url + "/images/icons/emoticons/check.svg?v=2", timeout=TIMEOUT)
        assert icon.content == b"<svg/>" and icon.headers["Content-Type"] == "image/svg+xml"
        thumbnail = fake.url + "/download/thumbnails/98487/shot%200.png"
        assert requests.get(thumbnail, timeout=TIMEOUT).status_code == 401
        assert session_for(fake).get(thumbnail).content == PNG[:50]


# --------------------------------------------------------------------------- users


def test_cloud_user_email_variants_in_the_raw_json(cloud: FakeConfluence) -> None:
    raw = {}
    for user in (ANN, HIDDEN, NULL, ABSENT):
        response = api(cloud, "/rest/api/user", accountId=user.account_id)
        assert response.status_code == 200
        raw[user.display_name] = response.text
    assert '"email": "ann@example.com"' in raw["Ann Example"]
    assert '"email": ""' in raw["Bob Hidden"]
    assert '"email": null' in raw["Carol Null"]
    assert '"email"' not in raw["Dave Absent"]
    user = json.loads(raw["Ann Example"])
    assert user["type"] == "known" and user["accountType"] == "atlassian"
    assert user["accountId"].startswith("557058:") and user["publicName"] == "Ann Example"
    assert user["_links"]["self"] == f"{cloud.url}/rest/api/user?accountId={user['accountId']}"
    client = cloud.client()
    assert client.get_user_details_by_accountid(NULL.account_id)["email"] is None
    with pytest.raises(ApiNotFoundError):
        client.get_user_details_by_accountid("557058:nobody")
    assert client.get_current_user()["email"] == "ann@example.com"


def test_dc_users_have_no_top_level_email(dc: FakeConfluence) -> None:
    client = dc.client()
    ann = client.get_user_details_by_username("ann.example")
    assert ann["userKey"] == ANN.user_key and len(ANN.user_key) == 32
    assert "email" not in ann and "status" not in ann and "details" in ann["_expandable"]
    gone = client.get_user_details_by_userkey(GONE.user_key, expand="status")
    assert gone["status"] == "Deactivated" and gone["username"] == "erin.gone"
    personal = api(dc, "/rest/api/user", username="carol.null",
                   expand="details.personal").json()
    assert "email" not in personal and personal["details"]["personal"]["email"] is None
    assert api(dc, "/rest/api/user", key=ABSENT.user_key,
               expand="details.personal").json()["details"]["personal"].get("email",
                                                                            "-") == "-"
    assert client.get_current_user()["username"] == "ann.example"
    with pytest.raises(ApiNotFoundError):
        client.get_user_details_by_username("nobody")


@pytest.mark.parametrize("quote", ['"', "'"])
def test_user_search(fake: FakeConfluence, quote: str) -> None:
    path = "/rest/api/search/user" if fake.site.cloud else "/rest/api/search"
    cql = f"user.fullname~{quote}a{quote}"
    found = api(fake, path, cql=cql).json()
    assert found["totalSize"] == 3 and found["cqlQuery"] == cql
    assert found["size"] == 2 and found["_links"]["next"].startswith(path + "?cql=")
    entry = found["results"][0]
    assert entry["title"] == "Ann Example" and entry["entityType"] == "user"
    assert "email" not in entry["user"] and entry["user"]["displayName"] == "Ann Example"
    everyone = list(follow_pages(session_for(fake), fake.url + path,
                                 params={"cql": f"user.fullname~{quote}A{quote}"}))
    assert [r["title"] for p in everyone for r in p["results"]] == [
        "Ann Example", "Carol Null", "Dave Absent"]
    assert api(fake, path, cql="label = release").status_code == 400  # unsupported CQL


def test_watchers(cloud: FakeConfluence, dc: FakeConfluence) -> None:
    pages = list(follow_pages(session_for(cloud),
                              cloud.url + "/rest/api/content/98487/notification/child-created"))
    watches = [w for p in pages for w in p["results"]]
    assert len(pages) == 3 and {w["type"] for w in watches} == {"watch"}
    assert {w["contentId"] for w in watches} == {"98487"}
    watchers = [w["watcher"] for w in watches]
    assert [w.get("email", "<absent>") for w in watchers] == [
        "ann@example.com", "", None, "<absent>", ""]
    assert watchers[-1]["accountType"] == "app" and watchers[0]["type"] == "known"
    assert api(cloud, "/rest/api/content/65639/notification/child-created").status_code == 404
    assert api(dc, "/rest/api/content/98487/notification/child-created").status_code == 404


# --------------------------------------------------------------------------- faults, recording


def test_faults_are_served_first_in_first_out(cloud: FakeConfluence) -> None:
    cloud.fail(Fault.rate_limited("/rest/api/content", retry_after=7),
               Fault.bad_gateway("/rest/api/content/98487"),
               Fault.login_page(""),
               Fault.truncated_json("/rest/api/content/98487"),
               Fault.truncated_json("/rest/api/content/98487", cut_connection=True))
    with session_for(cloud) as session:
        other = session.get(cloud.url + "/rest/api/user/current")  # takes the login page
        assert other.status_code == 200 and "os_password" in other.text
        url = cloud.url + "/rest/api/content/98487"
        limited = session.get(url)
        assert limited.status_code == 429 and limited.headers["Retry-After"] == "7"
        assert limited.json()["statusCode"] == 429
        assert session.get(url).status_code == 502
        with pytest.raises(requests.JSONDecodeError):
            session.get(url).json()
        with pytest.raises(requests.exceptions.ChunkedEncodingError):
            session.get(url)
        assert session.get(url).json()["id"] == "98487"
    assert cloud.faults == []


def test_the_client_retries_one_429_with_retry_after(dc: FakeConfluence) -> None:
    dc.fail(Fault.rate_limited("/rest/api/content/98487", retry_after=0))
    assert dc.client().get_page_by_id("98487")["id"] == "98487"
    dc.fail(*[Fault.rate_limited("/rest/api/content", retry_after=0)] * 2)
    with pytest.raises(requests.HTTPError) as caught:
        dc.client().get_page_by_id("98487")
    assert caught.value.response is not None and caught.value.response.status_code == 429
    assert [r.status for r in dc.requests] == [429, 200, 429, 429]


def test_every_request_is_recorded_and_latency_applies(dc: FakeConfluence) -> None:
    dc.latency = 0.05
    began = time.monotonic()
    requests.post(dc.url + "/rest/api/content", json={}, timeout=TIMEOUT)
    requests.get(dc.url + "/nothing/here?x=1", timeout=TIMEOUT)
    requests.get(f"http://127.0.0.1:{dc.port}/rest/api/content/98487", timeout=TIMEOUT)
    assert time.monotonic() - began >= 0.15
    assert [(r.method, r.path, r.query, r.status) for r in dc.requests] == [
        ("POST", "/confluence/rest/api/content", {}, 405),
        ("GET", "/confluence/nothing/here", {"x": ["1"]}, 401),
        ("GET", "/rest/api/content/98487", {}, 404),
    ]
    env = dc.env()
    assert env == {"MAILPAGE_CONFLUENCE_URL": dc.url,
                   "MAILPAGE_CONFLUENCE_DEPLOYMENT": "datacenter",
                   "MAILPAGE_CONFLUENCE_TOKEN": "tok-secret", "MAILPAGE_CONFLUENCE_AUTH": "bearer"}


def test_cloud_env() -> None:
    env = FakeConfluence(make_site("cloud", "/wiki")).env()
    assert env["MAILPAGE_CONFLUENCE_USER"] == "ann@example.com"
    assert env["MAILPAGE_CONFLUENCE_AUTH"] == "basic"
    assert env["MAILPAGE_CONFLUENCE_DEPLOYMENT"] == "cloud"


def test_stop_leaves_no_threads_or_ports() -> None:
    before = set(threading.enumerate())
    fake = FakeConfluence(make_site("cloud", "/wiki")).start()
    client = fake.client()  # keeps a keep-alive connection open
    client.get_page_by_id("98487")
    session = session_for(fake)
    session.get(fake.url + "/download/attachments/98487/shot%200.png")
    fake.stop()
    assert set(threading.enumerate()) <= before
    for host, port in (("127.0.0.1", fake.port), ("127.0.0.2", fake.media_port)):
        with socket.socket() as probe, pytest.raises(ConnectionRefusedError):
            probe.connect((host, port))
    session.close()


# --------------------------------------------------------------------------- OpenAPI shapes


def missing_required(instance: Any, schema: dict[str, Any], schemas: dict[str, Any],
                     where: str = "$") -> list[str]:
    """The required properties of ``schema`` (and of the schemas of the properties and items
    present, recursively) that ``instance`` lacks. ``$ref`` resolved by hand."""
    while "$ref" in schema:
        schema = schemas[schema["$ref"].rsplit("/", 1)[-1]]
    problems: list[str] = []
    if isinstance(instance, dict):
        problems += [f"{where}.{name}" for name in schema.get("required", [])
                     if name not in instance]
        for name, sub in schema.get("properties", {}).items():
            if name in instance:
                problems += missing_required(instance[name], sub, schemas, f"{where}.{name}")
    elif isinstance(instance, list) and "items" in schema:
        for index, item in enumerate(instance):
            problems += missing_required(item, schema["items"], schemas, f"{where}[{index}]")
    return problems


@pytest.fixture(scope="module")
def schemas() -> dict[str, Any]:
    return json.loads(OPENAPI.read_text())["schemas"]  # type: ignore[no-any-return]


def test_bodies_have_the_openapi_required_properties(cloud: FakeConfluence,
                                                    schemas: dict[str, Any]) -> None:
    group = api(cloud, "/rest/api/group/by-name", name="release team").json()
    watched = FakeConfluence(Site("cloud", "/wiki", me=ANN, pages=[
        Page("7", "Watched", watchers=[ANN, HIDDEN, NULL, BOT])])).start()
    try:
        watches = api(watched, "/rest/api/content/7/notification/child-created").json()
    finally:
        watched.stop()
    bodies = {
        "Content": api(cloud, "/rest/api/content/98487",
                       expand="body.view,body.export_view,version,space,history,"
                              "history.lastUpdated").json(),
        "ContentArray": api(cloud, "/rest/api/content", spaceKey="ENG",
                            expand="version,space").json(),
        "ContentArray ": api(cloud, "/rest/api/content/98487/child/attachment").json(),
        "User": api(cloud, "/rest/api/user/current").json(),
        "User ": api(cloud, "/rest/api/user", accountId=ABSENT.account_id).json(),
        "Group": group,
        "UserArray": api(cloud, f"/rest/api/group/{group['id']}/membersByGroupId").json(),
        "WatchArray": watches,
        "SearchPageResponseSearchResult": api(cloud, "/rest/api/search/user",
                                              cql='user.fullname~"e"').json(),
    }
    for name, body in bodies.items():
        assert missing_required(body, {"$ref": name.strip()}, schemas) == [], name
    assert missing_required({"results": []}, {"$ref": "WatchArray"}, schemas) == [
        "$._links", "$.limit", "$.size", "$.start"]
