"""A fake Confluence (Cloud or Data Center) on loopback: a real HTTP server in a background
thread that answers the REST v1 endpoints mailpage uses with bodies shaped like the real ones
(see /work/shared/CONFLUENCE.md and the captured responses it points to).

The real atlassian-python-api client and ``requests`` talk to it over TCP, so redirects,
authentication, paging links and error bodies behave as they do against a real site:

- every paged endpoint returns at most ``Site.page_size`` items and a RELATIVE ``_links.next``
  (relative to the context path, the trap the library's own pager falls into);
- Cloud attachment downloads answer 302 to a "media" host on 127.0.0.2 that refuses any request
  carrying an Authorization header (the signed token is in the URL);
- restricted pages answer 404, as Confluence does;
- ``faults`` injects canned responses (429, 502, truncated JSON, an HTML login page, a body
  trickled byte by byte, an error that echoes a request header) first.

Cloud fakes also stand for the rest of Atlassian's cloud (see docs/atlassian-identities.md):

- the site answers ``GET /_edge/tenant_info`` without authentication with its ``cloudId``;
- the site serves REST v2 (``/wiki/api/v2/pages|blogposts|spaces|.../attachments``, cursor paging
  with ``_links.next`` = ``/wiki/api/v2/...``) and the v1 REST attachment download
  (``/wiki/rest/api/content/{id}/child/attachment/{attId}/download``, 302 to the media host);
- a GATEWAY host on 127.0.0.3 stands for api.atlassian.com: ``/ex/confluence/{cloudId}/wiki/...``
  answers like the site (same JSON, ``_links.base`` still the SITE url) for SCOPED API tokens
  (Basic email:token, or Bearer) and service-account OAuth access tokens, checks each route's
  scopes (401 "Unauthorized; scope does not match" otherwise) and refuses the servlet paths
  (``/wiki/download/...``); it also has the OAuth token endpoint (``POST /oauth/token``,
  client credentials) and the organization admin API (``/admin/v1|v2/orgs/{orgId}/...``) that
  knows e-mail addresses Confluence hides (``User.directory_email``).
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import json
import re
import secrets
import socket
import struct
import sys
import threading
import time
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, parse_qsl, quote, quote_plus, unquote, urlencode, urlsplit

from tests.support import cql

MISSING: Any = object()  # sentinel: the "email" key is absent from the user object

CLOUD = "cloud"
DATACENTER = "datacenter"
MODIFICATION_DATE = 1700000000000  # the modificationDate of every attachment download link
_NAMESPACE = uuid.UUID("6f1c3f0e-7a51-4d1c-9a55-2c0a3e5f7b11")
JSON_TYPE = "application/json;charset=UTF-8"


# --------------------------------------------------------------------------- the site's data


@dataclass(eq=False)
class User:
    display_name: str
    email: str | object | None = ""  # a string, "" (hidden), None (JSON null) or MISSING (absent)
    account_id: str = ""  # Cloud, e.g. "557058:3f1c..."; generated if empty
    username: str = ""  # Data Center; derived from display_name if empty
    user_key: str = ""  # Data Center; 32 hex digits, generated if empty
    account_type: str = "atlassian"  # Cloud: "atlassian" or "app"
    active: bool = True  # Data Center: status Active / Deactivated (expand=status)
    # The address the organization directory (admin API) knows; if None, ``email`` when it is a
    # non-empty string. A user with neither is not a managed account: not in the directory.
    directory_email: str | None = None

    def __post_init__(self) -> None:
        seed = uuid.uuid5(_NAMESPACE, f"{self.display_name}\0{self.email!r}")
        if not self.account_id:
            self.account_id = (f"557058:{seed}" if self.account_type == "atlassian"
                               else seed.hex[:24])
        if not self.username:
            self.username = re.sub(r"[^a-z0-9]+", ".", self.display_name.lower()).strip(".")
        if not self.user_key:
            self.user_key = uuid.uuid5(seed, "key").hex


@dataclass
class Attachment:
    filename: str
    media_type: str
    data: bytes
    id: str = ""  # "att" + digits; assigned by the Site if empty


@dataclass
class StaticFile:
    """Another file the site serves (a thumbnail, an emoticon), under the context path."""

    media_type: str
    data: bytes
    needs_auth: bool = True


@dataclass
class Page:
    id: str
    title: str
    space_key: str = "ENG"
    space_name: str = "Engineering"
    version: int = 1
    export_view: str | None = "<p>Hello</p>"  # None: body.export_view is "" (clients fall back)
    view: str = "<p>Hello</p>"
    type: str = "page"  # or "blogpost"
    posting_day: str = ""  # "2024-01-15" for blog posts (defaults to last_modified's day)
    attachments: list[Attachment] = field(default_factory=list)
    watchers: list[User] = field(default_factory=list)
    restricted: bool = False  # answers 404, like Confluence does for restricted pages
    last_modified: str = "2026-11-26T10:00:00.000Z"
    author: User | None = None  # version.by / history.createdBy; the site's ``me`` if None

    @property
    def day(self) -> str:
        return self.posting_day or self.last_modified[:10]


@dataclass
class Site:
    deployment: str  # "cloud" or "datacenter"
    context: str  # "/wiki" for Cloud, e.g. "/confluence" or "" for Data Center
    me: User
    token: str = "tok-secret"
    users: list[User] = field(default_factory=list)  # every known user (me added automatically)
    groups: dict[str, list[User]] = field(default_factory=dict)  # group name -> members
    pages: list[Page] = field(default_factory=list)
    page_size: int = 2  # every paged endpoint returns at most this many per page
    files: dict[str, StaticFile] = field(default_factory=dict)  # path under context -> file

    def __post_init__(self) -> None:
        if self.deployment not in (CLOUD, DATACENTER):
            raise ValueError(f"deployment must be cloud or datacenter, not {self.deployment!r}")
        self.context = self.context.rstrip("/")
        if self.context and not self.context.startswith("/"):
            self.context = "/" + self.context
        self.prepare()

    @property
    def cloud(self) -> bool:
        return self.deployment == CLOUD

    def prepare(self) -> None:
        """Give attachments without an id one (also for pages added after construction)."""
        taken = {a.id for p in self.pages for a in p.attachments if a.id}
        number = 4066191
        for page in self.pages:
            for attachment in page.attachments:
                while not attachment.id:
                    number += 1
                    if f"att{number}" not in taken:
                        attachment.id = f"att{number}"

    def all_users(self) -> list[User]:
        """``me``, ``users``, group members, watchers and authors, each once."""
        seen: dict[int, User] = {}
        everyone: Iterable[User] = [self.me, *self.users,
                                    *(u for members in self.groups.values() for u in members),
                                    *(u for p in self.pages for u in p.watchers),
                                    *(p.author for p in self.pages if p.author)]
        for user in everyone:
            seen.setdefault(id(user), user)
        return list(seen.values())

    def page(self, page_id: str) -> Page | None:
        """A page the current user may see (restricted pages are invisible, as on Confluence)."""
        for page in self.pages:
            if page.id == page_id and not page.restricted:
                return page
        return None


def group_id(name: str) -> str:
    """The (Cloud) id of a group: a UUID, stable for its name."""
    return str(uuid.uuid5(_NAMESPACE, f"group:{name}"))


def space_id(key: str) -> int:
    """The (numeric) id of a space, stable for its key."""
    return int(hashlib.sha256(key.encode()).hexdigest()[:6], 16)


def tiny_code(page_id: str | int) -> str:
    """The ``/x/CODE`` of a page id: base64 of the little-endian id bytes without trailing zero
    bytes and padding, with ``/`` -> ``-`` and ``+`` -> ``_`` (98487 -> "t4AB")."""
    raw = int(page_id).to_bytes(8, "little").rstrip(b"\0") or b"\0"
    return base64.b64encode(raw).decode().rstrip("=").replace("/", "-").replace("+", "_")


def tiny_id(code: str) -> str:
    """The page id of a tiny-link code (the inverse of :func:`tiny_code`)."""
    text = code.replace("-", "/").replace("_", "+")
    text += "A" * (-len(text) % 4)
    return str(int.from_bytes(base64.b64decode(text), "little"))


# --------------------------------------------------------------------------- recording, faults


@dataclass
class Recorded:
    method: str
    path: str  # without the query
    query: dict[str, list[str]]
    authorization: str | None
    host: str | None
    headers: dict[str, str] = field(default_factory=dict)
    status: int = 0  # the status answered (0 while the request is being handled)
    body: bytes = b""  # the request body


@dataclass
class Fault:
    """A canned response for the next request whose path (relative to the context, e.g.
    ``/rest/api/content/1``; "" matches every path) starts with ``prefix``. Faults are consumed
    first-in-first-out, before authentication and normal handling. ``declared_length`` sends a
    Content-Length larger than the body and closes the connection mid-body. ``trickle`` sends
    the headers at once, then the body one byte every ``trickle`` seconds. With
    ``echo_header`` the body is a Confluence error whose message is ``body`` (a str) followed
    by the value of that request header, as some gateways and debug builds answer."""

    prefix: str = ""
    status: int = 500
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes | str | dict[str, Any] = b""
    declared_length: int | None = None
    reset: bool = False  # no answer at all: the connection is reset (TCP RST)
    trickle: float = 0.0
    echo_header: str = ""

    def payload(self) -> tuple[bytes, str]:
        if isinstance(self.body, dict):
            return json.dumps(self.body).encode(), JSON_TYPE
        if isinstance(self.body, str):
            return self.body.encode(), "text/html;charset=UTF-8"
        return self.body, "application/octet-stream"

    @classmethod
    def error(cls, prefix: str, status: int, message: str) -> Fault:
        return cls(prefix, status, body=error_body(status, message))

    @classmethod
    def rate_limited(cls, prefix: str = "", retry_after: int = 1) -> Fault:
        return cls(prefix, 429, headers={
            "Retry-After": str(retry_after),
            "X-RateLimit-Limit": "100",
            "X-RateLimit-Remaining": "0",
            "X-RateLimit-Reset": "2026-11-26T10:01:00Z",
        }, body=error_body(429, "Rate limit exceeded"))

    @classmethod
    def connection_reset(cls, prefix: str = "") -> Fault:
        return cls(prefix, reset=True)

    @classmethod
    def bad_gateway(cls, prefix: str = "") -> Fault:
        return cls(prefix, 502, body="<html><head><title>502 Bad Gateway</title></head><body>"
                                     "<center><h1>502 Bad Gateway</h1></center></body></html>")

    @classmethod
    def truncated_json(cls, prefix: str = "", *, cut_connection: bool = False) -> Fault:
        """A 200 whose JSON stops in the middle; with ``cut_connection`` the Content-Length
        promises more and the connection closes (the client sees an incomplete read)."""
        body = b'{"id":"98487","type":"page","status":"current","title":"Rel'
        return cls(prefix, 200, headers={"Content-Type": JSON_TYPE}, body=body,
                   declared_length=len(body) + 200 if cut_connection else None)

    @classmethod
    def login_page(cls, prefix: str = "") -> Fault:
        """What an SSO proxy or an expired session shows instead of JSON: 200 and HTML."""
        return cls(prefix, 200, body=(
            "<!DOCTYPE html><html><head><title>Log in - Confluence</title></head><body>"
            '<form id="loginform" method="post" action="/dologin.action">'
            '<input name="os_username"><input name="os_password" type="password">'
            "</form></body></html>"))


def error_body(status: int, message: str) -> dict[str, Any]:
    """The Confluence error envelope (cloud-v1/error-400-cql-invalid.demisto.json)."""
    return {"statusCode": status,
            "data": {"authorized": status not in (401, 403), "valid": True, "errors": [],
                     "successful": False},
            "message": message}


class ConnectionResetByFault(Exception):  # noqa: N818 - a signal, not an error
    """Raised by the app to make the handler reset the connection."""


class HttpError(Exception):
    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None,
                 body: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.headers = headers or {}
        self.body = body if body is not None else error_body(status, message)


@dataclass
class Response:
    status: int = 200
    body: bytes = b""
    content_type: str = JSON_TYPE
    headers: dict[str, str] = field(default_factory=dict)
    declared_length: int | None = None
    trickle: float = 0.0  # seconds between the bytes of the body


def _json(data: Any, status: int = 200) -> Response:
    return Response(status, json.dumps(data).encode())


# --------------------------------------------------------------------------- scopes, grants

# OAuth 2.0 scopes per route, from the "x-atlassian-oauth2-scopes" of Atlassian's OpenAPI
# documents (fixtures/confluence/openapi): each entry is a tuple of ALTERNATIVES, each a set of
# scopes that must all be granted. REST v1 accepts its classic scope ("Current") or the granular
# ones ("Beta"); REST v2 knows only granular scopes.
_CONTENT = (frozenset({"read:confluence-content.summary"}),
            frozenset({"read:content-details:confluence"}))
_USER = (frozenset({"read:confluence-user"}), frozenset({"read:content-details:confluence"}))
ROUTE_SCOPES: dict[str, tuple[frozenset[str], ...]] = {
    "content_list": _CONTENT,
    "content": _CONTENT,
    "attachments": _CONTENT,
    "attachment_download": (frozenset({"readonly:content.attachment:confluence"}),
                            frozenset({"read:attachment:confluence"})),
    "watchers": (frozenset({"read:confluence-content.summary"}),
                 frozenset({"read:watcher:confluence", "read:user:confluence"})),
    "current_user": _USER,
    "user": _USER,
    "search_user": (frozenset({"read:content-details:confluence"}),),
    "search": (frozenset({"search:confluence"}), frozenset({"read:content-details:confluence"})),
    "group_by_name": (frozenset({"read:confluence-groups"}), frozenset({"read:group:confluence"})),
    "members_by_id": (frozenset({"read:confluence-groups"}),
                      frozenset({"read:group:confluence", "read:user:confluence"})),
    "members_by_name": (frozenset({"read:confluence-groups"}),
                        frozenset({"read:group:confluence", "read:user:confluence"})),
    "v2_page": (frozenset({"read:page:confluence"}),),
    "v2_pages": (frozenset({"read:page:confluence"}),),
    "v2_blogpost": (frozenset({"read:page:confluence"}),),
    "v2_blogposts": (frozenset({"read:page:confluence"}),),
    "v2_spaces": (frozenset({"read:space:confluence"}),),
    "v2_page_attachments": (frozenset({"read:attachment:confluence"}),),
    "v2_blogpost_attachments": (frozenset({"read:attachment:confluence"}),),
}

# What a read-only send needs with GRANULAR scopes (the only kind REST v2 accepts): pages and
# blog posts (v2), content details (v1 content, CQL search, user search, users), attachments
# (v2 list, v1 download), users, groups and members, watchers, and spaces (v2 title lookup).
MINIMAL_GRANULAR_SCOPES = frozenset({
    "read:page:confluence", "read:content-details:confluence", "read:attachment:confluence",
    "read:user:confluence", "read:group:confluence", "read:watcher:confluence",
    "read:space:confluence",
})
# The same with CLASSIC scopes: enough for every REST v1 route, none of REST v2.
MINIMAL_CLASSIC_SCOPES = frozenset({
    "read:confluence-content.summary", "readonly:content.attachment:confluence",
    "read:confluence-user", "read:confluence-groups", "search:confluence",
})

GATEWAY_UNAUTHORIZED = {"code": 401, "message": "Unauthorized"}
SCOPE_MISMATCH = {"code": 401, "message": "Unauthorized; scope does not match"}


@dataclass(frozen=True)
class Grant:
    """What a gateway credential may do: a scoped API token (``kind`` "scoped", used with
    ``email`` in Basic auth, or alone as Bearer) or a service account's OAuth access token
    ("oauth", Bearer only, until ``expires``)."""

    kind: str
    scopes: frozenset[str]
    user: User
    email: str | None = None
    expires: float | None = None  # time.monotonic() deadline

    def allows(self, route: str) -> bool:
        return any(needed <= self.scopes for needed in ROUTE_SCOPES.get(route, ()))

    def check(self, route: str) -> None:
        if not self.allows(route):
            raise HttpError(401, SCOPE_MISMATCH["message"],
                            {"X-Failure-Category": "FAILURE_CLIENT_SCOPE_CHECK"},
                            body=dict(SCOPE_MISMATCH))


@dataclass
class OAuthClient:
    """A service account's OAuth 2.0 credential (client credentials grant)."""

    client_id: str
    client_secret: str
    scopes: frozenset[str]
    user: User


def v2_error(status: int, code: str, title: str, detail: str | None = None) -> HttpError:
    """A REST v2 error (``{"errors": [{status, code, title, detail}]}``)."""
    return HttpError(status, title, body={"errors": [
        {"status": status, "code": code, "title": title, "detail": detail}]})


# --------------------------------------------------------------------------- HTTP plumbing


class _Server(ThreadingHTTPServer):
    """Joins its handler threads on close, after cutting idle keep-alive connections."""

    daemon_threads = False
    block_on_close = True

    def __init__(self, address: tuple[str, int], handler: type[BaseHTTPRequestHandler],
                 app: Any) -> None:
        self.app = app
        self.open_sockets: set[socket.socket] = set()
        self.sockets_lock = threading.Lock()
        super().__init__(address, handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        with self.sockets_lock:
            self.open_sockets.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self.sockets_lock:
            self.open_sockets.discard(request)
        super().shutdown_request(request)

    def handle_error(self, request: Any, client_address: Any) -> None:
        if not isinstance(sys.exc_info()[1], OSError):  # a client that hung up is no news
            super().handle_error(request, client_address)

    def cut_connections(self) -> None:
        with self.sockets_lock:
            sockets = list(self.open_sockets)
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out in two writes: no 40 ms stalls
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        pass  # quiet

    def _any(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        split = urlsplit(self.path)
        record = Recorded(
            method=self.command,
            path=split.path,
            query=parse_qs(split.query, keep_blank_values=True),
            authorization=self.headers.get("Authorization"),
            host=self.headers.get("Host"),
            headers=dict(self.headers.items()),
            body=body,
        )
        try:
            response = self.server.app.handle(record, split.query)
        except ConnectionResetByFault:
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                       struct.pack("ii", 1, 0))  # close() sends RST
            self.close_connection = True
            return
        except HttpError as error:
            response = Response(error.status, json.dumps(error.body).encode(),
                                headers=error.headers)
        except Exception as error:  # noqa: BLE001 - a bug in the fake answers 500, visibly
            response = Response(500, json.dumps(error_body(500, repr(error))).encode())
        record.status = response.status
        self.send_response(response.status)
        headers = {"Content-Type": response.content_type, **response.headers}
        for name, value in headers.items():
            self.send_header(name, value)
        body = response.body
        declared = response.declared_length
        self.send_header("Content-Length", str(declared if declared is not None else len(body)))
        if self.command == "HEAD":
            body = b""
        if declared is not None:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        if not response.trickle:
            self.wfile.write(body)
            return
        for index in range(len(body)):
            time.sleep(response.trickle)
            try:
                self.wfile.write(body[index:index + 1])
                self.wfile.flush()
            except OSError:  # the client gave up
                self.close_connection = True
                return

    do_GET = do_HEAD = do_POST = do_PUT = do_DELETE = _any  # noqa: N815 - http.server's names


# --------------------------------------------------------------------------- the fake itself


class FakeConfluence:
    """A Confluence site on 127.0.0.1 (and, for Cloud, its media host on 127.0.0.2 and the
    api.atlassian.com gateway on 127.0.0.3)."""

    def __init__(self, site: Site) -> None:
        self.site = site
        self.requests: list[Recorded] = []
        self.media_requests: list[Recorded] = []
        self.gateway_requests: list[Recorded] = []  # everything the gateway host was asked
        self.faults: list[Fault] = []
        # the Atlassian cloud around a Cloud site (see docs/atlassian-identities.md)
        self.cloud_id = str(uuid.uuid4())
        self.org_id = str(uuid.uuid4())
        self.directory_id = str(uuid.uuid4())
        self.admin_key = "admin-" + secrets.token_urlsafe(24)  # organization admin API key
        self.minimal_scopes: frozenset[str] = MINIMAL_GRANULAR_SCOPES
        self.oauth_expires_in = 3600  # seconds an access token lives
        self.directory_accepts_get = True  # GET .../users/search, as atlassian-python-api sends
        self.scoped_tokens: dict[str, Grant] = {}
        self.access_tokens: dict[str, Grant] = {}
        self.oauth_clients: dict[str, OAuthClient] = {}
        self.latency: float = 0.0
        self._lock = threading.Lock()
        self._secret = secrets.token_bytes(16)
        self._media_files: dict[str, Attachment] = {}
        self._servers: list[tuple[_Server, threading.Thread]] = []
        self.port = 0
        self.media_port = 0
        self.gateway_port = 0
        self._site_app = _SiteApp(self)

    # -- lifecycle

    def start(self) -> FakeConfluence:
        site = self._serve("127.0.0.1", self._site_app)
        self.port = site.server_address[1]
        if self.site.cloud:
            media = self._serve("127.0.0.2", _MediaApp(self))
            self.media_port = media.server_address[1]
            gateway = self._serve("127.0.0.3", _GatewayApp(self))
            self.gateway_port = gateway.server_address[1]
        return self

    def _serve(self, host: str, app: Any) -> _Server:
        server = _Server((host, 0), _Handler, app)
        thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.01},
                                  name=f"fake-confluence-{host}", daemon=True)
        thread.start()
        self._servers.append((server, thread))
        return server

    def stop(self) -> None:
        for server, thread in self._servers:
            server.shutdown()
            server.cut_connections()
            server.server_close()  # joins the handler threads
            thread.join()
        self._servers.clear()

    def __enter__(self) -> FakeConfluence:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- addresses and settings

    @property
    def root(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        return self.root + self.site.context

    @property
    def media_url(self) -> str:
        return f"http://127.0.0.2:{self.media_port}"

    @property
    def tenant_info_url(self) -> str:
        return f"{self.root}/_edge/tenant_info"

    @property
    def gateway_url(self) -> str:
        """The api.atlassian.com stand-in (Cloud fakes only)."""
        return f"http://127.0.0.3:{self.gateway_port}"

    @property
    def gateway_site_url(self) -> str:
        """``https://api.atlassian.com/ex/confluence/{cloudId}``: scoped credentials' site root."""
        return f"{self.gateway_url}/ex/confluence/{self.cloud_id}"

    @property
    def gateway_wiki_url(self) -> str:
        """The gateway's counterpart of :attr:`url` (``.../ex/confluence/{cloudId}/wiki``)."""
        return self.gateway_site_url + self.site.context

    @property
    def gateway_token_url(self) -> str:
        """The OAuth 2.0 token endpoint (``https://auth.atlassian.com/oauth/token``)."""
        return f"{self.gateway_url}/oauth/token"

    # -- gateway credentials

    def scoped_token(self, scopes: Iterable[str], email: str | None = None, *,
                     user: User | None = None) -> str:
        """A new API token with ``scopes`` for ``user`` (the site's ``me`` by default). It works
        only at the gateway, with Basic ``email:token`` (``email`` defaults to the user's
        address) or as a Bearer token; the site answers 401 to it, as Confluence Cloud does."""
        user = user or self.site.me
        if email is None:
            email = user.directory_email or (user.email if isinstance(user.email, str) else "")
        token = "ATATT-scoped-" + secrets.token_urlsafe(24)
        self.scoped_tokens[token] = Grant("scoped", frozenset(scopes), user, email=email)
        return token

    def service_account(self, client_id: str | None = None, client_secret: str | None = None,
                        scopes: Iterable[str] | None = None, *,
                        name: str = "mailpage bot") -> tuple[str, str]:
        """A service account (an ``app`` user without e-mail in Confluence, known to the
        directory as ``...@serviceaccount.atlassian.com``) with an OAuth 2.0 credential for
        ``scopes`` (default :attr:`minimal_scopes`). Returns ``(client_id, client_secret)``."""
        client_id = client_id or secrets.token_hex(16)
        client_secret = client_secret or "ATOA" + secrets.token_urlsafe(32)
        slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")
        user = User(name, MISSING, account_type="app",
                    directory_email=f"{slug}-{client_id[:6]}@serviceaccount.atlassian.com")
        self.site.users.append(user)
        chosen = self.minimal_scopes if scopes is None else frozenset(scopes)
        self.oauth_clients[client_id] = OAuthClient(client_id, client_secret, chosen, user)
        return client_id, client_secret

    def service_user(self, client_id: str) -> User:
        """The Confluence user behind a service account's OAuth credential."""
        return self.oauth_clients[client_id].user

    def expire_access_tokens(self) -> None:
        """Make every OAuth access token issued so far expired (the gateway answers 401)."""
        with self._lock:
            for token, grant in list(self.access_tokens.items()):
                self.access_tokens[token] = Grant(grant.kind, grant.scopes, grant.user,
                                                  expires=0.0)

    def gateway_grant(self, authorization: str | None) -> Grant | None:
        """The grant an Authorization header carries at the gateway, or None."""
        header = authorization or ""
        scheme, _, value = header.partition(" ")
        if scheme.lower() == "basic":
            try:
                email, _, token = base64.b64decode(value).decode().partition(":")
            except ValueError:
                return None
            grant = self.scoped_tokens.get(token)
            if grant is not None and hmac.compare_digest(email.encode(),
                                                         (grant.email or "").encode()):
                return grant
            return None
        if scheme.lower() == "bearer":
            grant = self.scoped_tokens.get(value) or self.access_tokens.get(value)
            if grant is not None and grant.expires is not None \
                    and time.monotonic() >= grant.expires:
                return None
            return grant
        return None

    def env(self) -> dict[str, str]:
        """The MAILPAGE_* variables that point mailpage at this site."""
        env = {
            "MAILPAGE_CONFLUENCE_URL": self.url,
            "MAILPAGE_CONFLUENCE_DEPLOYMENT": self.site.deployment,
            "MAILPAGE_CONFLUENCE_TOKEN": self.site.token,
        }
        if self.site.cloud:
            env |= {"MAILPAGE_CONFLUENCE_USER": str(self.site.me.email),
                    "MAILPAGE_CONFLUENCE_AUTH": "basic"}
        else:
            env["MAILPAGE_CONFLUENCE_AUTH"] = "bearer"
        return env

    def client(self, *, token: str | None = None) -> Any:
        """The real atlassian-python-api client for this site (imported lazily)."""
        from atlassian import ConfluenceServer  # noqa: PLC0415 - costs 0.2 s to import

        token = self.site.token if token is None else token
        if self.site.cloud:
            return ConfluenceServer(self.url, username=str(self.site.me.email), password=token,
                                    cloud=True)
        return ConfluenceServer(self.url, token=token)

    # -- faults

    def fail(self, *faults: Fault) -> None:
        """Queue canned responses (see :class:`Fault`)."""
        with self._lock:
            self.faults.extend(faults)

    def take_fault(self, relative_path: str) -> Fault | None:
        with self._lock:
            for index, fault in enumerate(self.faults):
                if relative_path.startswith(fault.prefix):
                    return self.faults.pop(index)
        return None

    # -- media tokens

    def media_location(self, attachment: Attachment) -> str:
        file_id = str(uuid.uuid5(_NAMESPACE, f"media:{attachment.id}"))
        self._media_files[file_id] = attachment
        token = self._sign(file_id)
        return (f"{self.media_url}/file/{file_id}/binary?token={token}"
                f"&name={quote(attachment.filename)}")

    def _sign(self, file_id: str) -> str:
        return hmac.new(self._secret, file_id.encode(), hashlib.sha256).hexdigest()

    def media_file(self, file_id: str, token: str) -> Attachment | None:
        if not hmac.compare_digest(self._sign(file_id), token):
            return None
        return self._media_files.get(file_id)


_ROUTES: list[tuple[re.Pattern[str], str]] = [
    (re.compile(p), name) for p, name in [
        (r"/rest/api/content", "content_list"),
        (r"/rest/api/content/(?P<page_id>[^/]+)", "content"),
        (r"/rest/api/content/(?P<page_id>[^/]+)/child/attachment", "attachments"),
        ((r"/rest/api/content/(?P<page_id>[^/]+)/child/attachment/(?P<attachment_id>[^/]+)"
          r"/download"), "attachment_download"),
        (r"/rest/api/content/(?P<page_id>[^/]+)/notification/child-created", "watchers"),
        (r"/rest/api/user/current", "current_user"),
        (r"/rest/api/user", "user"),
        (r"/rest/api/search/user", "search_user"),
        (r"/rest/api/search", "search"),
        (r"/rest/api/group/by-name", "group_by_name"),
        (r"/rest/api/group/(?P<group>[^/]+)/membersByGroupId", "members_by_id"),
        (r"/rest/api/group/(?P<name>[^/]+)/member", "members_by_name"),
        (r"/download/attachments/(?P<page_id>[^/]+)/(?P<name>[^/]+)", "download"),
        (r"/download/thumbnails/(?P<page_id>[^/]+)/(?P<name>[^/]+)", "download"),
        (r"/api/v2/pages", "v2_pages"),
        (r"/api/v2/pages/(?P<page_id>[^/]+)", "v2_page"),
        (r"/api/v2/pages/(?P<page_id>[^/]+)/attachments", "v2_page_attachments"),
        (r"/api/v2/blogposts", "v2_blogposts"),
        (r"/api/v2/blogposts/(?P<page_id>[^/]+)", "v2_blogpost"),
        (r"/api/v2/blogposts/(?P<page_id>[^/]+)/attachments", "v2_blogpost_attachments"),
        (r"/api/v2/spaces", "v2_spaces"),
    ]
]
# The only paths the gateway passes on to the site: the REST APIs (not the servlets).
_GATEWAY_PREFIXES = ("/rest/api/", "/api/v2/")
V2_BODY_FORMATS = ("storage", "atlas_doc_format", "view", "export_view", "anonymous_export_view")


class _SiteApp:
    """Answers the site's requests. One instance per FakeConfluence."""

    def __init__(self, fake: FakeConfluence) -> None:
        self.fake = fake
        self.site = fake.site

    # -- entry

    def handle(self, record: Recorded, raw_query: str) -> Response:
        self.fake.requests.append(record)
        return self.serve(record, raw_query)

    def serve(self, record: Recorded, raw_query: str, *, path: str | None = None,
              grant: Grant | None = None) -> Response:
        """Answer ``record``; the gateway passes the path below ``/ex/confluence/{cloudId}`` and
        the ``grant`` it authenticated (then each route checks its scopes instead of the site's
        own credentials)."""
        if self.fake.latency:
            time.sleep(self.fake.latency)
        self.site.prepare()
        context = self.site.context
        path = unquote(record.path if path is None else path)
        inside = path == context or path.startswith(context + "/") or not context
        relative = path[len(context):] if inside else path
        faulty = self.fault_response(record, relative)
        if faulty is not None:
            return faulty
        if self.site.cloud and grant is None and path == "/_edge/tenant_info":
            return _json({"cloudId": self.fake.cloud_id})  # no authentication, as on Cloud
        if grant is not None and not relative.startswith(_GATEWAY_PREFIXES):
            raise HttpError(401, SCOPE_MISMATCH["message"], body=dict(SCOPE_MISMATCH))
        if not inside:
            raise HttpError(404, f"No resource found at {record.path}")
        if record.method not in ("GET", "HEAD"):
            raise HttpError(405, f"{record.method} is not supported by the fake Confluence")
        file = next((f for name, f in self.site.files.items() if unquote(name) == relative),
                    None)
        if file is not None:
            if file.needs_auth:
                self.authenticate(record)
            return Response(200, file.data, file.media_type)
        query = {k: v[-1] for k, v in record.query.items()}
        for pattern, name in _ROUTES:
            match = pattern.fullmatch(relative.rstrip("/") or "/")
            if match:
                self.admit(record, name, grant)
                handler = getattr(self, "route_" + name)
                return handler(query=query, raw_query=raw_query, relative=relative,
                               multi=record.query, me=grant.user if grant else self.site.me,
                               **match.groupdict())  # type: ignore[no-any-return]
        self.admit(record, "", grant)
        raise HttpError(404, f"No resource found at {record.path}")

    def admit(self, record: Recorded, route: str, grant: Grant | None) -> None:
        """The site's own credentials, or (through the gateway) the route's scopes."""
        if grant is None:
            self.authenticate(record)
        elif route:
            grant.check(route)

    def fault_response(self, record: Recorded, relative: str) -> Response | None:
        """The next queued fault for ``relative``, as a response (or a reset connection)."""
        fault = self.fake.take_fault(relative)
        if fault is None:
            return None
        if fault.reset:
            raise ConnectionResetByFault
        body, content_type = fault.payload()
        if fault.echo_header:
            echoed = next((v for k, v in record.headers.items()
                           if k.lower() == fault.echo_header.lower()), "")
            body = json.dumps(error_body(fault.status, str(fault.body) + echoed)).encode()
            content_type = JSON_TYPE
        headers = dict(fault.headers)
        content_type = headers.pop("Content-Type", content_type)
        return Response(fault.status, body, content_type, headers, fault.declared_length,
                        fault.trickle)

    def authenticate(self, record: Recorded) -> None:
        header = record.authorization or ""
        if self.site.cloud:
            secret = f"{self.site.me.email}:{self.site.token}".encode()
            expected = "Basic " + base64.b64encode(secret).decode()
        else:
            expected = f"Bearer {self.site.token}"
        if header and hmac.compare_digest(header.encode(), expected.encode()):
            return
        headers = {"WWW-Authenticate": 'Basic realm="Confluence"'} if self.site.cloud else {}
        if header and not self.site.cloud:
            headers["X-Seraph-LoginReason"] = "AUTHENTICATION_DENIED"
        raise HttpError(401, "Client must be authenticated to access this resource.", headers)

    # -- links and shapes

    @property
    def base(self) -> str:
        return self.fake.url

    def user_json(self, user: User, *, top: bool = False, email: bool = True,
                  expand: set[str] | frozenset[str] = frozenset()) -> dict[str, Any]:
        ctx = self.site.context
        if self.site.cloud:
            data: dict[str, Any] = {"type": "known", "accountId": user.account_id,
                                    "accountType": user.account_type}
            if email and user.email is not MISSING:
                data["email"] = user.email
            data |= {
                "publicName": user.display_name,
                "profilePicture": {"path": f"{ctx}/aa-avatar/{user.account_id}", "width": 48,
                                   "height": 48, "isDefault": False},
                "displayName": user.display_name,
                "isExternalCollaborator": False,
                "_expandable": {"operations": "", "personalSpace": ""},
                "_links": {"self": f"{self.base}/rest/api/user?accountId={user.account_id}"},
            }
        else:
            data = {"type": "known", "username": user.username, "userKey": user.user_key,
                    "profilePicture": {"path": f"{ctx}/images/icons/profilepics/default.svg",
                                       "width": 48, "height": 48, "isDefault": True},
                    "displayName": user.display_name}
            expandable = {"operations": "", "details": "", "personalSpace": "", "status": ""}
            if "status" in expand:
                data["status"] = "Active" if user.active else "Deactivated"
                del expandable["status"]
            if "details.personal" in expand or "details" in expand:
                personal: dict[str, Any] = {"phone": "", "im": "", "website": ""}
                if user.email is not MISSING:
                    personal["email"] = user.email
                data["details"] = {"personal": personal, "_expandable": {"business": ""}}
                del expandable["details"]
            data["_expandable"] = expandable
            data["_links"] = {"self": f"{self.base}/rest/api/user?key={user.user_key}"}
        if top:
            data["_links"] |= {"base": self.base, "context": self.site.context}
        return data

    def webui(self, page: Page) -> str:
        key, title = page.space_key, quote_plus(page.title)
        day = page.day.replace("-", "/")
        if self.site.cloud:
            if page.type == "blogpost":
                return f"/spaces/{key}/blog/{day}/{page.id}/{title}"
            return f"/spaces/{key}/pages/{page.id}/{title}"
        if page.type == "blogpost":
            return f"/display/{key}/{day}/{title}"
        return f"/display/{key}/{title}"

    def version_json(self, page: Page) -> dict[str, Any]:
        author = page.author or self.site.me
        return {
            "by": self.user_json(author),
            "when": page.last_modified,
            "friendlyWhen": page.last_modified[:10],
            "message": "",
            "number": page.version,
            "minorEdit": False,
            "contentTypeModified": False,
            "_expandable": {"collaborators": "", "content": f"/rest/api/content/{page.id}"},
            "_links": {"self": f"{self.base}/rest/api/content/{page.id}/version/{page.version}"},
        }

    def space_json(self, page: Page) -> dict[str, Any]:
        key = page.space_key
        return {
            "id": space_id(key),
            "key": key,
            "name": page.space_name,
            "type": "global",
            "status": "current",
            "_expandable": {"settings": f"/rest/api/space/{key}/settings", "metadata": "",
                            "operations": "", "lookAndFeel": "", "identifiers": "",
                            "permissions": "", "icon": "", "description": "",
                            "theme": f"/rest/api/space/{key}/theme", "history": "",
                            "homepage": ""},
            "_links": {"webui": f"/spaces/{key}" if self.site.cloud else f"/display/{key}",
                       "self": f"{self.base}/rest/api/space/{key}"},
        }

    def content_json(self, page: Page, expand: set[str], *, top: bool) -> dict[str, Any]:
        pid = page.id
        data: dict[str, Any] = {"id": pid, "type": page.type, "status": "current",
                                "title": page.title}
        expandable: dict[str, str] = {
            "childTypes": "", "container": f"/rest/api/space/{page.space_key}", "metadata": "",
            "operations": "", "children": f"/rest/api/content/{pid}/child",
            "restrictions": f"/rest/api/content/{pid}/restriction/byOperation",
            "history": f"/rest/api/content/{pid}/history", "ancestors": "", "body": "",
            "version": "", "descendants": f"/rest/api/content/{pid}/descendant",
            "space": f"/rest/api/space/{page.space_key}",
        }
        if self.site.cloud:
            expandable |= {"schedulePublishDate": "", "schedulePublishInfo": ""}
        if "space" in expand:
            data["space"] = self.space_json(page)
            del expandable["space"]
        if "history" in expand or "history.lastUpdated" in expand:
            history: dict[str, Any] = {
                "latest": True,
                "createdBy": self.user_json(page.author or self.site.me),
                "createdDate": page.last_modified,
            }
            history_expandable = {"lastUpdated": "", "previousVersion": "", "contributors": "",
                                  "nextVersion": ""}
            if "history.lastUpdated" in expand:
                history["lastUpdated"] = self.version_json(page)
                del history_expandable["lastUpdated"]
            history["_expandable"] = history_expandable
            history["_links"] = {"self": f"{self.base}/rest/api/content/{pid}/history"}
            data["history"] = history
            del expandable["history"]
        if "version" in expand:
            data["version"] = self.version_json(page)
            del expandable["version"]
        representations = ["editor", "view", "export_view", "styled_view", "dynamic", "storage",
                           "editor2", "anonymous_export_view"]
        if self.site.cloud:
            representations.insert(1, "atlas_doc_format")
        wanted = [r for r in representations if f"body.{r}" in expand]
        if wanted or "body" in expand:
            body: dict[str, Any] = {}
            for name in wanted:
                value = page.view if name == "view" else (page.export_view or "")
                body[name] = {
                    "value": value,
                    "representation": name,
                    "_expandable": {"webresource": "", "embeddedContent": "", "mediaToken": "",
                                    "content": f"/rest/api/content/{pid}"},
                }
            body["_expandable"] = {r: "" for r in representations if r not in wanted}
            data["body"] = body
            del expandable["body"]
        data["extensions"] = {"position": 959} if page.type == "page" else {}
        data["_expandable"] = expandable
        links = {"self": f"{self.base}/rest/api/content/{pid}",
                 "tinyui": f"/x/{tiny_code(pid)}",
                 "editui": (f"/pages/resumedraft.action?draftId={pid}" if self.site.cloud
                            else f"/pages/editpage.action?pageId={pid}"),
                 "webui": self.webui(page)}
        if top:
            links = {"base": self.base, "context": self.site.context, **links}
        data["_links"] = links
        return data

    def attachment_json(self, page: Page, attachment: Attachment) -> dict[str, Any]:
        name = quote(attachment.filename)
        download = (f"/download/attachments/{page.id}/{name}?version=1"
                    f"&modificationDate={MODIFICATION_DATE}&api=v2")
        return {
            "id": attachment.id,
            "type": "attachment",
            "status": "current",
            "title": attachment.filename,
            "metadata": {"mediaType": attachment.media_type, "comment": "",
                         "_expandable": {"currentUser": "", "properties": "", "labels": ""}},
            "extensions": {"mediaType": attachment.media_type,
                           "fileSize": len(attachment.data), "comment": ""},
            "_expandable": {"container": f"/rest/api/content/{page.id}", "version": "",
                            "space": f"/rest/api/space/{page.space_key}", "history": "",
                            "operations": "", "children": "", "descendants": "",
                            "restrictions": "", "ancestors": "", "body": "", "childTypes": ""},
            "_links": {"webui": (f"/pages/viewpageattachments.action?pageId={page.id}"
                                 f"&preview=%2F{page.id}%2F{attachment.id[3:]}%2F{name}"),
                       "self": f"{self.base}/rest/api/content/{attachment.id}",
                       "download": download},
        }

    def paged(self, items: list[Any], *, query: dict[str, str], raw_query: str,
              relative: str, default_limit: int, extra: dict[str, Any] | None = None,
              ) -> dict[str, Any]:
        """A page of ``items`` with ``start``/``limit``/``size`` and RELATIVE ``_links.next``."""
        try:
            start = max(int(query.get("start", 0)), 0)
            requested = int(query.get("limit", default_limit))
        except ValueError as error:
            raise HttpError(400, f"Invalid paging parameter: {error}") from error
        limit = max(min(requested, self.site.page_size), 0)
        results = items[start:start + limit]
        kept = [(k, v) for k, v in parse_qsl(raw_query, keep_blank_values=True)
                if k not in ("start", "limit")]

        relative = quote(relative)  # the path as it was asked for, percent-encoded again

        def link(at: int) -> str:
            params = urlencode([*kept, ("limit", limit), ("start", at)], safe=",")
            return f"{relative}?{params}"

        links: dict[str, str] = {"base": self.base, "context": self.site.context}
        if limit and start + limit < len(items):
            links["next"] = link(start + limit)
        if start > 0 and limit:
            links["prev"] = link(max(start - limit, 0))
        links["self"] = self.base + relative + (f"?{raw_query}" if raw_query else "")
        data: dict[str, Any] = {"results": results, "start": start, "limit": limit,
                                "size": len(results)}
        data |= extra or {}
        data["_links"] = links
        return data

    def visible_page(self, page_id: str) -> Page:
        page = self.site.page(page_id)
        if page is None:
            raise HttpError(404, f"No content found with id: {page_id}")
        return page

    # -- routes

    def route_content(self, *, page_id: str, query: dict[str, str], **_: Any) -> Response:
        page = self.visible_page(page_id)
        return _json(self.content_json(page, _expand(query), top=True))

    def route_content_list(self, *, query: dict[str, str], raw_query: str, relative: str,
                           **_: Any) -> Response:
        kind = query.get("type", "page")
        pages = [p for p in self.site.pages if not p.restricted and p.type == kind
                 and query.get("spaceKey", p.space_key) == p.space_key
                 and query.get("title", p.title) == p.title
                 and query.get("postingDay", p.day) == p.day]
        expand = _expand(query)
        items = [self.content_json(p, expand, top=False) for p in pages]
        return _json(self.paged(items, query=query, raw_query=raw_query, relative=relative,
                                default_limit=25))

    def route_attachments(self, *, page_id: str, query: dict[str, str], raw_query: str,
                          relative: str, **_: Any) -> Response:
        page = self.visible_page(page_id)
        attachments = [a for a in page.attachments
                       if query.get("filename", a.filename) == a.filename
                       and query.get("mediaType", a.media_type) == a.media_type]
        items = [self.attachment_json(page, a) for a in attachments]
        return _json(self.paged(items, query=query, raw_query=raw_query, relative=relative,
                                default_limit=50 if self.site.cloud else 25))

    def route_watchers(self, *, page_id: str, query: dict[str, str], raw_query: str,
                       relative: str, **_: Any) -> Response:
        if not self.site.cloud:
            raise HttpError(404, f"No resource found at {self.site.context}{relative}")
        page = self.visible_page(page_id)
        items = []
        for user in page.watchers:
            watcher = self.user_json(user)
            del watcher["_links"], watcher["_expandable"]
            watcher |= {"operations": None, "personalSpace": None,
                        "externalCollaborator": False}
            items.append({"type": "watch", "watcher": watcher, "contentId": page.id})
        return _json(self.paged(items, query=query, raw_query=raw_query, relative=relative,
                                default_limit=200))

    def route_current_user(self, *, query: dict[str, str], me: User, **_: Any) -> Response:
        return _json(self.user_json(me, top=True, expand=_expand(query)))

    def route_user(self, *, query: dict[str, str], **_: Any) -> Response:
        if self.site.cloud:
            if "accountId" not in query:
                raise HttpError(400, "The accountId query parameter is required.")
            wanted, attribute = query["accountId"], "account_id"
        elif "username" in query:
            wanted, attribute = query["username"], "username"
        elif "key" in query:
            wanted, attribute = query["key"], "user_key"
        else:
            raise HttpError(400, "A username or key query parameter is required.")
        for user in self.site.all_users():
            if getattr(user, attribute) == wanted:
                return _json(self.user_json(user, top=True, expand=_expand(query)))
        raise HttpError(404, f"No user found with {attribute}: {wanted}")

    def search_users(self, query: dict[str, str], raw_query: str, relative: str) -> Response:
        cql = query.get("cql", "")
        match = _USER_CQL.fullmatch(cql)
        if not match:
            raise HttpError(400, "com.atlassian.confluence.api.service.exceptions."
                                 f"BadRequestException: Could not parse cql : {cql}")
        needle = (match.group("term") or "").replace("*", "").lower()
        users = [u for u in self.site.all_users() if needle in u.display_name.lower()]
        items = []
        for user in users:
            if self.site.cloud:
                url = f"/people/{user.account_id}"
            else:
                url = f"/display/~{quote(user.username)}"
            items.append({"user": self.user_json(user, email=False), "title": user.display_name,
                          "excerpt": "", "url": url, "breadcrumbs": [], "entityType": "user",
                          "iconCssClass": "aui-iconfont-user",
                          "lastModified": "2026-11-26T10:00:00.000Z", "score": 0.0})
        data = self.paged(items, query=query, raw_query=raw_query, relative=relative,
                          default_limit=25,
                          extra={"totalSize": len(items), "cqlQuery": cql, "searchDuration": 7})
        return _json(data)

    def route_search_user(self, *, query: dict[str, str], raw_query: str, relative: str,
                          **_: Any) -> Response:
        if not self.site.cloud:
            raise HttpError(404, f"No resource found at {self.site.context}{relative}")
        return self.search_users(query, raw_query, relative)

    def route_search(self, *, query: dict[str, str], raw_query: str, relative: str,
                     **_: Any) -> Response:
        if not self.site.cloud and "user.fullname" in query.get("cql", ""):
            return self.search_users(query, raw_query, relative)
        return self.search_content(query, raw_query, relative)

    def search_content(self, query: dict[str, str], raw_query: str, relative: str) -> Response:
        """CQL over the visible pages; Cloud pages with an opaque cursor, DC with start."""
        text = query.get("cql", "")
        try:
            parsed = cql.parse(text)
        except cql.CQLError as error:
            raise HttpError(400, f"com.atlassian.confluence.api.service.exceptions."
                                 f"BadRequestException: {error}") from error
        found = [p for p in self.site.pages if not p.restricted and parsed.matches(cql.Fields(
            space=p.space_key, type=p.type, title=p.title,
            text=f"{p.title} {p.view}", lastmodified=_iso(p.last_modified),
            created=_iso(p.last_modified)))]
        key = parsed.order.lstrip("-")
        found.sort(key=lambda p: p.title.lower() if key == "title" else p.last_modified,
                   reverse=parsed.order.startswith("-"))
        expand = {e.removeprefix("content.") for e in _expand(query) if e.startswith("content.")}
        items = [{
            "content": self.content_json(p, expand, top=False),
            "title": p.title,
            "excerpt": "@@@hl@@@" + re.sub(r"<[^>]+>", " ", p.view)[:200] + "@@@endhl@@@",
            "url": self.webui(p),
            "resultGlobalContainer": {"title": p.space_name,
                                      "displayUrl": f"/spaces/{p.space_key}"},
            "breadcrumbs": [], "entityType": "content",
            "iconCssClass": f"aui-icon content-type-{p.type}",
            "lastModified": p.last_modified, "friendlyLastModified": "recently", "score": 1.0,
        } for p in found]
        if self.site.cloud and "cursor" in query:  # Cloud pages with an opaque cursor
            query = {**query, "start": base64.urlsafe_b64decode(query["cursor"]).decode()}
        data = self.paged(items, query=query, raw_query=raw_query, relative=relative,
                          default_limit=25, extra={"totalSize": len(items), "cqlQuery": text,
                                                   "searchDuration": 9})
        if self.site.cloud and "next" in data["_links"]:
            start = data["start"] + data["limit"]
            cursor = base64.urlsafe_b64encode(str(start).encode()).decode()
            kept = [(k, v) for k, v in parse_qsl(raw_query, keep_blank_values=True)
                    if k not in ("start", "cursor", "next", "limit")]
            params = urlencode([("next", "true"), ("cursor", cursor),
                                ("limit", data["limit"]), *kept], safe=",")
            data["_links"]["next"] = f"{quote(relative)}?{params}"
        return _json(data)

    def route_group_by_name(self, *, query: dict[str, str], **_: Any) -> Response:
        if not self.site.cloud:
            raise HttpError(404, "No resource found at /rest/api/group/by-name")
        name = query.get("name", "")
        if name not in self.site.groups:
            raise HttpError(404, f"No group found with name: {name}")
        return _json({"type": "group", "name": name, "id": group_id(name),
                      "_links": {"self": f"{self.base}/rest/api/group/by-name?"
                                         + urlencode({"name": name}),
                                 "base": self.base, "context": self.site.context}})

    def route_members_by_id(self, *, group: str, query: dict[str, str], raw_query: str,
                            relative: str, **_: Any) -> Response:
        names = [n for n in self.site.groups if group_id(n) == group]
        if not self.site.cloud or not names:
            raise HttpError(404, f"No group found with id: {group}")
        items = [self.user_json(u) for u in self.site.groups[names[0]]]
        extra = ({"totalSize": len(items)} if query.get("shouldReturnTotalSize") == "true"
                 else None)
        return _json(self.paged(items, query=query, raw_query=raw_query, relative=relative,
                                default_limit=200, extra=extra))

    def route_members_by_name(self, *, name: str, query: dict[str, str], raw_query: str,
                              relative: str, **_: Any) -> Response:
        if self.site.cloud or name not in self.site.groups:  # Cloud: deprecated, use the id
            raise HttpError(404, f"No group found with name: {name}")
        expand = _expand(query)
        items = [self.user_json(u, expand=expand) for u in self.site.groups[name]]
        return _json(self.paged(items, query=query, raw_query=raw_query, relative=relative,
                                default_limit=200))

    def route_download(self, *, page_id: str, name: str, **_: Any) -> Response:
        found = self.visible_page(page_id)
        for attachment in found.attachments:
            if attachment.filename == name:
                if self.site.cloud:
                    location = self.fake.media_location(attachment)
                    return Response(302, b"", "text/plain", {"Location": location})
                return Response(200, attachment.data, attachment.media_type, {
                    "Content-Disposition": f"attachment; filename*=UTF-8''{quote(name)}"})
        raise HttpError(404, f"No attachment found with name: {name}")

    def route_attachment_download(self, *, page_id: str, attachment_id: str,
                                  relative: str, **_: Any) -> Response:
        """Cloud's REST download: 302 to the media host (works with API tokens and through
        the gateway, unlike the ``/download/attachments`` servlet)."""
        if not self.site.cloud:
            raise HttpError(404, f"No resource found at {self.site.context}{relative}")
        found = self.visible_page(page_id)
        wanted = attachment_id if attachment_id.startswith("att") else "att" + attachment_id
        for attachment in found.attachments:
            if attachment.id == wanted:
                return Response(302, b"", "text/plain",
                                {"Location": self.fake.media_location(attachment)})
        raise HttpError(404, f"No attachment found with id: {attachment_id}")

    # -- REST v2 (Cloud only)

    def v2_only_cloud(self, relative: str) -> None:
        if not self.site.cloud:
            raise HttpError(404, f"No resource found at {self.site.context}{relative}")

    def v2_content(self, page_id: str, kind: str) -> Page:
        if not page_id.isdigit():
            raise v2_error(400, "INVALID_REQUEST_PARAMETER",
                           f"Provided value for 'id' is not the correct type: {page_id}")
        page = self.site.page(page_id)
        if page is None or page.type != kind:
            raise v2_error(404, "NOT_FOUND", "Not Found")
        return page

    def v2_body(self, page: Page, body_format: str | None,
                allowed: tuple[str, ...] = V2_BODY_FORMATS) -> dict[str, Any]:
        if body_format is None:
            return {}
        if body_format not in allowed:
            raise v2_error(400, "INVALID_REQUEST_PARAMETER",
                           f"Provided value for 'body-format' is not valid: {body_format}")
        if body_format in ("export_view", "anonymous_export_view"):
            value = page.export_view or ""
        elif body_format == "atlas_doc_format":
            value = json.dumps({"type": "doc", "version": 1, "content": [
                {"type": "paragraph", "content": [
                    {"type": "text", "text": re.sub(r"<[^>]+>", "", page.view)}]}]})
        else:  # view, and storage (the fake keeps no storage format: the view stands in)
            value = page.view
        return {body_format: {"representation": body_format, "value": value}}

    def v2_version(self, page: Page) -> dict[str, Any]:
        author = page.author or self.site.me
        return {"createdAt": page.last_modified, "message": "", "number": page.version,
                "minorEdit": False, "authorId": author.account_id}

    def v2_page_json(self, page: Page, body_format: str | None, *, single: bool,
                     allowed: tuple[str, ...] = V2_BODY_FORMATS) -> dict[str, Any]:
        author = page.author or self.site.me
        data: dict[str, Any] = {"id": page.id, "status": "current", "title": page.title,
                                "spaceId": str(space_id(page.space_key))}
        if page.type == "page":
            data |= {"parentId": None, "parentType": None, "position": 959}
        data |= {"authorId": author.account_id, "createdAt": page.last_modified,
                 "version": self.v2_version(page),
                 "body": self.v2_body(page, body_format, allowed)}
        links = {"webui": self.webui(page),
                 "editui": f"/pages/resumedraft.action?draftId={page.id}",
                 "tinyui": f"/x/{tiny_code(page.id)}"}
        if single:
            links["base"] = self.base
        data["_links"] = links
        return data

    def v2_attachment_json(self, page: Page, attachment: Attachment) -> dict[str, Any]:
        v1 = self.attachment_json(page, attachment)
        container = "pageId" if page.type == "page" else "blogPostId"
        return {
            "id": attachment.id, "status": "current", "title": attachment.filename,
            "createdAt": page.last_modified, container: page.id,
            "mediaType": attachment.media_type, "mediaTypeDescription": "", "comment": "",
            "fileId": str(uuid.uuid5(_NAMESPACE, f"media:{attachment.id}")),
            "fileSize": len(attachment.data),
            "webuiLink": v1["_links"]["webui"], "downloadLink": v1["_links"]["download"],
            "version": self.v2_version(page),
            "_links": {"webui": v1["_links"]["webui"], "download": v1["_links"]["download"]},
        }

    def v2_paged(self, items: list[Any], *, query: dict[str, str], raw_query: str,
                 relative: str, default_limit: int) -> Response:
        """A page of ``items`` with an opaque ``cursor``; ``_links.next`` is
        ``{context}/api/v2/...?...&cursor=...`` (to be joined to the SITE root, not to
        ``_links.base``, which already ends with the context) and ``_links.base`` the site."""
        try:
            requested = int(query.get("limit", default_limit))
        except ValueError as error:
            raise v2_error(400, "INVALID_REQUEST_PARAMETER", f"Invalid limit: {error}") from error
        if not 1 <= requested <= 250:
            raise v2_error(400, "INVALID_REQUEST_PARAMETER",
                           "Provided value for 'limit' is out of range [1, 250]")
        start = 0
        if "cursor" in query:
            try:
                start = int(json.loads(base64.urlsafe_b64decode(query["cursor"]))["offset"])
            except (ValueError, KeyError, TypeError) as error:
                raise v2_error(400, "INVALID_REQUEST_PARAMETER",
                               "Provided value for 'cursor' is not the correct type. Expected "
                               "type is Cursor.") from error
        limit = min(requested, self.site.page_size)
        data: dict[str, Any] = {"results": items[start:start + limit]}
        links: dict[str, str] = {}
        headers: dict[str, str] = {}
        if start + limit < len(items):
            cursor = base64.urlsafe_b64encode(
                json.dumps({"offset": start + limit}).encode()).decode()
            kept = [(k, v) for k, v in parse_qsl(raw_query, keep_blank_values=True)
                    if k not in ("cursor", "limit")]
            params = urlencode([*kept, ("cursor", cursor), ("limit", limit)])
            links["next"] = f"{self.site.context}{quote(relative)}?{params}"
            headers["Link"] = f'<{links["next"]}>; rel="next", <{self.base}>; rel="base"'
        links["base"] = self.base
        data["_links"] = links
        return Response(200, json.dumps(data).encode(), headers=headers)

    def route_v2_page(self, *, page_id: str, query: dict[str, str], relative: str,
                      **_: Any) -> Response:
        self.v2_only_cloud(relative)
        page = self.v2_content(page_id, "page")
        return _json(self.v2_page_json(page, query.get("body-format"), single=True))

    def route_v2_blogpost(self, *, page_id: str, query: dict[str, str], relative: str,
                          **_: Any) -> Response:
        self.v2_only_cloud(relative)
        page = self.v2_content(page_id, "blogpost")
        return _json(self.v2_page_json(page, query.get("body-format"), single=True))

    def v2_list(self, kind: str, *, query: dict[str, str], multi: dict[str, list[str]],
                raw_query: str, relative: str) -> Response:
        self.v2_only_cloud(relative)
        ids = _multi(multi, "id")
        spaces = _multi(multi, "space-id")
        pages = [p for p in self.site.pages if not p.restricted and p.type == kind
                 and (not ids or p.id in ids)
                 and (not spaces or str(space_id(p.space_key)) in spaces)
                 and query.get("title", p.title) == p.title]
        body_format = query.get("body-format")
        items = [self.v2_page_json(p, body_format, single=False,
                                   allowed=("storage", "atlas_doc_format")) for p in pages]
        return self.v2_paged(items, query=query, raw_query=raw_query, relative=relative,
                             default_limit=25)

    def route_v2_pages(self, **kwargs: Any) -> Response:
        return self.v2_list("page", **{k: kwargs[k] for k in
                                       ("query", "multi", "raw_query", "relative")})

    def route_v2_blogposts(self, **kwargs: Any) -> Response:
        return self.v2_list("blogpost", **{k: kwargs[k] for k in
                                           ("query", "multi", "raw_query", "relative")})

    def route_v2_spaces(self, *, query: dict[str, str], multi: dict[str, list[str]],
                        raw_query: str, relative: str, **_: Any) -> Response:
        self.v2_only_cloud(relative)
        keys, ids = _multi(multi, "keys"), _multi(multi, "ids")
        spaces: dict[str, Page] = {}
        for page in self.site.pages:
            spaces.setdefault(page.space_key, page)
        items = []
        for key, first in spaces.items():
            if (keys and key not in keys) or (ids and str(space_id(key)) not in ids):
                continue
            home = next((p for p in self.site.pages
                         if p.space_key == key and p.type == "page"), first)
            items.append({"id": str(space_id(key)), "key": key, "name": first.space_name,
                          "type": "global", "status": "current",
                          "authorId": self.site.me.account_id,
                          "createdAt": "2020-01-01T00:00:00.000Z", "homepageId": home.id,
                          "description": None, "icon": None,
                          "_links": {"webui": f"/spaces/{key}"}})
        return self.v2_paged(items, query=query, raw_query=raw_query, relative=relative,
                             default_limit=25)

    def v2_attachments(self, page: Page, *, query: dict[str, str], raw_query: str,
                       relative: str) -> Response:
        attachments = [a for a in page.attachments
                       if query.get("filename", a.filename) == a.filename
                       and query.get("mediaType", a.media_type) == a.media_type]
        items = [self.v2_attachment_json(page, a) for a in attachments]
        return self.v2_paged(items, query=query, raw_query=raw_query, relative=relative,
                             default_limit=50)

    def route_v2_page_attachments(self, *, page_id: str, query: dict[str, str],
                                  raw_query: str, relative: str, **_: Any) -> Response:
        self.v2_only_cloud(relative)
        return self.v2_attachments(self.v2_content(page_id, "page"), query=query,
                                   raw_query=raw_query, relative=relative)

    def route_v2_blogpost_attachments(self, *, page_id: str, query: dict[str, str],
                                      raw_query: str, relative: str, **_: Any) -> Response:
        self.v2_only_cloud(relative)
        return self.v2_attachments(self.v2_content(page_id, "blogpost"), query=query,
                                   raw_query=raw_query, relative=relative)


def _multi(multi: dict[str, list[str]], name: str) -> set[str]:
    """A v2 array parameter: repeated (``keys=A&keys=B``) or comma-separated (``keys=A,B``)."""
    return {v.strip() for value in multi.get(name, []) for v in value.split(",") if v.strip()}


_USER_CQL = re.compile(
    r"\s*(?:type\s*=\s*user\s*(?:and\s+)?)?"
    r"(?:user\.fullname\s*~\s*(?P<q>[\"'])(?P<term>.*?)(?P=q))?\s*", re.IGNORECASE)


def _iso(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def _expand(query: dict[str, str]) -> set[str]:
    return {e.strip() for e in query.get("expand", "").split(",") if e.strip()}


class _MediaApp:
    """The Cloud media host: bytes for a signed token, and no Authorization header, ever."""

    def __init__(self, fake: FakeConfluence) -> None:
        self.fake = fake

    def handle(self, record: Recorded, raw_query: str) -> Response:  # noqa: ARG002
        self.fake.media_requests.append(record)
        if record.authorization is not None:
            return _json({"error": "Authorization header not allowed"}, 400)
        match = re.fullmatch(r"/file/([0-9a-f-]+)/binary", record.path)
        if not match:
            return _json({"error": "Not found"}, 404)
        token = (record.query.get("token") or [""])[-1]
        attachment = self.fake.media_file(match.group(1), token)
        if attachment is None:
            return _json({"error": "Forbidden: the token is missing, invalid or expired"}, 403)
        return Response(200, attachment.data, attachment.media_type, {
            "Content-Disposition": f"inline; filename*=UTF-8''{quote(attachment.filename)}",
            "Cache-Control": "private, max-age=3600"})


class _GatewayApp:
    """api.atlassian.com: the Confluence gateway for scoped credentials, the OAuth 2.0 token
    endpoint (auth.atlassian.com) and the organization admin API."""

    def __init__(self, fake: FakeConfluence) -> None:
        self.fake = fake

    def handle(self, record: Recorded, raw_query: str) -> Response:
        self.fake.gateway_requests.append(record)
        match = re.fullmatch(r"/ex/confluence/([^/]+)(/.*)?", record.path)
        if match:
            return self.confluence(record, raw_query, unquote(match.group(1)),
                                   match.group(2) or "/")
        path = unquote(record.path)
        if path == "/oauth/token":
            return self.token(record)
        if path.startswith("/admin/"):
            return self.admin(record, raw_query, path)
        return _json({"code": 404, "message": "Not Found"}, 404)

    # -- /ex/confluence/{cloudId}/...

    def confluence(self, record: Recorded, raw_query: str, cloud_id: str,
                   rest: str) -> Response:
        if cloud_id != self.fake.cloud_id:
            return _json({"code": 404, "message": f"Cloud id {cloud_id} not found"}, 404)
        grant = self.fake.gateway_grant(record.authorization)
        if grant is None:
            return Response(401, json.dumps(GATEWAY_UNAUTHORIZED).encode(),
                            headers={"WWW-Authenticate": 'Bearer realm="api.atlassian.com"'})
        return self.fake._site_app.serve(record, raw_query, path=rest, grant=grant)

    # -- OAuth 2.0 client credentials (service accounts)

    def token(self, record: Recorded) -> Response:
        if record.method != "POST":
            return _json({"error": "invalid_request",
                          "error_description": "POST is required"}, 405)
        content_type = next((v for k, v in record.headers.items()
                             if k.lower() == "content-type"), "")
        try:
            if "json" in content_type:
                form = {k: str(v) for k, v in json.loads(record.body or b"{}").items()}
            else:
                form = dict(parse_qsl(record.body.decode()))
        except (ValueError, AttributeError):
            return _json({"error": "invalid_request",
                          "error_description": "The body is neither JSON nor a form"}, 400)
        scheme, _, value = (record.authorization or "").partition(" ")
        if scheme.lower() == "basic" and "client_id" not in form:  # client_secret_basic
            with contextlib.suppress(ValueError):
                client_id, _, secret = base64.b64decode(value).decode().partition(":")
                form |= {"client_id": client_id, "client_secret": secret}
        if form.get("grant_type") != "client_credentials":
            return _json({"error": "unsupported_grant_type",
                          "error_description": "Only client_credentials is supported"}, 400)
        client = self.fake.oauth_clients.get(form.get("client_id", ""))
        if client is None or not hmac.compare_digest(client.client_secret.encode(),
                                                     form.get("client_secret", "").encode()):
            return _json({"error": "access_denied", "error_description": "Unauthorized"}, 401)
        if form.get("audience", "api.atlassian.com") != "api.atlassian.com":
            return _json({"error": "access_denied",
                          "error_description": "Unknown audience"}, 403)
        token = "eyJ-fake-" + secrets.token_urlsafe(32)
        expires = time.monotonic() + self.fake.oauth_expires_in
        self.fake.access_tokens[token] = Grant("oauth", client.scopes, client.user,
                                               expires=expires)
        return _json({"access_token": token, "token_type": "Bearer",
                      "expires_in": self.fake.oauth_expires_in,
                      "scope": " ".join(sorted(client.scopes))})

    # -- organization admin API

    def admin(self, record: Recorded, raw_query: str, path: str) -> Response:  # noqa: ARG002
        header = record.authorization or ""
        if not hmac.compare_digest(header.encode(), f"Bearer {self.fake.admin_key}".encode()):
            return _json(GATEWAY_UNAUTHORIZED, 401)
        match = re.fullmatch(r"/admin/v([12])/orgs/([^/]+)(/.*)?", path)
        if not match or match.group(2) != self.fake.org_id:
            return _admin_error(404, "ADMIN-404-1", "Organization not found")
        return self.admin_route(record, path, match.group(1), match.group(3) or "")

    def admin_route(self, record: Recorded, path: str, version: str,  # noqa: PLR0911
                    rest: str) -> Response:
        body: dict[str, Any] = {}
        if record.method == "POST":
            try:
                body = json.loads(record.body or b"{}")
            except ValueError:
                return _admin_error(400, "ADMIN-400-1", "Invalid request body")
        params: dict[str, Any] = {k: (v if len(v) > 1 else v[0]) for k, v in record.query.items()}
        if version == "1" and rest == "" and record.method == "GET":
            return _json({"data": {"id": self.fake.org_id, "type": "orgs",
                                   "attributes": {"name": "Example organization"},
                                   "links": {"self": f"{self.fake.gateway_url}{path}"}}})
        if version == "1" and rest == "/users/search":
            if record.method == "GET" and self.fake.directory_accepts_get:
                return self.search(params, v1=True)  # what atlassian-python-api 5.0.5 sends
            if record.method == "POST":
                return self.search(body, v1=True)  # the documented form: a JSON body
            return _admin_error(405, "ADMIN-405-1", f"{record.method} is not allowed")
        if version == "2" and rest == "/directories" and record.method == "GET":
            return _json({"data": [{"directoryId": self.fake.directory_id,
                                    "name": "Example directory"}], "links": {"next": None}})
        users = re.fullmatch(r"/directories/([^/]+)/users(/search)?", rest)
        if version == "2" and users:
            if users.group(1) not in ("-", self.fake.directory_id):
                return _admin_error(404, "ADMIN-404-3", "Directory not found")
            if users.group(2) and record.method == "POST":
                return self.search(body, v1=False)
            if not users.group(2) and record.method == "GET":
                return self.search(params, v1=False)
        return _admin_error(404, "ADMIN-404-2", f"No route for {record.method} {path}")

    def directory(self) -> list[tuple[User, str]]:
        """The managed accounts: every user with an address the organization knows."""
        found = []
        for user in self.fake.site.all_users():
            email = user.directory_email or (user.email if isinstance(user.email, str)
                                             else None)
            if email:
                found.append((user, email))
        return found

    def search(self, criteria: dict[str, Any], *, v1: bool) -> Response:
        """v1: ``accountIds``/``accountTypes`` filters, ``name``/``email`` only with ``expand``
        NAME/EMAIL; v2: both always. Opaque cursor in ``links.next``."""

        def listed(name: str) -> set[str]:
            value = criteria.get(name) or []
            values = [value] if isinstance(value, str) else list(value)
            return {v.strip() for item in values for v in str(item).split(",") if v.strip()}

        ids, types, expand = listed("accountIds"), listed("accountTypes"), listed("expand")
        users = [(u, e) for u, e in self.directory()
                 if (not ids or u.account_id in ids) and (not types or u.account_type in types)]
        try:
            start = int(base64.urlsafe_b64decode(str(criteria["cursor"])).decode()) \
                if criteria.get("cursor") else 0
            limit = min(int(criteria.get("limit") or 100), self.fake.site.page_size)
        except ValueError:
            return _admin_error(400, "ADMIN-400-2", "Invalid cursor or limit")
        data = []
        for user, email in users[start:start + limit]:
            item: dict[str, Any] = {"accountId": user.account_id,
                                    "accountType": user.account_type,
                                    "accountStatus": "active" if user.active else "inactive"}
            if not v1 or "NAME" in expand:
                item |= {"name": user.display_name, "nickname": user.display_name.split()[0]}
            if not v1 or "EMAIL" in expand:
                item["email"] = email
            if not v1:
                item |= {"status": "active" if user.active else "suspended",
                         "membershipStatus": "active", "claimStatus": "managed"}
            data.append(item)
        links: dict[str, Any] = {"self": base64.urlsafe_b64encode(str(start).encode()).decode()}
        if start + limit < len(users):
            links["next"] = base64.urlsafe_b64encode(str(start + limit).encode()).decode()
        return _json({"data": data, "links": links})


def _admin_error(status: int, code: str, title: str) -> Response:
    return _json({"errors": [{"status": str(status), "code": code, "title": title}]}, status)


def follow_pages(session: Any, first_url: str, params: dict[str, Any] | None = None,
                 **kwargs: Any) -> Iterator[dict[str, Any]]:
    """Page through a Confluence collection the right way: next = ``_links.base`` +
    ``_links.next`` (``params`` go with the first request only; the next links carry them).
    ``session`` is a requests.Session (or the requests module)."""
    url: str | None = first_url
    while url:
        response = session.get(url, params=params, **kwargs)
        params = None
        response.raise_for_status()
        data = response.json()
        yield data
        links = data.get("_links", {})
        url = links["base"] + links["next"] if links.get("next") else None
