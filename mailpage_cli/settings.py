"""Non-secret settings: each resolves in one place, flag > environment > config file > default,
and remembers where it came from so that ``config show`` can say so.

The config file is TOML with one table per profile (``[profiles.NAME.smtp]`` ...), written
atomically with mode 0600 (:func:`privatefiles.write_private`, as --save and the state are). A
secret-looking key in it is an error: secrets live in the keyring or the environment (see
``credentials``). So is a file that another user owns or can write, as ssh would have it.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit  # pathlib loads it anyway

from mailpage_cli.choices import (
    AUTH,
    DEPLOYMENTS,
    MAX_SIZE_MB,
    OAUTH_FLOWS,
    OAUTH_PROVIDERS,
    SECURITY,
    SMTP_AUTH,
    Auth,
    Deployment,
    OAuthFlow,
    OAuthProvider,
    Security,
    SmtpAuth,
)
from mailpage_cli.errors import ConfigError, UsageError
from mailpage_cli.privatefiles import NotRegularFileError, check_owned, write_private

DEFAULT_PORTS = {"ssl": 465, "starttls": 587, "none": 25}
SECRET_WORDS = ("password", "token", "secret")
COMMANDS = {  # the command that sets each section, for error messages
    "confluence": "mailpage config set-site",
    "smtp": "mailpage config set-smtp",
    "sender": "mailpage config set-sender",
    "policy": "mailpage config set-policy",
    "directory": "mailpage config set-directory",
}
_LABEL = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
_DOMAIN = re.compile(rf"(?:{_LABEL}\.)*{_LABEL}")


class InvalidValueError(ValueError):
    """A raw setting is not what it must be. The message completes "must be ..." ("a port
    number from 1 to 65535"); :func:`load` adds where the value came from."""


def _text(raw: object) -> str:
    if not isinstance(raw, str):
        raise InvalidValueError("a string")
    return raw.strip()


def _site_url(raw: object) -> str:
    url = _text(raw)
    if "@" in url.strip().split("://", 1)[-1].partition("/")[0]:  # a user or password
        raise InvalidValueError("the site's address alone, without a user or password in it"
                                " (the token goes to the keyring with `config set-site URL"
                                " --token-stdin`)")
    return url


# Where a Confluence page URL's own part starts: what comes before is the site (its context
# path kept: /wiki on Cloud, /confluence or nothing on Data Center). See pagerefs for the forms.
_PAGE_PATH = re.compile(
    r"/(?:spaces|display|pages|x|rest|api/v2|plugins|label)(?:/|$)|/[a-z]+\.action$", re.I)


def site_base(url: str) -> str:
    """The site of a page URL (``https://x.atlassian.net/wiki/spaces/ENG/pages/1/T`` ->
    ``https://x.atlassian.net/wiki``); any other URL as it is."""
    try:
        parts = urlsplit(url)
    except ValueError:  # not a URL at all: the site check says so
        return url
    found = _PAGE_PATH.search(parts.path)
    if not found and not parts.query and not parts.fragment:
        return url
    path = parts.path[:found.start()] if found else parts.path
    return parts._replace(path=path.rstrip("/"), query="", fragment="").geturl()


def _confluence_url(raw: object) -> str:
    return site_base(_site_url(raw))


def _reply_to(raw: object) -> str:
    """An address, or the keywords ``me`` and ``none`` in any case (kept lower-case)."""
    value = _text(raw)
    return value.lower() if value.lower() in ("me", "none") else value


def _whole_number(low: int, high: int, what: str) -> Callable[[object], int]:
    def parse(raw: object) -> int:
        text = raw.strip() if isinstance(raw, str) else ""
        number = int(text) if text.isascii() and text.isdigit() else raw
        if isinstance(number, bool) or not isinstance(number, int) or not low <= number <= high:
            raise InvalidValueError(what)
        return number

    return parse


def _megabytes(raw: object) -> float:
    try:
        number = float(raw) if isinstance(raw, str | int) and not isinstance(raw, bool) else raw
    except ValueError:
        number = None
    if not isinstance(number, float) or not 0 < number <= MAX_SIZE_MB:
        raise InvalidValueError(f"a size in megabytes above 0 and at most {MAX_SIZE_MB:g}")
    return number


def _domains(items: object) -> tuple[str, ...]:
    """``["@Example.com", " x.org "]`` -> ``("example.com", "x.org")``; invalid ones refused."""
    items = items.split(",") if isinstance(items, str) else items
    if not isinstance(items, list | tuple) or not all(isinstance(i, str) for i in items):
        raise InvalidValueError("a list of domain names")
    domains = tuple(i.strip().lower().lstrip("@") for i in items if i.strip())
    if not all(_DOMAIN.fullmatch(d) for d in domains):
        raise InvalidValueError("a list of domain names such as example.com")
    return domains


def normalise_domains(items: object) -> tuple[str, ...]:
    """The domains given with ``--allowed-domain``, as the file keeps them (:func:`_domains`)."""
    try:
        return _domains(items)
    except InvalidValueError as exc:
        raise UsageError(f"--allowed-domain must be {exc}", "Give a domain name.") from None


def _choice(*choices: str) -> Callable[[object], str]:
    def parse(raw: object) -> str:
        value = _text(raw).lower()
        if value not in choices:
            raise InvalidValueError(" or ".join(choices))
        return value

    return parse


@dataclass(frozen=True)
class Field:
    """One setting: its place in the file, its variable (policy has none), how to read it."""

    section: str
    key: str
    env: str | None
    parse: Callable[[object], Any]
    default: Any = None

    @property
    def name(self) -> str:
        return f"{self.section}.{self.key}"


FIELDS: tuple[Field, ...] = (
    Field("confluence", "url", "MAILPAGE_CONFLUENCE_URL", _confluence_url),
    Field("confluence", "user", "MAILPAGE_CONFLUENCE_USER", _text),
    Field("confluence", "auth", "MAILPAGE_CONFLUENCE_AUTH", _choice(*AUTH)),
    Field("confluence", "deployment", "MAILPAGE_CONFLUENCE_DEPLOYMENT", _choice(*DEPLOYMENTS)),
    Field("confluence", "concurrency", "MAILPAGE_CONFLUENCE_CONCURRENCY",
          _whole_number(1, 32, "a number of parallel downloads from 1 to 32"), 8),
    Field("confluence", "address_book", "MAILPAGE_ADDRESS_BOOK", _text),
    Field("confluence", "api_gateway", "MAILPAGE_CONFLUENCE_API_GATEWAY", _site_url),
    Field("confluence", "cloud_id", "MAILPAGE_CONFLUENCE_CLOUD_ID", _text),
    Field("smtp", "host", "MAILPAGE_SMTP_HOST", _text),
    Field("smtp", "port", "MAILPAGE_SMTP_PORT",
          _whole_number(1, 65535, "a port number from 1 to 65535")),
    Field("smtp", "security", "MAILPAGE_SMTP_SECURITY", _choice(*SECURITY), "starttls"),
    Field("smtp", "username", "MAILPAGE_SMTP_USERNAME", _text),
    Field("smtp", "ca_file", "MAILPAGE_SMTP_CA_FILE", _text),
    Field("smtp", "auth", "MAILPAGE_SMTP_AUTH", _choice(*SMTP_AUTH), "password"),
    Field("smtp", "oauth_provider", "MAILPAGE_SMTP_OAUTH_PROVIDER", _choice(*OAUTH_PROVIDERS)),
    Field("smtp", "oauth_flow", "MAILPAGE_SMTP_OAUTH_FLOW", _choice(*OAUTH_FLOWS)),
    Field("smtp", "client_id", "MAILPAGE_SMTP_CLIENT_ID", _text),
    Field("smtp", "tenant", "MAILPAGE_SMTP_TENANT", _text),
    Field("smtp", "authority", "MAILPAGE_SMTP_AUTHORITY", _site_url),
    Field("smtp", "client_certificate", "MAILPAGE_SMTP_CLIENT_CERTIFICATE", _text),
    Field("sender", "name", "MAILPAGE_SENDER_NAME", _text),
    Field("sender", "address", "MAILPAGE_SENDER_ADDRESS", _text),
    Field("sender", "subject_prefix", "MAILPAGE_SUBJECT_PREFIX", _text, ""),
    Field("sender", "reply_to", "MAILPAGE_REPLY_TO", _reply_to, "me"),
    # The organization directory (Atlassian admin API): addresses Confluence hides.
    Field("directory", "org_id", "MAILPAGE_ATLASSIAN_ORG_ID", _text),
    Field("directory", "api", "MAILPAGE_ATLASSIAN_API", _site_url, "https://api.atlassian.com"),
    # Policy has no variables (SPEC): a job's environment cannot lift the file's limits.
    Field("policy", "allowed_domains", None, _domains, ()),
    Field("policy", "max_recipients", None,
          _whole_number(1, 1_000_000, "a whole number from 1 to 1000000"), 50),
    Field("policy", "max_size_mb", None, _megabytes, 20.0),
)
FIELDS_BY_NAME = {f.name: f for f in FIELDS}
SECTIONS = ("confluence", "smtp", "sender", "policy", "directory")


@dataclass(frozen=True)
class Resolved:
    """A setting's value and where it came from ("flag", "env VAR", "file", "default")."""

    value: Any
    source: str


@dataclass(frozen=True)
class SmtpSettings:
    host: str | None
    port: int
    security: Security
    username: str | None
    ca_file: Path | None
    auth: SmtpAuth = "password"
    oauth_provider: OAuthProvider | None = None
    oauth_flow: OAuthFlow | None = None
    client_id: str | None = None
    tenant: str | None = None
    authority: str | None = None
    client_certificate: Path | None = None


@dataclass(frozen=True)
class SenderSettings:
    name: str | None
    address: str | None
    subject_prefix: str
    reply_to: str


@dataclass(frozen=True)
class PolicySettings:
    allowed_domains: tuple[str, ...]
    max_recipients: int
    max_size_mb: float


@dataclass(frozen=True)
class ConfluenceSettings:
    url: str | None
    user: str | None
    auth: Auth
    deployment: Deployment
    concurrency: int
    address_book: Path | None = None
    api_gateway: str | None = None
    cloud_id: str | None = None


@dataclass(frozen=True)
class Settings:
    """Every setting of one profile, resolved, each with its source."""

    profile: str
    path: Path
    values: Mapping[str, Resolved]

    def __getitem__(self, name: str) -> Any:
        return self.values[name].value

    def in_file(self, section: str) -> bool:
        """Whether the section is the config file's, no variable or flag changing it: then
        the short ``config set-smtp --password-stdin`` (``set-site --token-stdin``) stores a
        secret for it."""
        return all(resolved.source in ("file", "default")
                   for name, resolved in self.values.items()
                   if name.startswith(f"{section}."))

    @property
    def smtp(self) -> SmtpSettings:
        ca_file, certificate = self["smtp.ca_file"], self["smtp.client_certificate"]
        return SmtpSettings(
            host=self["smtp.host"],
            port=self["smtp.port"],
            security=self["smtp.security"],
            username=self["smtp.username"],
            ca_file=Path(ca_file).expanduser() if ca_file else None,
            auth=self["smtp.auth"],
            oauth_provider=self["smtp.oauth_provider"],
            oauth_flow=self["smtp.oauth_flow"],
            client_id=self["smtp.client_id"],
            tenant=self["smtp.tenant"],
            authority=self["smtp.authority"],
            client_certificate=Path(certificate).expanduser() if certificate else None,
        )

    @property
    def sender(self) -> SenderSettings:
        return SenderSettings(
            self["sender.name"],
            self["sender.address"],
            self["sender.subject_prefix"],
            self["sender.reply_to"],
        )

    @property
    def policy(self) -> PolicySettings:
        return PolicySettings(
            self["policy.allowed_domains"],
            self["policy.max_recipients"],
            self["policy.max_size_mb"],
        )

    @property
    def confluence(self) -> ConfluenceSettings:
        return ConfluenceSettings(
            self["confluence.url"],
            self["confluence.user"],
            self["confluence.auth"],
            self["confluence.deployment"],
            self["confluence.concurrency"],
            Path(book).expanduser() if (book := self["confluence.address_book"]) else None,
            self["confluence.api_gateway"],
            self["confluence.cloud_id"],
        )


def check_smtp_host(host: str, command: str = "mailpage") -> None:
    """Refuse ``smtp.example.com:587`` (``command``: ``mailpage`` as the fix must be typed):
    the port has its own setting, and the name with it would not resolve."""
    name, colon, port = host.rpartition(":")
    if colon and port.isdigit() and ":" not in name:  # not an IPv6 literal
        raise ConfigError(
            f"The SMTP host {host!r} holds a port",
            f"Give the host alone and the port apart: `{command} config set-smtp --host"
            f" {name} --port {port}` (or MAILPAGE_SMTP_HOST and MAILPAGE_SMTP_PORT).",
        )


def config_path(app_dir: str, flag: str | None, env: Mapping[str, str]) -> Path:
    """``--config`` > ``MAILPAGE_CONFIG`` > ``<app_dir>/config.toml``."""
    chosen = flag or env.get("MAILPAGE_CONFIG") or str(Path(app_dir) / "config.toml")
    return Path(chosen).expanduser()


def read_file(path: Path) -> dict[str, Any]:
    """The whole config file as a dict; a missing file is empty. A file that someone else
    could have written is refused (see :func:`_check_owned`)."""
    try:
        with path.open("rb") as handle:
            _check_owned(path, os.fstat(handle.fileno()))  # the file read, not a name
            raw = handle.read()
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:  # ValueError: a NUL in the path
        raise ConfigError(
            f"Cannot read the config file {path} ({getattr(exc, 'strerror', None) or exc})",
            "Check its permissions, or point MAILPAGE_CONFIG at another file.",
        ) from exc
    import tomllib  # noqa: PLC0415 - start-up time: --help reads no file

    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(
            f"The config file {path} is not valid TOML ({exc})",
            "Fix the file, or move it away and run the `mailpage config` commands again.",
        ) from exc
    _check_no_secrets(data, path)
    return data


def _check_owned(path: Path, file: os.stat_result) -> None:
    """Refuse, as ssh does, a config file or folder that another user owns or can write:
    the file decides where the keyring password and the token go (host, port, CA file)."""
    check_owned(path, file, "config file", "decides where your keyring password and token go",
                "Use a config file in a folder of your own (--config or MAILPAGE_CONFIG).")


def _check_no_secrets(node: object, path: Path, where: str = "") -> None:
    if not isinstance(node, dict):
        return
    for key, value in node.items():
        if any(word in str(key).lower() for word in SECRET_WORDS):
            raise ConfigError(
                f"The config file {path} holds a secret ({where}{key})",
                "Remove that line; store secrets with `mailpage config set-smtp --password-stdin`"
                " or `mailpage config set-site URL --token-stdin`, or in the environment.",
            )
        _check_no_secrets(value, path, f"{where}{key}.")


def _table(node: object, path: Path, where: str) -> dict[str, Any]:
    if not isinstance(node, dict):
        raise ConfigError(f"The config file {path} has [{where}] that is not a table",
                          "Fix the file; see the README's Configuration section.")
    return node


def _misplaced(data: Mapping[str, Any]) -> list[str]:
    """What sits outside ``[profiles]``: ``foo``, or ``[default.smtp]`` for a table."""
    found = []
    for key, value in data.items():
        if key == "profiles":
            continue
        tables = [k for k, v in value.items() if isinstance(v, dict)] if isinstance(
            value, dict) else []
        found += [f"[{key}.{table}]" for table in tables] or [
            f"[{key}]" if isinstance(value, dict) else key]
    return found


def _profile_table(data: Mapping[str, Any], profile: str, path: Path) -> Mapping[str, Any]:
    """The profile's sections, refusing anything that is not a known setting (typos) and
    anything outside ``[profiles]``, which would be ignored."""
    if misplaced := _misplaced(data):
        raise ConfigError(
            f"The config file {path} has settings outside [profiles]: {', '.join(misplaced)}",
            "Profiles live under [profiles.NAME.SECTION] (for example [profiles.default.smtp]):"
            " move them there.",
        )
    profiles = _table(data.get("profiles", {}), path, "profiles")
    table = _table(profiles.get(profile, {}), path, f"profiles.{profile}")
    for section, values in table.items():
        keys = _table(values, path, f"profiles.{profile}.{section}")
        unknown = [f"{section}.{key}" for key in keys if f"{section}.{key}" not in FIELDS_BY_NAME]
        if unknown:
            raise ConfigError(
                f"The config file {path} has unknown settings in [profiles.{profile}]: "
                + ", ".join(unknown),
                f"Remove them; known settings are {', '.join(FIELDS_BY_NAME)}.",
            )
    return table


def _require_profile(data: Mapping[str, Any], profile: str, path: Path) -> None:
    """Refuse a profile the file lacks: a typo in --profile would otherwise run on defaults.
    No file, or the default profile, is no error: the environment alone may be the settings."""
    profiles = data.get("profiles", {})
    if not data or profile == "default" or not isinstance(profiles, dict) or profile in profiles:
        return
    raise ConfigError(
        f"No profile {profile!r} in {path} (profiles: {', '.join(sorted(profiles)) or 'none'})",
        "Check --profile / MAILPAGE_PROFILE.",
    )


def require_profile(path: Path, profile: str) -> None:
    """Raise ``ConfigError`` when the config file exists and has no ``profile`` (see
    :func:`_require_profile`); for commands that use a profile without making it."""
    _require_profile(read_file(path), profile, path)


def profile_names(path: Path) -> tuple[str, ...]:
    """The profiles the config file holds, sorted (none when there is no file)."""
    data = read_file(path)
    _profile_table(data, "default", path)  # refuses a file of the wrong shape
    return tuple(sorted(_table(data.get("profiles", {}), path, "profiles")))


def profile_sections(path: Path, profile: str) -> tuple[str, ...]:
    """The sections of ``profile`` that the config file holds."""
    return tuple(_profile_table(read_file(path), profile, path))


def load(
    path: Path,
    profile: str,
    env: Mapping[str, str],
    flags: Mapping[str, object] | None = None,
    *,
    existing: bool = False,
    replacing: str | None = None,
) -> Settings:
    """Resolve every setting of ``profile``: flag > environment > file > default.

    ``existing``: the profile must be in the config file, if there is one (see
    :func:`require_profile`); the commands that create settings leave it out. ``replacing``:
    a section whose file values do not count, as a command that replaces it sees it. A
    variable set to the empty string clears its setting for the run (its default applies)."""
    data = read_file(path)
    table = _profile_table(data, profile, path)
    if existing:
        _require_profile(data, profile, path)
    flags = flags or {}
    values: dict[str, Resolved] = {}
    for field in FIELDS:
        in_file = table.get(field.section, {}) if field.section != replacing else {}
        if flags.get(field.name) is not None:
            raw, source = flags[field.name], "flag"
        elif field.env and field.env in env:
            raw, source = env[field.env], f"env {field.env}"
            if not raw.strip():  # VAR= on a command line: clears the file's value
                values[field.name] = Resolved(field.default, f"env {field.env} (empty)")
                continue
        elif field.key in in_file:
            raw, source = in_file[field.key], "file"
        else:
            values[field.name] = Resolved(field.default, "default")
            continue
        try:
            values[field.name] = Resolved(field.parse(raw), source)
        except InvalidValueError as exc:
            where = {"flag": f"--{field.key.replace('_', '-')}", "file": f"in {path}"}.get(
                source, source.removeprefix("env ")
            )
            raise ConfigError(
                f"The setting {field.name} ({where}) must be {exc}",
                _correct(field, source, profile),
            ) from exc
        if values[field.name].value in ("", ()):
            values[field.name] = Resolved(field.default, "default")
    _derive_defaults(values)
    return Settings(profile, path, values)


# Settings that no `config set-*` option sets: the fix for a bad value is in the file.
_NO_OPTION = frozenset({"confluence.concurrency", "confluence.cloud_id", "smtp.oauth_flow"})


def _correct(field: Field, source: str, profile: str) -> str:
    """How to fix a bad value, where it came from."""
    if source.startswith("env "):
        return f"Correct or unset {field.env}."
    command = COMMANDS[field.section]
    if source == "flag":
        return f"See `{command} --help`."
    where = f"`{field.key}` under [profiles.{profile}.{field.section}] in the config file"
    if field.name in _NO_OPTION:
        return f"Correct {where}" + (f", or override it with {field.env}." if field.env else ".")
    return f"Correct {where}, or set it again with `{command}` (see its --help)."


def _derive_defaults(values: dict[str, Resolved]) -> None:
    if values["smtp.port"].value is None:
        values["smtp.port"] = Resolved(DEFAULT_PORTS[values["smtp.security"].value], "default")
    if values["confluence.auth"].value is None:
        auth = "basic" if values["confluence.user"].value else "bearer"
        values["confluence.auth"] = Resolved(auth, "default")
    if values["confluence.deployment"].value is None:
        host = urlsplit(values["confluence.url"].value or "").hostname or ""
        deployment = "cloud" if host.endswith(".atlassian.net") else "datacenter"
        values["confluence.deployment"] = Resolved(deployment, "default")


def update(
    path: Path, profile: str, section: str, changes: Mapping[str, object], *, replace: bool = False
) -> bool:
    """Set keys of one section (``None`` removes a key); ``replace`` drops the others first.
    Writes only when something changed; says whether it did."""
    data = read_file(path)
    before = tomli_w_dumps(data)
    _profile_table(data, profile, path)  # refuses a file of the wrong shape
    table = data.setdefault("profiles", {}).setdefault(profile, {})
    current = {} if replace else dict(table.get(section, {}))
    for key, value in changes.items():
        if value is None:
            current.pop(key, None)
        else:
            current[key] = list(value) if isinstance(value, tuple) else value
    table[section] = current
    _prune(data)
    if tomli_w_dumps(data) == before:
        return False
    write_file(path, data)
    return True


def remove_sections(path: Path, profile: str, sections: Iterable[str]) -> tuple[str, ...]:
    """Remove ``sections`` of ``profile`` in one write; the ones that were there."""
    data = read_file(path)
    _profile_table(data, profile, path)  # refuses a file of the wrong shape
    table = data.get("profiles", {}).get(profile, {})
    removed = tuple(section for section in sections if table.pop(section, None) is not None)
    if removed:
        _prune(data)
        write_file(path, data)
    return removed


def _prune(node: dict[str, Any]) -> None:
    """Drop empty tables, so that forgetting leaves no husk behind."""
    for key in [k for k, v in node.items() if isinstance(v, dict)]:
        _prune(node[key])
        if not node[key]:
            del node[key]


def tomli_w_dumps(data: Mapping[str, Any]) -> str:
    import tomli_w  # noqa: PLC0415 - only writers need it

    return tomli_w.dumps(data)


def write_file(path: Path, data: Mapping[str, Any]) -> None:
    """Write the config file (see :func:`privatefiles.write_private`), its folder private too."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        write_private(path, tomli_w_dumps(data).encode())
    except NotRegularFileError as exc:
        raise ConfigError(
            f"Cannot write the config file {path}: it is {exc.kind}",
            "mailpage writes only regular files and follows no link there: point --config or"
            " MAILPAGE_CONFIG at the file itself.",
        ) from exc
    except OSError as exc:
        raise ConfigError(f"Cannot write the config file {path} ({exc.strerror or exc})",
                          "Check the permissions of its folder, or point MAILPAGE_CONFIG"
                          " at another file.") from exc


def smtp_command(host: str, port: int | None, security: str, username: str | None,
                 profile: str, ca_file: Path | str | None, *more: str) -> str:
    """The ``config set-smtp`` command that sets this account again, with ``more`` options:
    every setting of it, since set-smtp replaces the account (a left-out --ca-file is lost)."""
    import shlex  # noqa: PLC0415 - only a fix hint needs it

    words = ["--host", host, *(["--port", str(port)] if port else []), "--security", security,
             *(["--username", username] if username else []),
             *(["--ca-file", str(ca_file)] if ca_file else [])]
    return " ".join([mailpage_command(profile), "config", "set-smtp",
                     *map(shlex.quote, words), *more])


def smtp_password_command(profile: str) -> str:
    """The ``config set-smtp`` command that stores a new password for the profile's account
    as the config file holds it, changing nothing else."""
    return f"{mailpage_command(profile)} config set-smtp --password-stdin"


def mailpage_command(profile: str) -> str:
    """``mailpage`` as a fix must be typed for ``profile`` (quoted for a shell)."""
    import shlex  # noqa: PLC0415 - only a fix hint needs it

    return "mailpage" if profile == "default" else f"mailpage --profile {shlex.quote(profile)}"
