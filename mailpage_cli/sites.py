"""The configured Confluence site: where it is, how to log in, and which URLs are its own.

Credentials go only to the site (or to the gateway's path for it): :func:`same_site` is the
rule, used wherever a URL could come from a page or a redirect.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from urllib.parse import urlsplit

from mailpage_cli.choices import Auth, Deployment
from mailpage_cli.errors import ConfigError

__all__ = ["GATEWAY", "Site", "make_site", "same_site"]

GATEWAY = "https://api.atlassian.com"  # where scoped tokens and service accounts are served


def _origin(url: str) -> tuple[str, int | None]:
    parts = urlsplit(url)
    default = {"http": 80, "https": 443}.get(parts.scheme)
    try:
        port = parts.port or default
    except ValueError:
        port = -1
    return (parts.hostname or "").lower(), port


def same_site(url: str, site_url: str) -> bool:
    """Same host and port (http and https of one host count as one site)."""
    host, port = _origin(url)
    site_host, site_port = _origin(site_url)
    same_port = port == site_port or {port, site_port} == {80, 443}
    return bool(host) and host == site_host and same_port


@dataclass(frozen=True)
class Site:
    """Where Confluence is and how to log in. ``url`` includes ``/wiki`` or the context path.

    With a scoped token or a service account the API answers only through Atlassian's
    gateway: ``api_url`` is then ``{gateway}/ex/confluence/{cloudId}/wiki``, where every API
    call and download goes (and the credentials with them), while links in the mail keep
    pointing at ``url``."""

    url: str
    deployment: Deployment
    auth: Auth
    user: str | None = None
    gateway: str = ""  # e.g. https://api.atlassian.com; "": the site answers itself
    cloud_id: str = ""  # the site's id at the gateway

    @property
    def cloud(self) -> bool:
        return self.deployment == "cloud"

    @property
    def api_url(self) -> str:
        return f"{self.gateway}/ex/confluence/{self.cloud_id}/wiki" if self.gateway else ""

    @property
    def api(self) -> str:
        return self.api_url or self.url

    def to_api(self, url: str) -> str:
        """A URL under the site, as the API serves it (the gateway's form, if there is one)."""
        parts, root = urlsplit(url), urlsplit(self.url).path
        if not self.gateway or not same_site(url, self.url) or not (
                parts.path + "/").startswith(root + "/"):
            return url
        return self.api_url + parts.path[len(root):] + (f"?{parts.query}" if parts.query else "")

    def serves(self, url: str) -> bool:
        """Whether ``url`` is the API's, so that the credentials may go there: the site's host,
        or the gateway's path for this site alone (the gateway serves every tenant)."""
        if not self.api_url:
            return same_site(url, self.url)
        return same_site(url, self.api_url) and (urlsplit(url).path + "/").startswith(
            urlsplit(self.api_url).path + "/")

    def to_site(self, url: str) -> str:
        """A URL the gateway gave, as the site serves it (for links people open)."""
        if self.api_url and url.startswith(self.api_url):
            return self.url + url[len(self.api_url):]
        return url


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def without_secrets(url: str) -> str:
    """``url`` as an error may show it: without a user or password before the host, whether
    it has a scheme (``https://ann:pw@host``) or not (``ann:pw@host``)."""
    scheme, found, rest = url.strip().partition("://")
    if not found:
        scheme, rest = "", scheme
    host, slash, path = rest.partition("/")
    return f"{scheme}{found}{host.rpartition('@')[2]}{slash}{path}"


def place(url: str) -> str:
    """Host and port as ``url`` gives them, never its user or password."""
    return urlsplit(without_secrets(url)).netloc or "?"


def gateway(named: str | None, auth: str) -> str | None:
    """The API gateway a site is reached through: the one ``named``, and for a service
    account's OAuth2 (which only Atlassian's gateway serves) that one."""
    return named or (GATEWAY if auth == "oauth2" else None)


def make_site(url: str | None, deployment: Deployment, auth: Auth, user: str | None,
              gateway: str | None = None, cloud_id: str | None = None) -> Site:
    """Validate and normalise the configured site (Cloud gets its ``/wiki``), and the API
    gateway it is reached through, if any."""
    if not url:
        raise ConfigError(
            "No Confluence site configured",
            "Run `mailpage config set-site URL` or set MAILPAGE_CONFLUENCE_URL.",
        )
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(f"The Confluence URL {without_secrets(url)!r} is not an http(s) URL",
                          "Give the site's address, e.g. https://example.atlassian.net.")
    if parts.scheme == "http" and not _is_loopback(parts.hostname):
        raise ConfigError(
            f"Refusing plain http to {parts.hostname}: the token would travel unencrypted",
            "Use the https:// address of the site.",
        )
    path = parts.path.rstrip("/")
    if deployment == "cloud" and not path.endswith("/wiki"):
        path += "/wiki"
    if auth == "basic" and not user:
        raise ConfigError(
            "Basic authentication needs a user (the e-mail address on Cloud)",
            "Run `mailpage config set-site URL --user EMAIL` or set MAILPAGE_CONFLUENCE_USER.",
        )
    if auth == "oauth2" and (deployment != "cloud" or not user):
        raise ConfigError(
            "OAuth2 sign-in is for Atlassian service accounts on Cloud, with their client id",
            "Run `mailpage config set-site URL --auth oauth2 --user CLIENT_ID --token-stdin`"
            " (the client secret on stdin).",
        )
    site = Site(f"{parts.scheme}://{parts.netloc}{path}", deployment, auth, user)
    if not gateway:
        return site
    if deployment != "cloud" or not cloud_id or not re.fullmatch(r"[A-Za-z0-9-]+", cloud_id):
        raise ConfigError("The API gateway serves Confluence Cloud sites, by their cloud id",
                          "Run `mailpage config set-site URL --api-gateway` again (it reads the"
                          " cloud id), or unset MAILPAGE_CONFLUENCE_API_GATEWAY.")
    entry = urlsplit(gateway.strip())
    if entry.scheme != "https" and not (entry.scheme == "http" and _is_loopback(
            entry.hostname or "")):
        raise ConfigError(f"The API gateway {without_secrets(gateway)!r} is not an https URL",
                          f"Give its https address ({GATEWAY}).")
    return Site(site.url, deployment, auth, user,
                f"{entry.scheme}://{entry.netloc}{entry.path.rstrip('/')}", cloud_id)
