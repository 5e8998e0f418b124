"""Self-tests of the OAuth2 test infrastructure: the loopback identity provider
(tests/support/idp.py) driven by the real msal, google-auth and google-auth-oauthlib over
HTTPS, and the OAuth2 SMTP AUTH of tests/support/smtp.py driven by smtplib. No mailpage here:
these prove the fakes behave like Microsoft, Google, Gmail and Exchange Online, so that
mailpage's own tests can trust them."""

from __future__ import annotations

import base64
import datetime
import json
import smtplib
import ssl
import threading
import webbrowser
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs, urlsplit

import msal
import pytest
import requests
import trustme
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from google.auth.exceptions import RefreshError
from google.auth.transport.requests import Request
from google.oauth2 import service_account
from google_auth_oauthlib.flow import InstalledAppFlow
from oauthlib.oauth2.rfc6749.errors import AccessDeniedError

from tests.support import smtp
from tests.support.idp import (
    EXCHANGE_APP_SCOPE,
    GMAIL_SCOPE,
    SMTP_SEND_SCOPE,
    BrowserError,
    IdentityProvider,
)

ANN = "ann@example.com"
BOB = "bob@example.com"
PUBLIC_ID = "11111111-aaaa-4bbb-8ccc-000000000001"
APP_ID = "22222222-aaaa-4bbb-8ccc-000000000002"
APP_SECRET = "app~secret.value_123"
GOOGLE_ID = "123456789012-abc.apps.googleusercontent.com"
GOOGLE_SECRET = "GOCSPX-desktop-secret"


# --------------------------------------------------------------------------- fixtures


@pytest.fixture
def idp(idp: IdentityProvider) -> IdentityProvider:
    """The shared provider, with this module's public and Google clients."""
    idp.public_client(PUBLIC_ID)
    idp.google_client(GOOGLE_ID, GOOGLE_SECRET)
    return idp


def public_app(idp: IdentityProvider) -> msal.PublicClientApplication:
    return msal.PublicClientApplication(PUBLIC_ID, authority=idp.microsoft_authority(),
                                        instance_discovery=False)


def device_flow_token(idp: IdentityProvider, user: str = ANN) -> dict[str, Any]:
    """Sign ``user`` in by device code, approving before msal polls (no waiting)."""
    app = public_app(idp)
    flow = app.initiate_device_flow(scopes=[SMTP_SEND_SCOPE])
    idp.approve_device_code(flow["user_code"], user)
    result: dict[str, Any] = app.acquire_token_by_device_flow(flow)
    assert "access_token" in result, result
    return result


def self_signed(common_name: str = "mailpage-test") -> tuple[bytes, bytes, x509.Certificate]:
    """(private key PEM, certificate PEM, certificate), as an admin makes for an app."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
                   .public_key(key.public_key()).serial_number(x509.random_serial_number())
                   .not_valid_before(now - datetime.timedelta(days=1))
                   .not_valid_after(now + datetime.timedelta(days=30))
                   .sign(key, hashes.SHA256()))
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    return key_pem, certificate.public_bytes(serialization.Encoding.PEM), certificate


# --------------------------------------------------------------------------- Microsoft


def test_openid_configuration_has_what_msal_reads(idp: IdentityProvider) -> None:
    answer = requests.get(idp.microsoft_authority("fabrikam")
                          + "/v2.0/.well-known/openid-configuration", timeout=5)
    config = answer.json()
    base = idp.url + "/fabrikam/oauth2/v2.0"
    assert (config["authorization_endpoint"], config["token_endpoint"],
            config["device_authorization_endpoint"]) == (
        base + "/authorize", base + "/token", base + "/devicecode")
    assert config["issuer"].startswith(idp.url + "/")


def test_device_flow_pending_until_the_user_signs_in(idp: IdentityProvider) -> None:
    app = public_app(idp)
    flow = app.initiate_device_flow(scopes=[SMTP_SEND_SCOPE])
    assert flow["interval"] == 0 and flow["user_code"] in flow["message"]
    assert flow["verification_uri"] == idp.url + "/devicelogin"
    signed_in = threading.Event()

    def human() -> None:  # reads the code off the terminal once msal is polling
        while not any(path.endswith("/token") for _, path, _ in list(idp.requests)):
            signed_in.wait(0.005)
        idp.approve_device_code(flow["user_code"], ANN)

    thread = threading.Thread(target=human)
    thread.start()
    result = app.acquire_token_by_device_flow(flow)
    thread.join()
    assert result["token_type"] == "Bearer" and result["expires_in"] == 3600
    assert idp.check(result["access_token"]) == ANN
    assert idp.scopes_of(result["access_token"]) == {SMTP_SEND_SCOPE}
    assert result["id_token_claims"]["preferred_username"] == ANN
    assert len(result["access_token"]) == 40
    [account] = app.get_accounts()
    assert account["username"] == ANN
    polls = [f for _, path, f in idp.requests if path.endswith("/token")]
    assert all(f["grant_type"] == "urn:ietf:params:oauth:grant-type:device_code" for f in polls)


def test_auto_approve_answers_pending_first(idp: IdentityProvider) -> None:
    idp.auto_approve(BOB, after_polls=2)
    app = public_app(idp)
    result = app.acquire_token_by_device_flow(
        app.initiate_device_flow(scopes=[SMTP_SEND_SCOPE]))
    assert idp.check(result["access_token"]) == BOB
    assert sum(path.endswith("/token") for _, path, _ in idp.requests) == 3


def test_device_code_declined_or_expired(idp: IdentityProvider) -> None:
    app = public_app(idp)
    flow = app.initiate_device_flow(scopes=[SMTP_SEND_SCOPE])
    idp.decline_device_code(flow["user_code"])
    assert app.acquire_token_by_device_flow(flow)["error"] == "authorization_declined"
    idp.device_code_lifetime = 0.2
    flow = app.initiate_device_flow(scopes=[SMTP_SEND_SCOPE])
    result = app.acquire_token_by_device_flow(flow)  # nobody signs in
    assert result["error"] == "expired_token"


def test_delegated_scope_must_include_smtp_send(idp: IdentityProvider) -> None:
    flow = public_app(idp).initiate_device_flow(scopes=["https://graph.microsoft.com/Mail.Send"])
    assert "user_code" not in flow and flow["error"] == "invalid_scope"


def test_refresh_token_rotates_and_the_old_one_is_refused(idp: IdentityProvider) -> None:
    first = device_flow_token(idp)
    app = public_app(idp)
    second = app.acquire_token_by_refresh_token(first["refresh_token"], [SMTP_SEND_SCOPE])
    assert second["refresh_token"] != first["refresh_token"]
    assert idp.check(second["access_token"]) == ANN
    again = app.acquire_token_by_refresh_token(first["refresh_token"], [SMTP_SEND_SCOPE])
    assert again["error"] == "invalid_grant" and "AADSTS70000" in again["error_description"]
    third = app.acquire_token_by_refresh_token(second["refresh_token"], [SMTP_SEND_SCOPE])
    assert "access_token" in third
    assert idp.refresh_tokens_used == [first["refresh_token"], first["refresh_token"],
                                       second["refresh_token"]]


def test_msal_cache_follows_the_rotation(idp: IdentityProvider) -> None:
    idp.auto_approve(ANN, after_polls=0)
    app = public_app(idp)
    app.acquire_token_by_device_flow(app.initiate_device_flow(scopes=[SMTP_SEND_SCOPE]))
    [account] = app.get_accounts()
    assert app.acquire_token_silent([SMTP_SEND_SCOPE], account)["token_source"] == "cache"
    idp.expire_access_tokens()
    for _ in range(2):  # each refresh rotates; msal keeps the new refresh token
        fresh = app.acquire_token_silent([SMTP_SEND_SCOPE], account, force_refresh=True)
        assert fresh and idp.check(fresh["access_token"]) == ANN
    assert len(set(idp.refresh_tokens_used)) == 2


def test_interactive_sign_in_with_form_post(idp: IdentityProvider,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """msal's acquire_token_interactive: its own loopback server, response_mode=form_post,
    PKCE, a nonce in the id_token."""
    browser = idp.web_browser(BOB)
    monkeypatch.setattr(webbrowser, "get", lambda using=None: browser)  # noqa: ARG005
    monkeypatch.setattr(webbrowser, "open", lambda url, new=0, autoraise=True: browser.open(url))  # noqa: ARG005
    result = public_app(idp).acquire_token_interactive([SMTP_SEND_SCOPE], timeout=5)
    assert idp.browser_errors == []
    assert idp.check(result["access_token"]) == BOB
    assert result["id_token_claims"]["preferred_username"] == BOB


def test_fail_next_answers_the_next_token_call(idp: IdentityProvider) -> None:
    first = device_flow_token(idp)
    description = ("AADSTS700082: The refresh token has expired due to inactivity. The token "
                   "was issued on 2026-01-01T00:00:00Z and was inactive for 90.00:00:00.")
    idp.fail_next("invalid_grant", description)
    result = public_app(idp).acquire_token_by_refresh_token(first["refresh_token"],
                                                            [SMTP_SEND_SCOPE])
    assert (result["error"], result["error_description"]) == ("invalid_grant", description)
    retry = public_app(idp).acquire_token_by_refresh_token(first["refresh_token"],
                                                           [SMTP_SEND_SCOPE])
    assert "access_token" in retry  # only the next call failed; the token was not used up


def test_client_credentials_with_a_secret(idp: IdentityProvider) -> None:
    idp.confidential_client(APP_ID, secret=APP_SECRET)
    app = msal.ConfidentialClientApplication(APP_ID, client_credential=APP_SECRET,
                                             authority=idp.microsoft_authority(),
                                             instance_discovery=False)
    result = app.acquire_token_for_client([EXCHANGE_APP_SCOPE])
    assert "refresh_token" not in result and "id_token" not in result
    assert idp.check(result["access_token"]) == f"app:{APP_ID}"
    assert idp.scopes_of(result["access_token"]) == {EXCHANGE_APP_SCOPE}
    assert any(f.get("client_secret") == APP_SECRET for _, _, f in idp.requests)  # kept
    graph = app.acquire_token_for_client(["https://graph.microsoft.com/.default"])
    assert graph["error"] == "invalid_resource"
    wrong = msal.ConfidentialClientApplication(APP_ID, client_credential="not it",
                                               authority=idp.microsoft_authority(),
                                               instance_discovery=False)
    refused = wrong.acquire_token_for_client([EXCHANGE_APP_SCOPE])
    assert refused["error"] == "invalid_client" and "AADSTS7000215" in refused[
        "error_description"]


@pytest.mark.parametrize("form", ["thumbprint", "public_certificate"])
def test_client_credentials_with_a_certificate(idp: IdentityProvider, form: str) -> None:
    key_pem, cert_pem, certificate = self_signed()
    idp.confidential_client(APP_ID, certificate_pem=cert_pem)
    credential = {"private_key": key_pem.decode()}
    if form == "thumbprint":  # RS256, x5t = SHA-1
        credential["thumbprint"] = certificate.fingerprint(hashes.SHA1()).hex()  # noqa: S303
    else:  # PS256, x5t#S256, and the x5c chain
        credential["public_certificate"] = cert_pem.decode()
    app = msal.ConfidentialClientApplication(APP_ID, client_credential=credential,
                                             authority=idp.microsoft_authority(),
                                             instance_discovery=False)
    result = app.acquire_token_for_client([EXCHANGE_APP_SCOPE])
    assert idp.check(result["access_token"]) == f"app:{APP_ID}", result
    [assertion] = [f["client_assertion"] for _, _, f in idp.requests if "client_assertion" in f]
    header = json.loads(base64.urlsafe_b64decode(assertion.split(".")[0] + "=="))
    assert header["alg"] == ("RS256" if form == "thumbprint" else "PS256")


def test_a_certificate_signed_by_another_key_is_refused(idp: IdentityProvider) -> None:
    _, cert_pem, certificate = self_signed()
    other_key, _, _ = self_signed()
    idp.confidential_client(APP_ID, certificate_pem=cert_pem)
    app = msal.ConfidentialClientApplication(
        APP_ID, authority=idp.microsoft_authority(), instance_discovery=False,
        client_credential={"private_key": other_key.decode(),
                           "thumbprint": certificate.fingerprint(hashes.SHA1()).hex()})  # noqa: S303
    result = app.acquire_token_for_client([EXCHANGE_APP_SCOPE])
    assert result["error"] == "invalid_client" and "AADSTS700027" in result[
        "error_description"]


# --------------------------------------------------------------------------- Google


def installed_flow(idp: IdentityProvider, scopes: list[str]) -> InstalledAppFlow:
    return InstalledAppFlow.from_client_config(idp.google_client_config(GOOGLE_ID,
                                                                        GOOGLE_SECRET), scopes)


def run_local_server(idp: IdentityProvider, monkeypatch: pytest.MonkeyPatch,
                     flow: InstalledAppFlow, user: str = ANN, *, consent: bool = True) -> Any:
    """The loopback flow, with the IdP's browser as the system browser."""
    browser = idp.web_browser(user, consent=consent)
    monkeypatch.setattr(webbrowser, "get", lambda using=None: browser)  # noqa: ARG005
    return flow.run_local_server(port=0, open_browser=True, authorization_prompt_message=None,
                                 timeout_seconds=5)


def test_installed_app_flow_then_refresh(idp: IdentityProvider,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    credentials = run_local_server(idp, monkeypatch, installed_flow(idp, [GMAIL_SCOPE]))
    assert idp.browser_errors == []
    assert idp.check(credentials.token) == ANN
    assert idp.scopes_of(credentials.token) == {GMAIL_SCOPE}
    [(_, _, authorize)] = [r for r in idp.requests if r[1] == "/google/auth"]
    assert authorize["code_challenge_method"] == "S256"
    assert authorize["redirect_uri"].startswith("http://localhost:")
    first_refresh = credentials.refresh_token
    old = credentials.token
    credentials.refresh(Request())
    assert credentials.token != old and idp.check(credentials.token) == ANN
    assert credentials.refresh_token == first_refresh  # Google does not rotate
    credentials.refresh(Request())
    assert idp.refresh_tokens_used == [first_refresh, first_refresh]
    [(_, _, exchange)] = [r for r in idp.requests
                          if r[2].get("grant_type") == "authorization_code"]
    assert exchange["authorization"].startswith("Basic ")  # requests-oauthlib's choice


def test_google_rotation_when_asked(idp: IdentityProvider,
                                    monkeypatch: pytest.MonkeyPatch) -> None:
    idp.google_rotates = True
    credentials = run_local_server(idp, monkeypatch, installed_flow(idp, [GMAIL_SCOPE]))
    first_refresh = credentials.refresh_token
    credentials.refresh(Request())
    assert credentials.refresh_token != first_refresh
    stale = credentials.__class__(None, refresh_token=first_refresh, client_id=GOOGLE_ID,
                                  client_secret=GOOGLE_SECRET, token_uri=idp.google_token_uri)
    with pytest.raises(RefreshError, match="invalid_grant"):
        stale.refresh(Request())


def test_google_consent_refused(idp: IdentityProvider,
                                monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(AccessDeniedError):
        run_local_server(idp, monkeypatch, installed_flow(idp, [GMAIL_SCOPE]), consent=False)


def test_google_short_scope_names_come_back_long(idp: IdentityProvider,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """As Google does: "email" is answered as .../userinfo.email, which oauthlib takes for a
    changed scope unless OAUTHLIB_RELAX_TOKEN_SCOPE is set."""
    with pytest.raises(Warning, match="Scope has changed"):
        run_local_server(idp, monkeypatch, installed_flow(idp, [GMAIL_SCOPE, "openid",
                                                                "email"]))
    credentials = run_local_server(idp, monkeypatch, installed_flow(
        idp, [GMAIL_SCOPE, "openid", "https://www.googleapis.com/auth/userinfo.email"]))
    assert credentials.id_token
    info = requests.get(idp.google_userinfo_uri, timeout=5,
                        headers={"Authorization": f"Bearer {credentials.token}"}).json()
    assert info["email"] == ANN


def test_google_pkce_and_redirect_uri_are_checked(idp: IdentityProvider) -> None:
    flow = installed_flow(idp, [GMAIL_SCOPE])
    flow.redirect_uri = "http://127.0.0.1:9/"
    url, _ = flow.authorization_url()
    answer = requests.get(url, headers={"X-Test-User": ANN}, allow_redirects=False, timeout=5)
    assert answer.status_code == 302
    code = parse_qs(urlsplit(answer.headers["Location"]).query)["code"][0]

    def exchange(verifier: str, redirect_uri: str = "http://127.0.0.1:9/") -> dict[str, Any]:
        reply: dict[str, Any] = requests.post(idp.google_token_uri, timeout=5, data={
            "grant_type": "authorization_code", "code": code, "code_verifier": verifier,
            "redirect_uri": redirect_uri, "client_id": GOOGLE_ID,
            "client_secret": GOOGLE_SECRET}).json()
        return reply

    assert exchange("x" * 43) == {"error": "invalid_grant",
                                  "error_description": "Invalid code verifier."}
    assert exchange(flow.code_verifier)["error"] == "invalid_grant"  # a code is used once
    with pytest.raises(BrowserError, match="redirect_uri_mismatch"):
        idp.browser(url.replace("127.0.0.1%3A9", "evil.example"), ANN)
    without_pkce = url.split("&code_challenge=")[0]
    answer = requests.get(without_pkce, headers={"X-Test-User": ANN}, allow_redirects=False,
                          timeout=5)
    assert "error=invalid_request" in answer.headers["Location"]


def test_service_account_impersonates_a_user(idp: IdentityProvider) -> None:
    info = idp.service_account()
    assert info["token_uri"] == idp.google_token_uri
    credentials = service_account.Credentials.from_service_account_info(
        info, scopes=[GMAIL_SCOPE], subject=ANN)
    credentials.refresh(Request())
    assert idp.check(credentials.token) == ANN
    [(_, _, grant)] = [r for r in idp.requests if r[1] == "/google/token"]
    assert grant["grant_type"] == "urn:ietf:params:oauth:grant-type:jwt-bearer"
    no_gmail = service_account.Credentials.from_service_account_info(
        info, scopes=["https://www.googleapis.com/auth/drive"], subject=ANN)
    with pytest.raises(RefreshError, match="invalid_scope"):
        no_gmail.refresh(Request())
    forged = dict(info, private_key=self_signed()[0].decode())  # the same key id, another key
    with pytest.raises(RefreshError, match="Invalid JWT Signature"):
        service_account.Credentials.from_service_account_info(
            forged, scopes=[GMAIL_SCOPE], subject=ANN).refresh(Request())


# --------------------------------------------------------------------------- SMTP


def connect(server: smtp.SmtpServer, ca: trustme.CA) -> smtplib.SMTP:
    client = smtplib.SMTP(server.host, server.port, timeout=5)
    context = ssl.create_default_context()
    ca.configure_trust(context)
    client.starttls(context=context)
    client.ehlo()
    return client


def xoauth2(user: str, token: str) -> str:
    return f"user={user}\x01auth=Bearer {token}\x01\x01"


def oauthbearer(user: str, token: str, port: int) -> str:
    return f"n,a={user},\x01host=localhost\x01port={port}\x01auth=Bearer {token}\x01\x01"


def responder(initial: str, challenges: list[bytes]) -> Callable[..., str]:
    """smtplib's authobject: the initial response, then AQ== to an error challenge."""

    def answer(challenge: bytes | None = None) -> str:
        if challenge:
            challenges.append(challenge)
            return "\x01"
        return initial

    return answer


@pytest.mark.parametrize("inline", [False, True])
def test_xoauth2_good_token(oauth_server: smtp.SmtpServer, ca: trustme.CA,
                            idp: IdentityProvider, inline: bool) -> None:
    token = device_flow_token(idp)["access_token"]
    with connect(oauth_server, ca) as client:
        assert client.esmtp_features["auth"].split() == ["XOAUTH2", "OAUTHBEARER"]
        code, _ = client.auth("XOAUTH2", responder(xoauth2(ANN, token), []),
                              initial_response_ok=inline)
        assert code == 235
        client.sendmail(ANN, [BOB], b"Subject: hi\r\n\r\nhello\r\n")
    form = "inline" if inline else "two-step"
    assert oauth_server.recorder.oauth_logins == [("XOAUTH2", form, 40, ANN)]
    assert oauth_server.recorder.logins == [("XOAUTH2", True)]
    assert len(oauth_server.received) == 1


def test_oauthbearer_good_token(oauth_server: smtp.SmtpServer, ca: trustme.CA,
                                idp: IdentityProvider) -> None:
    token = device_flow_token(idp)["access_token"]
    with connect(oauth_server, ca) as client:
        code, _ = client.auth("OAUTHBEARER", responder(oauthbearer(ANN, token,
                                                                   oauth_server.port), []))
    assert code == 235
    assert oauth_server.recorder.oauth_logins == [("OAUTHBEARER", "inline", 40, ANN)]
    assert oauth_server.recorder.oauth_fields == [
        {"host": "localhost", "port": str(oauth_server.port), "auth": f"Bearer {token}"}]


@pytest.mark.parametrize("mechanism", ["XOAUTH2", "OAUTHBEARER"])
def test_bad_token_gets_the_json_challenge_then_535(oauth_server: smtp.SmtpServer,
                                                    ca: trustme.CA, idp: IdentityProvider,
                                                    mechanism: str) -> None:
    bobs = device_flow_token(idp, BOB)["access_token"]  # a real token, but not Ann's
    cases = ["not-a-token", bobs]
    for token in cases:
        challenges: list[bytes] = []
        initial = (xoauth2(ANN, token) if mechanism == "XOAUTH2"
                   else oauthbearer(ANN, token, oauth_server.port))
        with connect(oauth_server, ca) as client, \
                pytest.raises(smtplib.SMTPAuthenticationError) as refused:
            client.auth(mechanism, responder(initial, challenges), initial_response_ok=False)
        assert refused.value.smtp_code == 535
        assert refused.value.smtp_error == b"5.7.8 Username and Password not accepted"
        assert [json.loads(c) for c in challenges] == [
            {"status": "400", "schemes": "Bearer", "scope": "https://mail.google.com/"}]
    assert oauth_server.recorder.oauth_error_acks == len(cases)


def test_expired_token_refused_app_token_accepted(oauth_server: smtp.SmtpServer,
                                                  ca: trustme.CA, idp: IdentityProvider) -> None:
    token = device_flow_token(idp)["access_token"]
    idp.expire_access_tokens()
    with connect(oauth_server, ca) as client, pytest.raises(smtplib.SMTPAuthenticationError):
        client.auth("XOAUTH2", responder(xoauth2(ANN, token), []))
    idp.confidential_client(APP_ID, secret=APP_SECRET)
    app_token = msal.ConfidentialClientApplication(
        APP_ID, client_credential=APP_SECRET, authority=idp.microsoft_authority(),
        instance_discovery=False).acquire_token_for_client([EXCHANGE_APP_SCOPE])["access_token"]
    with connect(oauth_server, ca) as client:  # app-only: any mailbox (SMTP.SendAsApp)
        assert client.auth("XOAUTH2", responder(xoauth2(BOB, app_token), []))[0] == 235


@pytest.mark.parametrize("inline", [False, True])
def test_a_3_kb_token(oauth_server: smtp.SmtpServer, ca: trustme.CA, idp: IdentityProvider,
                      inline: bool) -> None:
    idp.token_bytes = 3000
    credentials = service_account.Credentials.from_service_account_info(
        idp.service_account(), scopes=[GMAIL_SCOPE], subject=ANN)
    credentials.refresh(Request())
    assert len(credentials.token) == 3000
    with connect(oauth_server, ca) as client:
        code, _ = client.auth("XOAUTH2", responder(xoauth2(ANN, credentials.token), []),
                              initial_response_ok=inline)
    assert code == 235
    assert oauth_server.recorder.oauth_logins == [
        ("XOAUTH2", "inline" if inline else "two-step", 3000, ANN)]


def test_microsoft_style_failure_line(oauth_server: smtp.SmtpServer, ca: trustme.CA,
                                      idp: IdentityProvider) -> None:
    line = ("535 5.7.139 Authentication unsuccessful, SmtpClientAuthentication is disabled "
            "for the Tenant. Visit https://aka.ms/smtp_auth_disabled for more information.")
    oauth_server.recorder.oauth_failure = line
    token = device_flow_token(idp)["access_token"]
    challenges: list[bytes] = []
    with connect(oauth_server, ca) as client, \
            pytest.raises(smtplib.SMTPAuthenticationError) as refused:
        client.auth("XOAUTH2", responder(xoauth2(ANN, token), challenges))
    assert f"{refused.value.smtp_code} {refused.value.smtp_error.decode()}" == line
    assert challenges == [] and oauth_server.recorder.oauth_error_acks == 0
    assert oauth_server.recorder.oauth_logins == [("XOAUTH2", "inline", 40, ANN)]


def test_exchange_style_server_with_basic_auth_off(ca: trustme.CA,
                                                   idp: IdentityProvider) -> None:
    server = smtp.start("starttls", ca, oauth=idp, mechanisms=("LOGIN", "XOAUTH2"))
    try:
        line = "550 5.7.30 Basic authentication is not supported for Client Submission."
        server.recorder.password_failure = line
        with connect(server, ca) as client:
            assert client.esmtp_features["auth"].split() == ["LOGIN", "XOAUTH2"]
            with pytest.raises(smtplib.SMTPAuthenticationError) as refused:
                client.login(smtp.USERNAME, smtp.PASSWORD)
            assert (refused.value.smtp_code, refused.value.smtp_error.decode()) == (
                550, line[4:])
            code, _ = client.docmd("AUTH", "OAUTHBEARER")
            assert code == 504  # not offered, not taken
    finally:
        server.stop()


def test_no_auth_before_tls_and_malformed_responses(oauth_server: smtp.SmtpServer,
                                                    ca: trustme.CA) -> None:
    with smtplib.SMTP(oauth_server.host, oauth_server.port, timeout=5) as client:
        client.ehlo()
        assert "auth" not in client.esmtp_features
        initial = base64.b64encode(xoauth2(ANN, "tok").encode()).decode()
        assert client.docmd("AUTH", f"XOAUTH2 {initial}")[0] == 530
    with connect(oauth_server, ca) as client:
        for mechanism, blob in [("XOAUTH2", f"user={ANN}\x01auth=tok\x01\x01"),
                                ("OAUTHBEARER", "n,,\x01auth=Bearer tok\x01\x01")]:
            code, message = client.docmd("AUTH", mechanism)
            assert (code, message) == (334, b"")  # two-step: the empty challenge
            assert client.docmd(base64.b64encode(blob.encode()).decode())[0] == 501
    assert len(oauth_server.recorder.oauth_malformed) == 2
    assert oauth_server.recorder.oauth_logins == []


def test_password_servers_are_unchanged(starttls_server: smtp.SmtpServer,
                                        ca: trustme.CA) -> None:
    with connect(starttls_server, ca) as client:
        assert client.esmtp_features["auth"].split() == ["LOGIN", "PLAIN"]
        assert client.docmd("AUTH", "XOAUTH2")[0] == 504
        assert client.login(smtp.USERNAME, smtp.PASSWORD)[0] == 235
    assert starttls_server.recorder.logins == [("PLAIN", True)]  # smtplib prefers PLAIN


def test_idp_keeps_secrets_in_its_log(idp: IdentityProvider) -> None:
    first = device_flow_token(idp)
    public_app(idp).acquire_token_by_refresh_token(first["refresh_token"], [SMTP_SEND_SCOPE])
    assert any(f.get("refresh_token") == first["refresh_token"] for _, _, f in idp.requests)
    assert any(f.get("device_code") for _, _, f in idp.requests)
