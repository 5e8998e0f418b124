"""The only module that talks to Confluence (Cloud and Data Center).

atlassian-python-api's ``ConfluenceServer`` puts the credentials on the pooled session for
both deployments (its ``Confluence`` facade breaks Cloud). Requests go through :meth:`Client.get`,
which owns retries (429/502/503/504 and connection errors: exponential backoff with jitter,
honouring ``Retry-After``, at most 4 tries and 60 s), the mapping of HTTP statuses to exit
codes, and a debug line per call without user data. Paging follows ``_links.base`` +
``_links.next`` (the library's own pagers drop ``/wiki`` or the context path).

GETs use that session directly, streamed, because the library reads every body whole (for its
debug log) and follows redirects. Here an answer is read up to MAX_ANSWER bytes and
ANSWER_DEADLINE seconds, a redirect is an error (the credentials and the session cookie stay
on the site), and an answer of the wrong shape says that Confluence sent it, never that
mailpage has a bug. Server-supplied text shown to the user is cleared of the token first.
"""

from __future__ import annotations

import base64
import html
import json
import logging
import re
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, unquote, urljoin, urlsplit

from mailpage_cli import downloads, sites
from mailpage_cli.errors import (
    AuthError,
    ConfigError,
    NotFoundError,
    PolicyError,
    TLSError,
    UnavailableError,
    UsageError,
)
from mailpage_cli.models import Page, Person, Resource, SearchHit, Secret
from mailpage_cli.pagerefs import PageId, PageRef, PageTitle
from mailpage_cli.retry import SYSTEM_CLOCK, Backoff, Clock, TransientError
from mailpage_cli.sites import Site, same_site
from mailpage_cli.wording import count

if TYPE_CHECKING:
    import requests

log = logging.getLogger(__name__)

TIMEOUT = 30  # seconds of silence, per read
ANSWER_DEADLINE = 120.0  # seconds for one whole answer (a server may trickle byte by byte)
MAX_ANSWER = 64_000_000  # bytes of one answer, after decompression (a gzip bomb stops here)
MAX_PAGES = 1000  # pages of one paged list
# At most 4 tries and 60 s, waits included, for one request; waits of 1, 2, 4 s, each + 0-50 %.
RETRIES = Backoff(attempts=4, base=1.0, jitter=(1.0, 1.5), deadline=60.0)
RETRY_STATUSES = frozenset({429, 502, 503, 504})
PAGE_EXPAND = "body.export_view,body.view,version,space,history"
SEARCH_EXPAND = "content.space,content.version"
LIMIT = 50
_HEADERS = {"Accept": "application/json"}
_ABSENT = object()  # a 404, told apart from a JSON null
_DOWNLOAD = re.compile(r"/download/attachments/(?P<page>\d+)/(?P<name>[^/]+)")
# Path segments that are part of the API, not user data; anything else is logged as "*".
_API_WORDS = frozenset({
    "rest", "api", "content", "child", "attachment", "attachments", "user", "current", "group",
    "member", "by-name", "membersByGroupId", "notification", "child-created", "search",
    "download", "thumbnails", "v2", "pages", "blogposts", "spaces", "ex",
})


@dataclass(frozen=True)
class AttachmentInfo:
    filename: str
    media_type: str
    size: int
    url: str


def service_account_token(site: Site, client_secret: Secret) -> Secret:
    """An access token for the service account whose client id is ``site.user``: OAuth 2.0
    client credentials at Atlassian's token endpoint (``auth.atlassian.com`` for
    ``api.atlassian.com``, else the gateway's own ``/oauth/token``)."""
    import requests  # noqa: PLC0415

    url = ("https://auth.atlassian.com/oauth/token" if site.gateway == sites.GATEWAY
           else f"{site.gateway}/oauth/token")
    body = {"grant_type": "client_credentials", "client_id": site.user,
            "client_secret": client_secret.reveal(), "audience": "api.atlassian.com"}
    try:
        response = downloads.bare_session().post(url, json=body, timeout=TIMEOUT,
                                                 allow_redirects=False)
        data = response.json() if response.status_code < 500 else {}
    except (requests.RequestException, ValueError):
        raise UnavailableError(f"Cannot reach Atlassian's sign-in at {urlsplit(url).netloc}",
                               "Check the network, or try again later.") from None
    token = data.get("access_token") if isinstance(data, dict) else None
    if response.status_code == 200 and isinstance(token, str) and token:
        return Secret(token)
    if response.status_code in (400, 401, 403):
        raise AuthError(f"Atlassian refused the service account's client credentials"
                        f" ({response.status_code})",
                        "Check the client id and store the right secret: `mailpage config"
                        " set-site URL --auth oauth2 --user CLIENT_ID --token-stdin`.")
    raise UnavailableError(f"Atlassian's sign-in answered {response.status_code}",
                           "Try again later.")


def cloud_id_of(site_url: str, session: requests.Session) -> str:
    """The site's cloud id, from its unauthenticated ``/_edge/tenant_info``."""
    import requests  # noqa: PLC0415

    parts = urlsplit(site_url)
    try:
        response = session.get(f"{parts.scheme}://{parts.netloc}/_edge/tenant_info",
                               timeout=TIMEOUT, allow_redirects=False)
        data = response.json() if response.status_code == 200 else {}
    except (requests.RequestException, ValueError):
        data = {}
    cloud_id = data.get("cloudId") if isinstance(data, dict) else None
    if not isinstance(cloud_id, str) or not re.fullmatch(r"[A-Za-z0-9-]+", cloud_id):
        raise ConfigError(f"Cannot read the cloud id of {parts.netloc} (/_edge/tenant_info)",
                          "Check the site address (Cloud only), or give the id with"
                          " MAILPAGE_CONFLUENCE_CLOUD_ID.")
    return cloud_id


def _loggable(url: str, params: Mapping[str, Any] | None = None) -> str:
    """The path with ids kept and names masked; query keys without their values."""
    parts = urlsplit(url)
    segments = [
        s if s in _API_WORDS or s.isdigit() or re.fullmatch(r"att\d+|v\d|\d+\.\d+", s) else "*"
        for s in parts.path.split("/") if s
    ]
    keys = sorted({pair.split("=")[0] for pair in parts.query.split("&") if pair}
                  | set(params or {}))
    return "/" + "/".join(segments) + ("?" + "&".join(keys) if keys else "")


class Client:
    """An authenticated connection to one site."""

    def __init__(self, site: Site, token: Secret, *, attempts: int = RETRIES.attempts,
                 timeout: float = TIMEOUT, clock: Clock = SYSTEM_CLOCK) -> None:
        import requests  # noqa: PLC0415 - HTTP and the atlassian package load only when needed
        from atlassian import ConfluenceServer  # noqa: PLC0415

        _quiet_library()

        self.site = site
        self.retries = replace(RETRIES, attempts=attempts, clock=clock)  # 1: a quick probe
        self.timeout = timeout  # seconds of silence, per read
        self._me: Person | None = None
        self._me_lock = threading.Lock()
        self._listings: dict[str, dict[str, str]] = {}  # page id -> file name -> download URL
        self._kinds: dict[str, str] = {}  # page id -> "pages" or "blogposts" (REST v2)
        self._listing_lock = threading.Lock()
        self.session = requests.Session()
        adapter = requests.adapters.HTTPAdapter(pool_connections=2, pool_maxsize=32)
        self.session.mount("https://", adapter)
        self.session.mount("http://", adapter)
        self.public = downloads.bare_session()
        options: dict[str, Any] = {
            "session": self.session, "timeout": TIMEOUT, "cloud": site.cloud,
            "backoff_and_retry": False, "retry_with_header": False,  # our retries, our limits
        }
        secret = token.reveal()
        client_secret = ""
        if site.auth == "oauth2":  # a service account: its client secret buys a bearer token
            client_secret, secret = secret, service_account_token(site, token).reveal()
        if site.auth == "basic":
            options |= {"username": site.user, "password": secret}
            basic = base64.b64encode(f"{site.user}:{secret}".encode()).decode()
        else:
            options["token"] = secret
            basic = ""
        # The forms in which the secret could come back in an answer (an echoed header).
        self._secrets = sorted({s for s in (secret, quote(secret, safe=""), basic,
                                            client_secret) if s},
                               key=len, reverse=True)
        # It sets the session's credentials; requests then go through the session (see above).
        self.api = ConfluenceServer(site.url, **options)  # type: ignore[no-untyped-call] # untyped

    # --- requests -------------------------------------------------------------------------

    def get(self, path: str, params: Mapping[str, Any] | None = None, *,
            missing: str = "", absent: object = None) -> Any:
        """GET JSON from an API path (relative to the site) or an absolute URL on the site.

        ``missing`` words the 404 error; ``absent`` is returned for a 404 when it is empty.
        """
        import requests  # noqa: PLC0415

        url = self.site.to_api(path) if path.startswith(("http://", "https://")) else (
            f"{self.site.api}/{path.lstrip('/')}")
        started, tries = self.retries.clock.monotonic(), 0
        while True:
            tries += 1
            # Real time, not the retries' clock: this bounds waiting on the network.
            sent = time.monotonic()
            try:
                response = self.session.get(url, params=dict(params or {}), headers=_HEADERS,
                                            timeout=self.timeout, stream=True,
                                            allow_redirects=False)
                with response:
                    log.debug("confluence GET %s %s %.0f ms", _loggable(url, params),
                              response.status_code, (time.monotonic() - sent) * 1000)
                    if response.status_code in RETRY_STATUSES:
                        raise TransientError(
                            f"Confluence is busy or rate-limiting ({response.status_code})",
                            self.retries.retry_after(response.headers.get("Retry-After", "")))
                    return self._json(response, missing, sent, absent)
            except requests.exceptions.SSLError as exc:
                raise TLSError(
                    f"The certificate of {urlsplit(url).hostname} is not trusted",
                    "For a private CA, point REQUESTS_CA_BUNDLE at its certificate (PEM).",
                ) from exc
            except (TransientError, requests.ConnectionError, requests.Timeout,
                    requests.exceptions.ChunkedEncodingError,
                    requests.exceptions.ContentDecodingError) as exc:
                problem = exc if isinstance(exc, TransientError) else TransientError(
                    f"Cannot reach Confluence at {urlsplit(url).hostname}"
                    f" ({type(exc).__name__})")
                if not isinstance(exc, TransientError):
                    log.debug("confluence GET %s failed (%s)", _loggable(url, params),
                              type(exc).__name__)
                wait = self.retries.next_wait(tries, problem.retry_after, started=started)
                if wait is None:
                    raise UnavailableError(
                        f"{problem}; gave up after {count(tries, 'try', 'tries')}",
                        f"Nothing was sent; try again {self._later(problem, tries)}.",
                    ) from None
                self.retries.clock.sleep(wait)

    def _later(self, problem: TransientError, tries: int) -> str:
        """When to try again: the server's wait when that is what stopped the tries (it
        reaches past the deadline); after every try, "later" (a wait of 1 s said after four
        tries means nothing); with no word from the server, a few minutes."""
        if problem.retry_after is None:
            return "in a few minutes"
        if problem.retry_after and tries < self.retries.attempts:
            return f"in {problem.retry_after:.0f} s"
        return "later"

    def _json(self, response: requests.Response, missing: str, started: float,
              absent: object = None) -> Any:
        status = response.status_code
        if status in (401, 403):
            said = self._message(response) if self.site.gateway else ""
            raise AuthError(
                f"Confluence refused the credentials ({status}{': ' if said else ''}{said})",
                "Check the site, user and token: `mailpage config set-site URL --user EMAIL"
                " --token-stdin`, or MAILPAGE_CONFLUENCE_USER / MAILPAGE_CONFLUENCE_TOKEN"
                + ("; a scoped token needs the scopes the README lists" if said else "") + ".",
            )
        if 300 <= status < 400:
            raise self._redirected(response)
        if status == 404:
            if not missing:
                return absent
            raise NotFoundError(missing, "Check the name or id, and that you may see it.")
        if status == 400:
            raise UsageError(f"Confluence rejected the request: {self._message(response)}",
                             "Check the query.")
        if status >= 400:
            raise UnavailableError(f"Confluence answered {status}", "Try again later.")
        if "html" in response.headers.get("content-type", "").lower():
            raise _web_page()
        body = downloads.read_body(
            response, limit=MAX_ANSWER, seconds=ANSWER_DEADLINE - (time.monotonic() - started),
            too_big=lambda _: PolicyError(
                f"Confluence sent an answer larger than {MAX_ANSWER / 1_000_000:g} MB",
                "A page that large cannot go by mail: send its link instead. If it is not"
                " that large, a proxy or the site is sending garbage; tell its administrator."),
            too_slow=lambda: UnavailableError(
                f"Confluence took more than {ANSWER_DEADLINE:g} s to send one answer",
                "Nothing was sent; try again later."),
        )
        try:
            # As the library did: UTF-8, and a broken byte is a U+FFFD, not a failure.
            return json.loads(body.decode("utf-8-sig", "replace"))
        except ValueError:
            if body.lstrip()[:1] == b"<":  # HTML however it is labelled: trying again won't help
                raise _web_page() from None
            raise TransientError("Confluence sent an incomplete answer") from None

    def _redirected(self, response: requests.Response) -> ConfigError:
        try:
            target = urlsplit(urljoin(response.url, response.headers.get("location", "")))
            where = f"{target.scheme}://{target.netloc.rpartition('@')[2]}{target.path}"
        except ValueError:  # not even a URL
            where = "an address that is not a URL"
        return ConfigError(
            f"Confluence redirected the request ({response.status_code}) to"
            f" {self._redact(where)[:120]}; mailpage does not follow redirects with its"
            " credentials",
            "Use the address the site answers at: `mailpage config set-site URL`"
            " (on Cloud https://SITE.atlassian.net).",
        )

    def _message(self, response: requests.Response) -> str:
        """The ``message`` of a Confluence error answer, without any secret, cut short."""
        try:
            body = downloads.read_body(response, limit=64_000, seconds=self.timeout,
                                       too_big=lambda _: ValueError(), too_slow=ValueError)
            data = json.loads(body.decode("utf-8", "replace"))
        except ValueError:
            return ""
        message = data.get("message") if isinstance(data, dict) else None
        return self._redact(str(message or ""))[:200]

    def _redact(self, text: str) -> str:
        """``text`` from the server, with the token in any form it was sent in masked."""
        for secret in self._secrets:
            text = text.replace(secret, "********")
        return text

    def paged(self, path: str, params: Mapping[str, Any] | None = None, *,
              missing: str = "") -> Iterator[dict[str, Any]]:
        """Every result of a paged list, following ``_links.base`` + ``_links.next``; at most
        MAX_PAGES pages, and never the same page twice."""
        data = _object(self.get(path, {"limit": LIMIT, **(params or {})}, missing=missing),
                       "the list")
        seen: set[str] = set()
        while data:
            for item in _list(data.get("results"), "results"):
                yield _object(item, "an item of results", required=True)
            links = _object(data.get("_links"), "_links")
            next_link = _text(links.get("next"), "_links.next")
            if not next_link:
                return
            base = _text(links.get("base"), "_links.base") or self.site.url
            root = urlsplit(self.site.url).path
            if root and next_link.startswith(f"{root}/api/v2/"):  # v2: from the host's root
                base = base.removesuffix(root)
            url = self._on_site(base + next_link)
            if url in seen:
                raise _unreadable("its link to the next page leads back to a page already read")
            seen.add(url)
            if len(seen) >= MAX_PAGES:
                raise PolicyError(f"Confluence listed more than {MAX_PAGES} pages of results",
                                  "Narrow the query or the group.")
            data = _object(self.get(url), "the list")

    def _on_site(self, url: str) -> str:
        """A URL from a response, as the API serves it; refused if it leads away from the
        site (or, with a gateway, from the gateway)."""
        url = self.site.to_api(url)
        if not self.site.serves(url):
            raise UnavailableError("Confluence sent a link to another host",
                                   "Nothing was sent there; check the site's base URL setting.")
        return url

    # --- pages ----------------------------------------------------------------------------

    def page(self, ref: PageRef) -> Page:
        """The page (or blog post). Cloud answers through REST v2 (v1 is being retired),
        except for a blog post by title: v2 cannot find one by its posting day."""
        if self.site.cloud and not (isinstance(ref, PageTitle) and ref.kind == "blogpost"):
            return self._page_v2(ref)
        if isinstance(ref, PageId):
            data = self.get(f"rest/api/content/{ref.id}", {"expand": PAGE_EXPAND},
                            missing=_missing(f"Page {ref.id}"))
        elif isinstance(ref, PageTitle):
            params = {"spaceKey": ref.space, "title": ref.title, "type": ref.kind,
                      "expand": PAGE_EXPAND}
            if ref.posting_day:
                params["postingDay"] = ref.posting_day
            found = _object(self.get("rest/api/content", params), "the list")
            data = _first(found, ref)
        else:
            raise TypeError(ref)
        return _page(data, self.site)

    def _page_v2(self, ref: PageRef) -> Page:
        space: dict[str, Any] = {}
        if isinstance(ref, PageTitle):
            space = _first(_object(self.get("api/v2/spaces", {"keys": ref.space}), "spaces"),
                           ref)
            found = self.get("api/v2/pages", {"space-id": space.get("id"), "title": ref.title})
            page_id = _text(_first(_object(found, "the list"), ref).get("id"), "id")
        elif isinstance(ref, PageId):
            page_id = ref.id
        else:
            raise TypeError(ref)
        kind, data = "pages", self.get(f"api/v2/pages/{page_id}",
                                       {"body-format": "export_view"}, absent=_ABSENT)
        if data is _ABSENT:  # not a page: a blog post, or nothing to see
            kind, data = "blogposts", self.get(f"api/v2/blogposts/{page_id}",
                                               {"body-format": "export_view"},
                                               missing=_missing(f"Page {page_id}"))
        data = _object(data, "the page", required=True)
        self._kinds[page_id] = kind
        if not _body(data, "export_view"):  # some pages have no export view: their view
            data["body"] = _object(self.get(f"api/v2/{kind}/{page_id}",
                                            {"body-format": "view"}), "the page").get("body")
        if not space and data.get("spaceId") is not None:
            space = _object(self.get(f"api/v2/spaces/{_text(data.get('spaceId'), 'spaceId')}"),
                            "the space")
        return _page(data | {"space": space}, self.site)

    def attachments(self, page_id: str) -> list[AttachmentInfo]:
        if self.site.cloud:
            kind = self._kinds.get(page_id, "pages")
            items = self.paged(f"api/v2/{kind}/{page_id}/attachments",
                               missing=_missing(f"Page {page_id}"))
        else:
            items = self.paged(f"rest/api/content/{page_id}/child/attachment",
                               missing=_missing(f"Page {page_id}"))
        found = []
        for item in items:
            # v2 names them at the top, v1 in extensions and _links
            ext = _object(item.get("extensions"), "extensions") or item
            download = (_text(item.get("downloadLink"), "downloadLink")
                        or _text(_object(item.get("_links"), "_links").get("download"),
                                 "_links.download"))
            if self.site.gateway:  # the gateway serves no /download/ path: the REST one
                download = (f"/rest/api/content/{page_id}/child/attachment/"
                            f"{quote(_text(item.get('id'), 'id'), safe='')}/download")
            found.append(AttachmentInfo(
                filename=_text(item.get("title"), "title") or "attachment",
                media_type=_text(ext.get("mediaType"), "mediaType")
                or "application/octet-stream",
                size=_number(ext.get("fileSize"), "fileSize") or 0,
                url=self._on_site(urljoin(self.site.url + "/", download.lstrip("/"))),
            ))
        return found

    def download(self, url: str, budget: int, name: str | None = None) -> Resource:
        return downloads.fetch(self._downloadable(url), session=self.session,
                               trusted=self.site.serves, budget=budget, name=name,
                               public=self.public, timeout=self.timeout)

    def _downloadable(self, url: str) -> str:
        """``url`` as the API serves it: through a gateway, an image's
        ``/download/attachments/PAGE/NAME`` becomes that attachment's REST download."""
        shown = _DOWNLOAD.fullmatch(urlsplit(url).path.removeprefix(urlsplit(self.site.url).path))
        if not self.site.gateway or not shown or not same_site(url, self.site.url):
            return self.site.to_api(url)
        page_id, name = shown["page"], unquote(shown["name"])
        with self._listing_lock:
            if page_id not in self._listings:
                self._listings[page_id] = {a.filename: a.url for a in self.attachments(page_id)}
        return self._listings[page_id].get(name, self.site.to_api(url))

    # --- people ---------------------------------------------------------------------------

    def me(self) -> Person:
        """The user of the token (asked once; recipients and Reply-To both want it)."""
        with self._me_lock:
            if self._me is None:
                self._me = _person(self.get("rest/api/user/current",
                                            {"expand": "details.personal"},
                                            missing="Unknown user"))
            return self._me

    def user(self, key: str) -> Person | None:
        """By Cloud accountId, or Data Center username or userKey; ``None`` if unknown."""
        if self.site.cloud:
            if not re.fullmatch(r"[A-Za-z0-9:_-]{10,}", key):
                return None
            data = self.get("rest/api/user", {"accountId": key})
            return _person(data) if data else None
        for param in ("username", "key"):
            data = self.get("rest/api/user", {param: key, "expand": "details.personal,status"})
            if data:
                return _person(data)
        return None

    def search_users(self, name: str) -> list[Person]:
        quoted = name.replace("\\", "\\\\").replace('"', '\\"')
        path = "rest/api/search/user" if self.site.cloud else "rest/api/search"
        return [_person(item["user"]) for item in self.paged(
            path, {"cql": f'user.fullname~"{quoted}"'}) if item.get("user")]

    def group_members(self, name: str) -> list[Person]:
        missing = f"No Confluence group named {name!r}"
        if self.site.cloud:
            group = _object(self.get("rest/api/group/by-name", {"name": name}, missing=missing),
                            "the group")
            group_id = _text(group.get("id"), "id")
            if not group_id:
                raise _unreadable("the group has no id")
            path = f"rest/api/group/{quote(group_id, safe='')}/membersByGroupId"
            return [_person(user) for user in self.paged(path, missing=missing)]
        path = f"rest/api/group/{quote(name, safe='')}/member"
        params = {"expand": "status,details.personal"}
        return [_person(user) for user in self.paged(path, params, missing=missing)]

    def search(self, cql: str) -> list[SearchHit]:
        """The content a CQL query finds (users and spaces left out), every result page."""
        hits = []
        for item in self.paged("rest/api/search", {"cql": cql, "expand": SEARCH_EXPAND,
                                                   "limit": 100}):
            content = item.get("content")
            if not isinstance(content, dict):
                continue
            webui = (_text(_object(content.get("_links"), "content._links").get("webui"),
                           "content._links.webui") or _text(item.get("url"), "url"))
            version = _object(content.get("version"), "content.version")
            container = _object(item.get("resultGlobalContainer"), "resultGlobalContainer")
            space = _object(content.get("space"), "content.space")
            hits.append(SearchHit(
                title=str(content.get("title") or item.get("title") or "?"),
                url=self.site.url + webui if webui else None,
                space=str(space.get("name") or container.get("title") or ""),
                editor=str(_object(version.get("by"), "content.version.by").get("displayName")
                           or ""),
                modified=_when(item.get("lastModified") or version.get("when")),
                excerpt=_excerpt(str(item.get("excerpt") or "")),
            ))
        return hits

    def watchers(self, page_id: str) -> list[Person]:
        if not self.site.cloud:
            raise UsageError(  # the recipient, not the settings, is what can change
                "`watchers` needs Confluence Cloud: Data Center has no REST API that lists a"
                " page's watchers",
                "Name the recipients, or use group:NAME.",
            )
        path = f"rest/api/content/{page_id}/notification/child-created"
        return [_person(item["watcher"]) for item in self.paged(
            path, missing=f"Page {page_id} was not found") if item.get("watcher")]


class OrgDirectory:
    """The organization's user directory (Atlassian's admin API, with an organization admin
    API key): the addresses Confluence hides, asked only for those, one account at a time."""

    def __init__(self, api: str, org_id: str, key: Secret) -> None:
        from atlassian.rest_client import AtlassianRestAPI  # noqa: PLC0415

        _quiet_library()
        self.org_id = org_id
        # CloudAdminOrgs, but at ``api``: the class fixes https://api.atlassian.com.
        self.client = AtlassianRestAPI(
            url=api, token=key.reveal(), api_root="admin", api_version="v1",
            session=downloads.bare_session(), timeout=TIMEOUT, backoff_and_retry=False)
        self._found: dict[str, str | None] = {}
        self._lock = threading.Lock()

    def email(self, person: Person) -> str | None:
        """The address the organization has for ``person`` (``None``: not a managed account)."""
        if person.app:
            return None
        with self._lock:
            if person.key not in self._found:
                self._found[person.key] = self._search(person.key)
            return self._found[person.key]

    def _search(self, account_id: str) -> str | None:
        import requests  # noqa: PLC0415

        path = self.client.resource_url(f"orgs/{self.org_id}/users/search")
        try:  # the documented form: POST with a JSON body
            data = self.client.post(path, data={"accountIds": [account_id],
                                                "expand": ["EMAIL"], "limit": 1})
        except requests.HTTPError as exc:
            status = exc.response.status_code if exc.response is not None else 0
            if status in (401, 403):
                raise AuthError(f"The organization directory refused the admin API key"
                                f" ({status})",
                                "Store a key with read access to the organization's users:"
                                " `mailpage config set-directory ORG_ID --key-stdin`.") from None
            raise UnavailableError(f"The organization directory answered {status}",
                                   "Check the organization id, or try again later.") from None
        except requests.RequestException as exc:
            raise UnavailableError(f"Cannot reach the organization directory"
                                   f" ({type(exc).__name__})", "Try again later.") from None
        for user in _list(_object(data, "the directory's answer").get("data"), "data"):
            found = _object(user, "a user", required=True)
            if found.get("accountId") == account_id:
                return _text(found.get("email"), "email") or None
        return None


def _quiet_library() -> None:
    """atlassian-python-api logs every request as curl (credentials too) and every body: its
    DEBUG records are never even created, and nothing it logs reaches a handler."""
    library = logging.getLogger("atlassian")
    library.setLevel(logging.WARNING)
    library.propagate = False
    library.handlers = [logging.NullHandler()]


def _when(value: object) -> datetime | None:
    """An ISO time; one without an offset is taken as UTC, so that times compare."""
    try:
        when = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def _excerpt(text: str, limit: int = 280) -> str:
    """Search excerpts mark hits with @@@hl@@@ and may carry entities and line breaks."""
    plain = " ".join(html.unescape(text.replace("@@@hl@@@", "").replace("@@@endhl@@@", ""))
                     .split())
    return plain if len(plain) <= limit else plain[: limit - 1].rsplit(" ", 1)[0] + "…"


def _web_page() -> AuthError:
    return AuthError(
        "Confluence answered with a web page (a login page, or a proxy's?) instead of data",
        "Check the site URL and that the token is accepted for the REST API"
        " (single sign-on may refuse API tokens).",
    )


def _unreadable(detail: str) -> ConfigError:
    """Confluence's answer has the wrong shape: no retry will mend it, and it is not a bug
    in mailpage. Most often the URL leads to something that is not Confluence's REST API."""
    return ConfigError(
        f"Confluence sent an answer mailpage cannot read ({detail})",
        "Check that the site URL leads to Confluence itself, not to a proxy or another"
        " service; if it does, its REST API misbehaves: tell the site's administrator.",
    )


def _kind(value: object) -> str:
    if isinstance(value, bool):
        return "true or false"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "a list"
    return "a string" if isinstance(value, str) else "null"


def _object(value: object, what: str, *, required: bool = False) -> dict[str, Any]:
    """A JSON object from an answer; null or absent is an empty one unless ``required``."""
    if isinstance(value, dict):
        return value
    if value is None and not required:
        return {}
    raise _unreadable(f"{what} is {_kind(value)}, not an object")


def _list(value: object, what: str) -> list[Any]:
    if isinstance(value, list):
        return value
    raise _unreadable(f"{what} is {_kind(value)}, not a list")


def _text(value: object, what: str) -> str:
    """A JSON string from an answer; null or absent is empty."""
    if isinstance(value, str):
        return value
    if value is None:
        return ""
    raise _unreadable(f"{what} is {_kind(value)}, not a string")


def _number(value: object, what: str) -> int | None:
    """A whole number from an answer (digits in a string will do); null or absent is None."""
    if value is None:
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().isdecimal():
        return int(value)
    raise _unreadable(f"{what} is {_kind(value)}, not a whole number")


def _person(value: object) -> Person:
    data = _object(value, "a user", required=True)
    personal = _object(_object(data.get("details"), "details").get("personal"),
                       "details.personal")
    email = (_text(data.get("email"), "email")
             or _text(personal.get("email"), "details.personal.email"))
    status = data.get("status")
    return Person(
        display_name=str(data.get("displayName") or data.get("publicName")
                         or data.get("username") or "?"),
        email=email or None,
        key=str(data.get("accountId") or data.get("username") or data.get("userKey") or ""),
        active=status is None or str(status).lower() == "active",
        app=data.get("accountType") == "app",
    )


def _missing(what: str) -> str:
    return f"{what} was not found; it may be missing, or restricted so that you cannot see it"


def _first(found: dict[str, Any], ref: PageTitle) -> dict[str, Any]:
    """The first result of a list, or the error a title (or space) not found gets."""
    results = _list(found.get("results", []), "results")
    if not results:
        raise NotFoundError(
            f"No {ref.kind} titled {ref.title!r} in space {ref.space}; it may be"
            " missing, or restricted so that you cannot see it",
            "Check the space key and the exact title"
            + (" (SPACE:Title takes the title as written: a + is a plus, not a space)"
               if "+" in ref.title else "") + ".")
    return _object(results[0], "results[0]", required=True)


def _body(data: dict[str, Any], representation: str) -> str:
    body = _object(data.get("body"), "body")
    return _text(_object(body.get(representation), f"body.{representation}").get("value"),
                 f"body.{representation}.value")


def _page(value: object, site: Site) -> Page:
    """A page of REST v1 (expanded) or v2 (with its space put in)."""
    data = _object(value, "the page", required=True)
    html = _body(data, "export_view") or _body(data, "view")
    links = _object(data.get("_links"), "_links")
    base = site.to_site(_text(links.get("base"), "_links.base") or site.url)
    webui = _text(links.get("webui"), "_links.webui")
    space = _object(data.get("space"), "space")
    return Page(
        title=str(data.get("title") or ""),
        html=html,
        id=str(data.get("id")),
        version=_number(_object(data.get("version"), "version").get("number"),
                        "version.number") or None,
        space=_text(space.get("name"), "space.name") or _text(space.get("key"), "space.key")
        or None,
        url=base + webui if webui else None,
        base_url=base,
    )
