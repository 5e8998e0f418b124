"""The fake's Atlassian cloud around a Cloud site (docs/atlassian-identities.md): tenant_info, the
api.atlassian.com gateway with scoped API tokens and service-account OAuth tokens, the
organization directory, and REST v2. Checked with ``requests`` and atlassian-python-api directly
(not mailpage)."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests
from atlassian import ConfluenceServer
from atlassian.cloud_admin import CloudAdminOrgs
from atlassian.rest_client import AtlassianRestAPI

from tests.support.confluence_server import (
    MINIMAL_CLASSIC_SCOPES,
    MISSING,
    Attachment,
    FakeConfluence,
    Page,
    Site,
    User,
    group_id,
    space_id,
)

TIMEOUT = 5
ME = User("Ann Example", "ann@example.com")
HIDDEN = User("Bob Hidden", "", directory_email="bob@corp.example")  # only the org knows it
NULL = User("Carol Null", None)  # no address anywhere: not a managed account
BOT = User("Deploy Bot", MISSING, account_type="app")
FILES = [Attachment(f"shot {n}.png", "image/png", bytes([n]) * (10 + n)) for n in range(5)]


def _site() -> Site:
    return Site("cloud", "/wiki", me=ME, users=[HIDDEN, NULL, BOT], groups={"team": [ME, HIDDEN]},
                pages=[Page("98487", "Release notes", view="<p>view</p>",
                            export_view="<p>export</p>", attachments=FILES,
                            watchers=[HIDDEN]),
                       Page("65639", "Secret", restricted=True),
                       Page("70001", "Weekly", type="blogpost", posting_day="2026-11-20",
                            attachments=[Attachment("a.txt", "text/plain", b"hello")]),
                       Page("70002", "Other space", space_key="OPS", space_name="Operations")])


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeConfluence]:
    with FakeConfluence(_site()) as running:
        yield running


def _basic(email: str, token: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{email}:{token}".encode()).decode()}


class LoopbackAdminOrgs(CloudAdminOrgs):
    """``CloudAdminOrgs`` pointed at another host: its ``__init__`` hard-codes
    ``url=https://api.atlassian.com``, so set up the same ``AtlassianRestAPI`` (Bearer admin
    key, api_root "admin", api_version "v1") with our url and keep its methods."""

    def __init__(self, admin_api_key: str, url: str, **kwargs: Any) -> None:
        kwargs |= {"token": admin_api_key, "api_root": "admin", "api_version": "v1"}
        AtlassianRestAPI.__init__(self, url=url, **kwargs)


# --------------------------------------------------------------------------- tenant_info


def test_tenant_info_answers_the_cloud_id_without_authentication(fake: FakeConfluence) -> None:
    response = requests.get(fake.tenant_info_url, timeout=TIMEOUT)
    assert response.status_code == 200
    assert response.json() == {"cloudId": fake.cloud_id}
    assert fake.requests[-1].authorization is None
    assert len(fake.cloud_id) == 36 and fake.cloud_id.count("-") == 4


def test_data_center_has_no_tenant_info_and_no_gateway() -> None:
    with FakeConfluence(Site("datacenter", "/confluence", me=ME)) as dc:
        assert requests.get(dc.tenant_info_url, timeout=TIMEOUT).status_code == 404
        assert dc.gateway_port == 0


# --------------------------------------------------------------------------- scoped API tokens


def test_a_scoped_token_is_refused_by_the_site_and_accepted_by_the_gateway(
        fake: FakeConfluence) -> None:
    token = fake.scoped_token(fake.minimal_scopes)
    site = ConfluenceServer(fake.url, username=ME.email, password=token, cloud=True)
    with pytest.raises(requests.HTTPError) as refused:
        site.get("rest/api/user/current")
    assert refused.value.response.status_code == 401

    gateway = ConfluenceServer(fake.gateway_wiki_url, username=ME.email, password=token,
                               cloud=True)
    page = gateway.get_page_by_id("98487", expand="body.export_view,version")
    assert page["body"]["export_view"]["value"] == "<p>export</p>"
    assert page["_links"]["base"] == fake.url  # the SITE, not the gateway
    assert gateway.get("rest/api/user/current")["accountId"] == ME.account_id
    assert fake.gateway_requests[-1].path == urlsplit(fake.gateway_wiki_url).path + (
        "/rest/api/user/current")

    bearer = requests.get(f"{fake.gateway_wiki_url}/rest/api/user/current", timeout=TIMEOUT,
                          headers={"Authorization": f"Bearer {token}"})
    assert bearer.status_code == 200  # users report scoped tokens also work as Bearer


def test_the_gateway_refuses_other_credentials_and_cloud_ids(fake: FakeConfluence) -> None:
    token = fake.scoped_token(fake.minimal_scopes)
    url = f"{fake.gateway_wiki_url}/rest/api/user/current"
    for headers in ({}, _basic(ME.email, fake.site.token), _basic("eve@example.com", token),
                    {"Authorization": "Bearer nope"}):
        response = requests.get(url, headers=headers, timeout=TIMEOUT)
        assert response.status_code == 401
        assert response.json() == {"code": 401, "message": "Unauthorized"}
    wrong = url.replace(fake.cloud_id, "00000000-0000-0000-0000-000000000000")
    assert requests.get(wrong, headers=_basic(ME.email, token), timeout=TIMEOUT).status_code == 404


def test_a_missing_scope_is_refused_with_atlassians_error(fake: FakeConfluence) -> None:
    token = fake.scoped_token({"read:page:confluence"})
    auth = _basic(ME.email, token)
    v1 = requests.get(f"{fake.gateway_wiki_url}/rest/api/content/98487", headers=auth,
                      timeout=TIMEOUT)
    assert v1.status_code == 401
    assert v1.json() == {"code": 401, "message": "Unauthorized; scope does not match"}
    assert v1.headers["X-Failure-Category"] == "FAILURE_CLIENT_SCOPE_CHECK"
    v2 = requests.get(f"{fake.gateway_wiki_url}/api/v2/pages/98487", headers=auth,
                      timeout=TIMEOUT)
    assert v2.status_code == 200

    classic = _basic(ME.email, fake.scoped_token(MINIMAL_CLASSIC_SCOPES))
    assert requests.get(f"{fake.gateway_wiki_url}/rest/api/content/98487", headers=classic,
                        timeout=TIMEOUT).status_code == 200
    assert requests.get(f"{fake.gateway_wiki_url}/api/v2/pages/98487", headers=classic,
                        timeout=TIMEOUT).status_code == 401  # v2 knows only granular scopes


def test_minimal_scopes_cover_every_read_a_send_makes(fake: FakeConfluence) -> None:
    auth = _basic(ME.email, fake.scoped_token(fake.minimal_scopes))
    wiki = fake.gateway_wiki_url
    for path in ["/rest/api/content/98487?expand=body.export_view",
                 "/rest/api/content?spaceKey=ENG&title=Release%20notes&type=page",
                 "/rest/api/content/98487/child/attachment",
                 "/rest/api/content/98487/notification/child-created",
                 "/rest/api/user/current", f"/rest/api/user?accountId={HIDDEN.account_id}",
                 '/rest/api/search/user?cql=user.fullname~"Bob"',
                 "/rest/api/search?cql=type=page", "/rest/api/group/by-name?name=team",
                 f"/rest/api/group/{group_id('team')}/membersByGroupId",
                 "/api/v2/pages/98487?body-format=export_view", "/api/v2/blogposts/70001",
                 "/api/v2/spaces?keys=ENG", "/api/v2/pages/98487/attachments"]:
        response = requests.get(wiki + path, headers=auth, timeout=TIMEOUT)
        assert response.status_code == 200, (path, response.text)


def test_attachments_download_through_the_rest_endpoint_not_the_servlet(
        fake: FakeConfluence) -> None:
    auth = _basic(ME.email, fake.scoped_token(fake.minimal_scopes))
    attachment = FILES[1]
    servlet = requests.get(f"{fake.gateway_wiki_url}/download/attachments/98487/shot%201.png",
                           headers=auth, timeout=TIMEOUT)
    assert servlet.status_code == 401
    rest = (f"{fake.gateway_wiki_url}/rest/api/content/98487/child/attachment/"
            f"{attachment.id}/download")
    first = requests.get(rest, headers=auth, timeout=TIMEOUT, allow_redirects=False)
    assert first.status_code == 302
    assert urlsplit(first.headers["Location"]).hostname == "127.0.0.2"
    followed = requests.get(rest, headers=auth, timeout=TIMEOUT)  # requests drops the header
    assert followed.content == attachment.data
    assert fake.media_requests[-1].authorization is None
    # the site serves the same REST download to the classic token
    site = ConfluenceServer(fake.url, username=ME.email, password=fake.site.token, cloud=True)
    path = f"rest/api/content/98487/child/attachment/{attachment.id}/download"
    assert site.get(path, not_json_response=True) == attachment.data


# --------------------------------------------------------------------------- service accounts


def test_a_service_account_exchanges_its_credential_and_calls_the_gateway(
        fake: FakeConfluence) -> None:
    client_id, secret = fake.service_account()
    response = requests.post(fake.gateway_token_url, timeout=TIMEOUT, json={
        "grant_type": "client_credentials", "client_id": client_id, "client_secret": secret,
        "audience": "api.atlassian.com"})
    assert response.status_code == 200
    answer = response.json()
    assert answer["token_type"] == "Bearer" and answer["expires_in"] == 3600
    assert set(answer["scope"].split()) == fake.minimal_scopes

    gateway = ConfluenceServer(fake.gateway_wiki_url, token=answer["access_token"])
    me = gateway.get("rest/api/user/current")
    bot = fake.service_user(client_id)
    assert me["accountId"] == bot.account_id and me["accountType"] == "app"
    assert "email" not in me
    assert gateway.get("api/v2/pages/98487")["title"] == "Release notes"

    site = requests.get(f"{fake.url}/rest/api/user/current", timeout=TIMEOUT,
                        headers={"Authorization": f"Bearer {answer['access_token']}"})
    assert site.status_code == 401

    form = requests.post(fake.gateway_token_url, timeout=TIMEOUT, data={
        "grant_type": "client_credentials", "client_id": client_id, "client_secret": secret})
    assert form.status_code == 200
    fake.expire_access_tokens()
    with pytest.raises(requests.HTTPError):
        gateway.get("rest/api/user/current")


def test_the_token_endpoint_refuses_bad_requests(fake: FakeConfluence) -> None:
    client_id, secret = fake.service_account(scopes={"read:page:confluence"})
    post = lambda **body: requests.post(fake.gateway_token_url, json=body, timeout=TIMEOUT)  # noqa: E731
    assert post(grant_type="client_credentials", client_id=client_id,
                client_secret="wrong").status_code == 401
    assert post(grant_type="password", client_id=client_id,
                client_secret=secret).json()["error"] == "unsupported_grant_type"
    scoped = post(grant_type="client_credentials", client_id=client_id, client_secret=secret)
    token = scoped.json()["access_token"]
    refused = requests.get(f"{fake.gateway_wiki_url}/rest/api/search?cql=type=page",
                           headers={"Authorization": f"Bearer {token}"}, timeout=TIMEOUT)
    assert refused.status_code == 401 and "scope" in refused.json()["message"]


# --------------------------------------------------------------------------- org directory


def test_the_directory_knows_an_email_confluence_hides(fake: FakeConfluence) -> None:
    confluence = ConfluenceServer(fake.url, username=ME.email, password=fake.site.token,
                                  cloud=True)
    assert confluence.get("rest/api/user", params={"accountId": HIDDEN.account_id})["email"] == ""

    admin = LoopbackAdminOrgs(fake.admin_key, fake.gateway_url)
    found = admin.search_users_in_organization(fake.org_id, account_ids=[HIDDEN.account_id],
                                               expand=["EMAIL", "NAME"])
    assert found["data"] == [{"accountId": HIDDEN.account_id, "accountType": "atlassian",
                              "accountStatus": "active", "name": "Bob Hidden",
                              "nickname": "Bob", "email": "bob@corp.example"}]
    sent = fake.gateway_requests[-1]
    assert sent.method == "GET" and sent.path == f"/admin/v1/orgs/{fake.org_id}/users/search"
    assert sent.query["accountIds"] == [HIDDEN.account_id]
    assert sent.authorization == f"Bearer {fake.admin_key}"

    without = admin.search_users_in_organization(fake.org_id, account_ids=[HIDDEN.account_id])
    assert "email" not in without["data"][0]  # v1 gives the address only with expand EMAIL
    nobody = admin.search_users_in_organization(fake.org_id, account_ids=[NULL.account_id],
                                                expand=["EMAIL"])
    assert nobody["data"] == []  # no address known: not a managed account

    with pytest.raises(requests.HTTPError):
        LoopbackAdminOrgs("wrong", fake.gateway_url).search_users_in_organization(fake.org_id)


def test_the_documented_directory_searches_page_with_a_cursor(fake: FakeConfluence) -> None:
    url = f"{fake.gateway_url}/admin/v1/orgs/{fake.org_id}/users/search"
    headers = {"Authorization": f"Bearer {fake.admin_key}"}
    emails: dict[str, str] = {}
    body: dict[str, Any] = {"expand": ["EMAIL"], "limit": 100}
    while True:
        page = requests.post(url, json=body, headers=headers, timeout=TIMEOUT).json()
        emails |= {u["accountId"]: u["email"] for u in page["data"]}
        if not page["links"].get("next"):
            break
        body["cursor"] = page["links"]["next"]
    assert emails[HIDDEN.account_id] == "bob@corp.example"
    assert emails[ME.account_id] == "ann@example.com"
    assert NULL.account_id not in emails and BOT.account_id not in emails

    directories = requests.get(f"{fake.gateway_url}/admin/v2/orgs/{fake.org_id}/directories",
                               headers=headers, timeout=TIMEOUT).json()
    assert directories["data"][0]["directoryId"] == fake.directory_id
    v2 = requests.get(f"{fake.gateway_url}/admin/v2/orgs/{fake.org_id}/directories/-/users",
                      params={"accountIds": HIDDEN.account_id}, headers=headers,
                      timeout=TIMEOUT).json()
    assert v2["data"][0]["email"] == "bob@corp.example"  # v2 always gives it
    assert requests.post(url, json={}, timeout=TIMEOUT).status_code == 401


# --------------------------------------------------------------------------- REST v2


def test_v2_page_and_blog_post_with_export_view(fake: FakeConfluence) -> None:
    client = ConfluenceServer(fake.url, username=ME.email, password=fake.site.token, cloud=True)
    page = client.get("api/v2/pages/98487", params={"body-format": "export_view"})
    assert page["title"] == "Release notes" and page["version"]["number"] == 1
    assert page["spaceId"] == str(space_id("ENG")) and page["status"] == "current"
    assert page["body"] == {"export_view": {"representation": "export_view",
                                            "value": "<p>export</p>"}}
    assert page["_links"]["base"] == fake.url
    assert page["_links"]["webui"] == "/spaces/ENG/pages/98487/Release+notes"
    assert client.get("api/v2/pages/98487")["body"] == {}
    blog = client.get("api/v2/blogposts/70001", params={"body-format": "view"})
    assert blog["body"]["view"]["value"] == "<p>Hello</p>" and "parentId" not in blog
    for path in ("api/v2/pages/65639", "api/v2/pages/70001", "api/v2/blogposts/98487"):
        response = requests.get(f"{fake.url}/{path}", timeout=TIMEOUT,
                                headers=_basic(ME.email, fake.site.token))
        assert response.status_code == 404
        assert response.json()["errors"][0]["code"] == "NOT_FOUND"


def test_v2_page_by_space_key_and_title(fake: FakeConfluence) -> None:
    client = ConfluenceServer(fake.url, username=ME.email, password=fake.site.token, cloud=True)
    spaces = client.get("api/v2/spaces", params={"keys": "OPS"})["results"]
    assert [(s["key"], s["name"]) for s in spaces] == [("OPS", "Operations")]
    found = client.get("api/v2/pages", params={"space-id": spaces[0]["id"],
                                               "title": "Other space"})
    assert [p["id"] for p in found["results"]] == ["70002"]
    assert client.get("api/v2/pages", params={"space-id": spaces[0]["id"],
                                              "title": "Release notes"})["results"] == []


@pytest.mark.parametrize("through_gateway", [False, True])
def test_v2_attachments_page_with_a_cursor(fake: FakeConfluence, through_gateway: bool) -> None:
    if through_gateway:
        root, auth = fake.gateway_site_url, _basic(ME.email, fake.scoped_token(fake.minimal_scopes))
    else:
        root, auth = fake.root, _basic(ME.email, fake.site.token)
    url: str | None = f"{root}/wiki/api/v2/pages/98487/attachments"
    seen = []
    while url:
        response = requests.get(url, headers=auth, timeout=TIMEOUT)
        assert response.status_code == 200, response.text
        data = response.json()
        assert len(data["results"]) <= fake.site.page_size
        seen += data["results"]
        assert data["_links"]["base"] == fake.url
        following = data["_links"].get("next")
        if following:  # relative to the site ROOT: it starts with the context path already
            assert following.startswith("/wiki/api/v2/pages/98487/attachments?")
            assert "cursor=" in following and response.headers["Link"].startswith(
                f"<{following}>")
        url = root + following if following else None
    assert [a["title"] for a in seen] == [f.filename for f in FILES]
    first = seen[0]
    assert first["mediaType"] == "image/png" and first["fileSize"] == len(FILES[0].data)
    assert first["pageId"] == "98487" and first["id"] == FILES[0].id
    assert first["downloadLink"].startswith("/download/attachments/98487/shot%200.png?")
