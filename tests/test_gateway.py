"""Confluence Cloud through Atlassian's API gateway (scoped API tokens): every API call and
download goes to ``/ex/confluence/{cloudId}``, the links in the mail still point at the site,
and no credential goes anywhere else. Against the loopback Cloud site and its gateway."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from email import message_from_bytes, policy
from pathlib import Path

import pytest

from mailpage_cli import sites
from tests.conftest import run, set_env
from tests.support import smtp
from tests.support.confluence_server import FakeConfluence
from tests.test_confluence import CHART, DIAGRAM, make_site_data

PAGE = "98487"


@pytest.fixture
def cloud() -> Iterator[FakeConfluence]:
    with FakeConfluence(make_site_data("cloud", "/wiki")) as fake:
        yield fake


def set_site(fake: FakeConfluence, token: str, *more: str) -> str:
    result = run("config", "set-site", fake.root, "--user", str(fake.site.me.email),
                 "--deployment", "cloud", "--token-stdin", *more, input=token + "\n")
    assert result.exit_code == 0, result.stderr
    return result.stderr


def test_a_scoped_token_with_the_minimal_scopes_sends_the_page_through_the_gateway(
    cloud: FakeConfluence, smtp_env: smtp.SmtpServer,
) -> None:
    token = cloud.scoped_token(cloud.minimal_scopes)
    said = set_site(cloud, token, "--api-gateway", cloud.gateway_url)
    assert f"through the API gateway {cloud.gateway_url} (cloud id {cloud.cloud_id})" in said
    before = len(cloud.requests)
    result = run("send", f"{cloud.url}/spaces/ENG/pages/{PAGE}", "--to", "me", "--cc",
                 "group:release-team", "--attachments", "--json")
    assert result.exit_code == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["page"]["url"] == f"{cloud.url}/spaces/ENG/pages/{PAGE}/Release+notes+2.4"
    assert report["recipients"]["cc"] == ["bob@example.com", "cy@example.com",
                                          "dee@example.com"]
    # Nothing with a credential went to the site; the gateway got it all.
    assert [r for r in cloud.requests[before:] if r.authorization] == []
    asked = [r.path for r in cloud.gateway_requests]
    assert asked and all(p.startswith(f"/ex/confluence/{cloud.cloud_id}/wiki/") for p in asked)
    assert any(p.endswith("/download") for p in asked)  # REST downloads, not /download/
    (received,) = smtp_env.received
    msg = message_from_bytes(received.data, policy=policy.default)
    inline = [p.get_content() for p in msg.walk() if p["Content-ID"]]
    assert sorted(inline) == sorted([CHART, DIAGRAM])  # the page's images, through the gateway
    assert len(list(msg.iter_attachments())) == 5
    html = msg.get_body(("html",)).get_content()
    assert f'href="{cloud.url}/spaces/ENG/pages/{PAGE}/Release+notes+2.4"' in html
    assert cloud.gateway_url not in html


def test_set_site_detects_a_scoped_token(
    cloud: FakeConfluence, monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(sites, "GATEWAY", cloud.gateway_url)  # api.atlassian.com
    said = set_site(cloud, cloud.scoped_token(cloud.minimal_scopes))
    assert "through the API gateway" in said
    shown = json.loads(run("config", "show", "--json").stdout)["settings"]
    assert shown["confluence.cloud_id"]["value"] == cloud.cloud_id
    assert run("send", PAGE, "--to", "me", "--dry-run").exit_code == 0


def test_a_classic_token_stays_on_the_site(
    cloud: FakeConfluence, monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(sites, "GATEWAY", cloud.gateway_url)
    said = set_site(cloud, cloud.site.token)
    assert "gateway" not in said
    assert cloud.gateway_requests == []
    assert run("send", PAGE, "--to", "me", "--dry-run").exit_code == 0


def test_a_token_stored_for_the_gateway_is_not_sent_to_the_site(
    cloud: FakeConfluence,
) -> None:
    set_site(cloud, cloud.scoped_token(cloud.minimal_scopes), "--api-gateway",
             cloud.gateway_url)
    # The site set again without the gateway (and without a new token):
    again = run("config", "set-site", cloud.root, "--user", str(cloud.site.me.email),
                "--deployment", "cloud")
    assert again.exit_code == 0, again.stderr
    requests_before = len(cloud.requests)
    result = run("send", PAGE, "--to", "me", "--dry-run")
    assert result.exit_code == 3
    assert "stored for http://127.0.0.3" in result.stderr and "not sent to" in result.stderr
    assert [r for r in cloud.requests[requests_before:] if r.authorization] == []


def test_a_missing_scope_is_an_auth_error_naming_the_scopes(
    cloud: FakeConfluence,
) -> None:
    scopes = set(cloud.minimal_scopes) - {"read:attachment:confluence"}
    set_site(cloud, cloud.scoped_token(scopes), "--api-gateway", cloud.gateway_url)
    result = run("send", PAGE, "--to", "me", "--attachments", "--dry-run")
    assert result.exit_code == 4
    assert "scope" in result.stderr


def test_the_gateway_path_of_another_site_gets_no_credentials() -> None:
    site = sites.make_site("https://acme.atlassian.net", "cloud", "basic", "a@b.c",
                                "https://api.atlassian.com", "1111-2222")
    assert site.serves("https://api.atlassian.com/ex/confluence/1111-2222/wiki/rest/api/x")
    assert not site.serves("https://api.atlassian.com/ex/confluence/9999/wiki/rest/api/x")
    assert not site.serves("https://acme.atlassian.net/wiki/rest/api/x")
    assert site.to_api("https://acme.atlassian.net/wiki/rest/api/x?a=1") == (
        "https://api.atlassian.com/ex/confluence/1111-2222/wiki/rest/api/x?a=1")


def test_a_scope_missing_for_an_api_call_says_so(cloud: FakeConfluence) -> None:
    scopes = set(cloud.minimal_scopes) - {"read:page:confluence", "read:content-details:confluence"}
    set_site(cloud, cloud.scoped_token(scopes), "--api-gateway", cloud.gateway_url)
    result = run("send", PAGE, "--to", "a@example.com", "--dry-run")
    assert result.exit_code == 4
    assert "scope does not match" in result.stderr
    assert "scopes the README lists" in result.stderr


# Atlassian service accounts


def test_a_service_account_signs_in_with_client_credentials_at_the_gateway(
    cloud: FakeConfluence, smtp_env: smtp.SmtpServer,
) -> None:
    client_id, client_secret = cloud.service_account()
    result = run("config", "set-site", cloud.root, "--auth", "oauth2", "--user", client_id,
                 "--deployment", "cloud", "--token-stdin", "--api-gateway", cloud.gateway_url,
                 input=client_secret + "\n")
    assert result.exit_code == 0, result.stderr
    sent = run("send", PAGE, "--to", "group:release-team", "--attachments", "--json")
    assert sent.exit_code == 0, sent.stderr
    assert json.loads(sent.stdout)["delivered"] == ["bob@example.com", "cy@example.com",
                                                    "dee@example.com", "ann@example.com"]
    exchanges = [r for r in cloud.gateway_requests if r.path == "/oauth/token"]
    assert len(exchanges) == 1
    assert client_secret not in sent.stdout + sent.stderr
    me = run("recipients", "me")
    assert me.exit_code == 5
    assert "`me` is the service account mailpage bot, which has no mailbox" in me.stderr


def test_a_wrong_client_secret_is_exit_4(cloud: FakeConfluence) -> None:
    client_id, _ = cloud.service_account()
    result = run("config", "set-site", cloud.root, "--auth", "oauth2", "--user", client_id,
                 "--deployment", "cloud", "--token-stdin", "--api-gateway", cloud.gateway_url,
                 input="wrong\n")
    assert result.exit_code == 0, result.stderr
    sent = run("send", PAGE, "--to", "a@example.com", "--dry-run")
    assert sent.exit_code == 4
    assert "refused the service account's client credentials" in sent.stderr


# The organization directory


@pytest.fixture
def hidden_in_directory(cloud: FakeConfluence) -> str:
    """Hidden Hilda's address: in the organization's directory only."""
    hilda = next(u for u in cloud.site.users if u.display_name == "Hidden Hilda")
    twin = dataclasses.replace(hilda, directory_email="hilda@corp.example")
    cloud.site.users[cloud.site.users.index(hilda)] = twin
    for members in cloud.site.groups.values():
        members[:] = [twin if m is hilda else m for m in members]
    return "hilda@corp.example"


def test_the_directory_fills_in_hidden_addresses_with_the_admin_key(
    cloud: FakeConfluence, hidden_in_directory: str, monkeypatch: pytest.MonkeyPatch,
) -> None:
    set_env(monkeypatch, cloud.env())
    result = run("config", "set-directory", cloud.org_id, "--api", cloud.gateway_url,
                 "--key-stdin", input=cloud.admin_key + "\n")
    assert result.exit_code == 0, result.stderr
    found = run("recipients", "group:secret-keepers", "--json")
    assert found.exit_code == 0, found.stderr
    rows = json.loads(found.stdout)["recipients"]
    assert [(r["address"], r["found_in"]) for r in rows] == [
        ("bob@example.com", "confluence"), (hidden_in_directory, "directory")]
    searches = [r for r in cloud.gateway_requests if r.path.endswith("/users/search")]
    assert len(searches) == 1 and searches[0].method == "POST"  # asked only for Hilda
    assert cloud.admin_key not in found.stdout + found.stderr


def test_the_address_book_is_asked_before_the_directory(
    cloud: FakeConfluence, hidden_in_directory: str, monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    book = tmp_path / "book.toml"
    book.write_text('"Hidden Hilda" = "hilda@home.example"\n')
    set_env(monkeypatch, {**cloud.env(), "MAILPAGE_ADDRESS_BOOK": str(book),
                          "MAILPAGE_ATLASSIAN_ORG_ID": cloud.org_id,
                          "MAILPAGE_ATLASSIAN_API": cloud.gateway_url,
                          "MAILPAGE_ATLASSIAN_ADMIN_KEY": cloud.admin_key})
    rows = json.loads(run("recipients", "group:secret-keepers", "--json").stdout)["recipients"]
    assert rows[1]["address"] == "hilda@home.example"
    assert [r for r in cloud.gateway_requests if r.path.endswith("/users/search")] == []


def test_a_wrong_admin_key_is_exit_4(
    cloud: FakeConfluence, hidden_in_directory: str, monkeypatch: pytest.MonkeyPatch,
) -> None:
    set_env(monkeypatch, {**cloud.env(), "MAILPAGE_ATLASSIAN_ORG_ID": cloud.org_id,
                          "MAILPAGE_ATLASSIAN_API": cloud.gateway_url,
                          "MAILPAGE_ATLASSIAN_ADMIN_KEY": "wrong"})
    result = run("recipients", "group:secret-keepers")
    assert result.exit_code == 4
    assert "refused the admin API key" in result.stderr
