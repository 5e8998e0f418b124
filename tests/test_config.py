"""Settings and secrets: the config file, precedence with sources, the keyring."""

from __future__ import annotations

import json
import os
import tomllib
from pathlib import Path

import keyring
import pytest
from keyring.backends import fail, null

from mailpage_cli import configure, credentials, settings
from mailpage_cli.errors import ConfigError
from mailpage_cli.models import Secret
from tests.conftest import EXAMPLE, run
from tests.support import smtp
from tests.support.keyrings import MemoryKeyring


def show(*args: str, env: dict[str, str] | None = None) -> dict[str, dict[str, object]]:
    result = run(*args, "config", "show", "--json", env=env)
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)["settings"]  # type: ignore[no-any-return]


def test_set_smtp_writes_a_private_file_and_the_password_to_the_keyring(
    config_file: Path, isolated: MemoryKeyring
) -> None:
    result = run("config", "set-smtp", "--host", "smtp.example.com", "--username", "ann",
                 "--password-stdin", input="hunter2-long\n")
    assert result.exit_code == 0, result.stderr
    assert config_file.stat().st_mode & 0o777 == 0o600
    assert config_file.parent.stat().st_mode & 0o077 == 0
    text = config_file.read_text()
    assert "hunter2" not in text
    assert tomllib.loads(text) == {"profiles": {"default": {"smtp": {
        "host": "smtp.example.com", "security": "starttls", "username": "ann"}}}}
    assert list(isolated.store) == [("mailpage", "default/smtp")]
    assert json.loads(isolated.store["mailpage", "default/smtp"]) == {
        "mailpage": 1, "for": "smtp://smtp.example.com:587 as ann", "secret": "hunter2-long"}


def test_set_smtp_without_password_warns_off_a_tty(isolated: MemoryKeyring) -> None:
    result = run("config", "set-smtp", "--host", "smtp.example.com", "--username", "ann")
    assert result.exit_code == 0
    assert "MAILPAGE_SMTP_PASSWORD" in result.stderr
    assert isolated.store == {}


def test_set_smtp_refuses_a_login_without_tls(config_file: Path) -> None:
    result = run("config", "set-smtp", "--host", "smtp.example.com", "--security", "none",
                 "--username", "ann", "--password-stdin", input="pw\n")
    assert result.exit_code == 3
    assert not config_file.exists()


def test_set_smtp_replaces_the_previous_account(config_file: Path) -> None:
    run("config", "set-smtp", "--host", "old.example.com", "--username", "ann", "--port", "2525")
    run("config", "set-smtp", "--host", "new.example.com", "--security", "ssl")
    smtp = tomllib.loads(config_file.read_text())["profiles"]["default"]["smtp"]
    assert smtp == {"host": "new.example.com", "security": "ssl"}


def test_precedence_env_over_file_over_default_with_sources(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    run("config", "set-smtp", "--host", "file.example.com", "--security", "ssl")
    monkeypatch.setenv("MAILPAGE_SMTP_HOST", "env.example.com")
    rows = show()
    assert rows["smtp.host"] == {"value": "env.example.com", "source": "env MAILPAGE_SMTP_HOST"}
    assert rows["smtp.security"] == {"value": "ssl", "source": "file"}
    assert rows["smtp.port"] == {"value": 465, "source": "default"}
    assert rows["policy.max_recipients"] == {"value": 50, "source": "default"}


def test_flags_beat_the_environment() -> None:
    loaded = settings.load(Path("/nonexistent.toml"), "default",
                           {"MAILPAGE_SMTP_HOST": "env.example.com"},
                           {"smtp.host": "flag.example.com"})
    assert loaded.values["smtp.host"] == settings.Resolved("flag.example.com", "flag")


def test_secrets_are_shown_only_by_their_source(
    isolated: MemoryKeyring, monkeypatch: pytest.MonkeyPatch
) -> None:
    isolated.set_password("mailpage", "default/smtp", "kept-in-keyring")
    monkeypatch.setenv("MAILPAGE_CONFLUENCE_TOKEN", "from-env-token")
    result = run("config", "show")
    assert result.exit_code == 0
    assert "kept-in-keyring" not in result.stdout and "from-env-token" not in result.stdout
    rows = show()
    assert rows["smtp.password"] == {"value": "set", "source": "keyring", "stored": True}
    assert rows["confluence.token"] == {"value": "set", "source": "env MAILPAGE_CONFLUENCE_TOKEN",
                                        "stored": False}
    assert rows["directory.admin_key"] == {
        "value": "not set", "source": "neither keyring nor MAILPAGE_ATLASSIAN_ADMIN_KEY",
        "stored": False}
    assert "smtp.password " in result.stdout
    assert [line.split()[1:] for line in result.stdout.splitlines()
            if line.startswith("smtp.password ")] == [["set", "(keyring)"]]


def test_show_says_when_no_keyring_can_tell() -> None:
    """Without a usable keyring, whether a secret is stored is unknown, not "not set"."""
    keyring.set_keyring(fail.Keyring())
    rows = show()
    assert rows["smtp.password"] == {"value": "unknown", "source": "no keyring", "stored": None}


def test_profiles_are_separate(config_file: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    run("--profile", "work", "config", "set-sender", "--address", "ann@work.example.com")
    monkeypatch.delenv("MAILPAGE_SENDER_ADDRESS")
    assert show("--profile", "work")["sender.address"]["value"] == "ann@work.example.com"
    assert show()["sender.address"]["value"] is None
    monkeypatch.setenv("MAILPAGE_PROFILE", "work")
    assert show()["sender.address"]["value"] == "ann@work.example.com"


@pytest.mark.parametrize(
    ("flag", "env", "file", "expected"),
    [
        ("flag.example.com", "env.example.com", "file.example.com", ("flag.example.com", "flag")),
        (None, "env.example.com", "file.example.com",
         ("env.example.com", "env MAILPAGE_SMTP_HOST")),
        # VAR= clears the file's value for the run
        (None, "", "file.example.com", (None, "env MAILPAGE_SMTP_HOST (empty)")),
        (None, "  ", "file.example.com", (None, "env MAILPAGE_SMTP_HOST (empty)")),
        (None, None, "file.example.com", ("file.example.com", "file")),
        (None, None, "", (None, "default")),  # an empty value in the file: not set either
        (None, None, None, (None, "default")),
    ],
)
def test_a_setting_resolves_flag_then_env_then_file_then_default(
    tmp_path: Path, flag: str | None, env: str | None, file: str | None,
    expected: tuple[object, str],
) -> None:
    path = tmp_path / "config.toml"
    path.write_text("" if file is None else f'[profiles.default.smtp]\nhost = "{file}"\n')
    loaded = settings.load(path, "default", {} if env is None else {"MAILPAGE_SMTP_HOST": env},
                           {"smtp.host": flag})
    assert loaded.values["smtp.host"] == settings.Resolved(*expected)


@pytest.mark.parametrize(
    ("flag", "env", "expected"),
    [
        ("/flag.toml", "/env.toml", "/flag.toml"),
        (None, "/env.toml", "/env.toml"),
        (None, "", "/app/config.toml"),
        (None, None, "/app/config.toml"),
    ],
)
def test_the_config_file_is_the_flag_then_the_variable_then_the_default(
    flag: str | None, env: str | None, expected: str,
) -> None:
    variables = {} if env is None else {"MAILPAGE_CONFIG": env}
    assert settings.config_path("/app", flag, variables) == Path(expected)


def test_config_flag_beats_the_variable(tmp_path: Path) -> None:
    chosen, ignored = tmp_path / "chosen.toml", tmp_path / "ignored.toml"
    result = run("--config", str(chosen), "config", "show", "--json",
                 env={"MAILPAGE_CONFIG": str(ignored)})
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["config"] == str(chosen)


@pytest.mark.parametrize(("url", "deployment"), [
    ("https://acme.atlassian.net/wiki", "cloud"),
    ("https://wiki.example.com", "datacenter"),
    ("https://notatlassian.net/wiki", "datacenter"),  # a look-alike host is not Cloud
    ("https://acme.atlassian.net.example.com", "datacenter"),
])
def test_the_deployment_defaults_from_the_site_host(url: str, deployment: str) -> None:
    loaded = settings.load(Path("/nonexistent.toml"), "default",
                           {"MAILPAGE_CONFLUENCE_URL": url})
    assert loaded.values["confluence.deployment"] == settings.Resolved(deployment, "default")


@pytest.mark.parametrize(("variable", "value", "accepted"), [
    ("MAILPAGE_SMTP_PORT", "1", True),
    ("MAILPAGE_SMTP_PORT", "65535", True),
    ("MAILPAGE_SMTP_PORT", "65536", False),
    ("MAILPAGE_SMTP_PORT", "0", False),
    ("MAILPAGE_CONFLUENCE_CONCURRENCY", "32", True),
    ("MAILPAGE_CONFLUENCE_CONCURRENCY", "33", False),
])
def test_whole_numbers_are_bounded_both_ways(variable: str, value: str, accepted: bool) -> None:
    env = {variable: value}
    if accepted:
        settings.load(Path("/nonexistent.toml"), "default", env)
    else:
        with pytest.raises(ConfigError, match=variable):
            settings.load(Path("/nonexistent.toml"), "default", env)


@pytest.mark.parametrize(("count", "accepted"), [(1_000_000, True), (1_000_001, False)])
def test_max_recipients_has_an_upper_bound(config_file: Path, count: int, accepted: bool) -> None:
    config_file.parent.mkdir(parents=True)
    config_file.write_text(f"[profiles.default.policy]\nmax_recipients = {count}\n")
    result = run("config", "show", "--json")
    assert result.exit_code == (0 if accepted else 3), result.stderr
    assert ("from 1 to 1000000" in result.stderr) is not accepted  # the bound is named


def test_the_environment_beats_the_keyring(isolated: MemoryKeyring) -> None:
    """env > keyring: a job's variable wins over what a person stored on the machine."""
    where = credentials.smtp_destination("smtp.example.com", 587, "starttls", "ann", "default")
    credentials.store(credentials.SMTP_PASSWORD, "default", Secret("from-keyring"),
                      where)
    env = {"MAILPAGE_SMTP_PASSWORD": "from-env"}
    secret, source = credentials.lookup(credentials.SMTP_PASSWORD, "default", env, where)
    assert (secret.reveal() if secret else None, source) == (
        "from-env", "env MAILPAGE_SMTP_PASSWORD")
    kept, source = credentials.lookup(credentials.SMTP_PASSWORD, "default", {}, where)
    assert (kept.reveal() if kept else None, source) == ("from-keyring", "keyring")


def test_config_flag_and_variable_choose_the_file(tmp_path: Path) -> None:
    other = tmp_path / "elsewhere.toml"
    run("--config", str(other), "config", "set-sender", "--name", "Ann")
    assert "Ann" in other.read_text()
    result = run("config", "show", "--json", env={"MAILPAGE_CONFIG": str(other)})
    assert json.loads(result.stdout)["config"] == str(other)


def test_a_secret_in_the_config_file_is_an_error(config_file: Path) -> None:
    config_file.parent.mkdir(parents=True)
    config_file.write_text('[profiles.default.smtp]\nhost = "x"\npassword = "oops"\n')
    result = run("config", "show")
    assert result.exit_code == 3
    assert "holds a secret" in result.stderr
    assert "oops" not in result.stderr


def test_a_site_url_with_a_password_in_it_is_refused(
    config_file: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    url = "https://ann:S3CRET@acme.atlassian.net"
    result = run("config", "set-site", url, "--user", "ann@example.com")
    assert result.exit_code == 3
    assert "without a user or password" in result.stderr and "S3CRET" not in result.stderr
    assert not config_file.exists()
    monkeypatch.setenv("MAILPAGE_CONFLUENCE_URL", url)
    shown = run("config", "show")
    assert shown.exit_code == 3 and "S3CRET" not in shown.stdout + shown.stderr


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("[profiles.default.smtp]\nhots = 'x'\n", "unknown settings"),
        ("[profiles.default.smtp]\nport = 'many'\n", "port number"),
        ("[profiles.default.smtp]\nsecurity = 'tls'\n", "ssl or starttls or none"),
        ("not toml at all [", "not valid TOML"),
    ],
)
def test_invalid_config_files_name_the_problem(
    config_file: Path, content: str, message: str
) -> None:
    config_file.parent.mkdir(parents=True)
    config_file.write_text(content)
    result = run("send", "x.html", "--to", "a@example.com", "--dry-run")
    assert result.exit_code == 3
    assert message in result.stderr


@pytest.mark.parametrize(("section", "line", "must_be", "command"), [
    ("smtp", "host = 25", "a string", "set-smtp"),
    ("confluence", "url = 'https://ann:pw@acme.atlassian.net'",
     ("the site's address alone, without a user or password in it (the token goes to the"
      " keyring with `config set-site URL --token-stdin`)"), "set-site"),
    ("smtp", "port = 70000", "a port number from 1 to 65535", "set-smtp"),
    ("policy", "max_size_mb = 0", "a size in megabytes above 0 and at most 10000", "set-policy"),
    ("policy", "allowed_domains = 'not a domain'", "a list of domain names such as example.com",
     "set-policy"),
    ("policy", "allowed_domains = 7", "a list of domain names", "set-policy"),
    ("confluence", "deployment = 'server'", "cloud or datacenter", "set-site"),
])
def test_each_invalid_setting_is_one_line_saying_what_it_must_be(
    config_file: Path, section: str, line: str, must_be: str, command: str,
) -> None:
    config_file.parent.mkdir(parents=True)
    config_file.write_text(f"[profiles.default.{section}]\n{line}\n")
    result = run("config", "show")
    assert result.exit_code == 3
    key = line.split(" =", maxsplit=1)[0]
    assert result.stderr == (
        f"error: The setting {section}.{key} (in {config_file}) must be {must_be}."
        f" Correct `{key}` under [profiles.default.{section}] in the config file, or set it"
        f" again with `mailpage config {command}` (see its --help).\n")


def test_an_invalid_allowed_domain_flag_is_a_usage_error(config_file: Path) -> None:
    result = run("config", "set-policy", "--allowed-domain", "not a domain")
    assert result.exit_code == 2
    assert result.stderr == ("error: --allowed-domain must be a list of domain names such as"
                             " example.com. Give a domain name.\n")
    assert not config_file.exists()


def test_invalid_environment_value_names_the_variable() -> None:
    result = run("config", "show", env={"MAILPAGE_SMTP_PORT": "seventy"})
    assert result.exit_code == 3
    assert "MAILPAGE_SMTP_PORT" in result.stderr


def test_set_sender_validates_and_keeps_other_keys(config_file: Path) -> None:
    result = run("config", "set-sender", "--name", "Ann", "--address", "Ann@Example.COM")
    assert result.exit_code == 0
    assert run("config", "set-sender", "--subject-prefix", "[Wiki]").exit_code == 0
    sender = tomllib.loads(config_file.read_text())["profiles"]["default"]["sender"]
    assert sender == {"name": "Ann", "address": "Ann@example.com", "subject_prefix": "[Wiki]"}
    bad = run("config", "set-sender", "--reply-to", "not an address")
    assert bad.exit_code == 2


def test_the_config_use_cases_run_one_by_one_without_the_command_line(
    config_file: Path, isolated: MemoryKeyring
) -> None:
    """As a guided setup calls them: plain values in, a secret read through a function,
    what was kept out."""
    profile = configure.Profile("work", config_file)
    asked: list[str] = []

    def typed(label: str) -> str:
        asked.append(label)
        return "hunter2-long"

    saved = configure.set_smtp(profile, "smtp.example.com", port=None, security="starttls",
                               username="ann", ca_file=None, read_password=typed)
    assert asked == ["SMTP password"]
    assert saved.secret == configure.Kept("smtp://smtp.example.com:587 as ann", stored=True)
    assert ("mailpage", "work/smtp") in isolated.store
    configure.set_sender(profile, address="ann@example.com", reply_to=" ME ")
    sender = tomllib.loads(config_file.read_text())["profiles"]["work"]["sender"]
    assert sender == {"address": "ann@example.com", "reply_to": "me"}
    assert profile.load({})["smtp.host"] == "smtp.example.com"


@pytest.mark.parametrize(("option", "forms"), [
    ("--address", "Use one of: addr@example.com, 'Name <addr@example.com>'."),
    ("--reply-to", "Use one of: me, none, addr@example.com, 'Name <addr@example.com>'."),
])
def test_a_bad_sender_setting_names_only_the_forms_it_allows(
    config_file: Path, option: str, forms: str,
) -> None:
    result = run("config", "set-sender", option, "bogus")
    assert result.exit_code == 2
    assert "'bogus' is not a valid e-mail address." in result.stderr
    assert forms in result.stderr
    assert "group:" not in result.stderr and "file:" not in result.stderr


def test_set_policy_and_clear_domains(config_file: Path) -> None:
    run("config", "set-policy", "--allowed-domain", "example.com", "--allowed-domain",
        "@Example.org", "--max-recipients", "5", "--max-size", "2.5")
    policy = tomllib.loads(config_file.read_text())["profiles"]["default"]["policy"]
    assert policy == {"allowed_domains": ["example.com", "example.org"], "max_recipients": 5,
                      "max_size_mb": 2.5}
    run("config", "set-policy", "--allowed-domain", "")
    policy = tomllib.loads(config_file.read_text())["profiles"]["default"]["policy"]
    assert "allowed_domains" not in policy


def test_policy_has_no_environment_override(monkeypatch: pytest.MonkeyPatch) -> None:
    run("config", "set-policy", "--max-recipients", "3")
    monkeypatch.setenv("MAILPAGE_MAX_RECIPIENTS", "1000")
    assert show()["policy.max_recipients"] == {"value": 3, "source": "file"}


def test_forget_removes_secrets_and_settings(config_file: Path, isolated: MemoryKeyring) -> None:
    run("config", "set-smtp", "--host", "h.example.com", "--username", "ann", "--password-stdin",
        input="pw-123\n")
    run("config", "set-sender", "--name", "Ann")
    result = run("config", "forget", "smtp")
    assert result.exit_code == 0
    assert isolated.store == {}
    data = tomllib.loads(config_file.read_text())
    assert data == {"profiles": {"default": {"sender": {"name": "Ann"}}}}
    run("config", "forget")
    assert tomllib.loads(config_file.read_text()) == {}


def test_forget_works_without_a_keyring(config_file: Path) -> None:
    run("config", "set-sender", "--name", "Ann")
    keyring.set_keyring(fail.Keyring())
    result = run("config", "forget")
    assert result.exit_code == 0
    assert "No usable OS keyring" in result.stderr
    assert tomllib.loads(config_file.read_text()) == {}


def test_storing_into_a_keyring_that_drops_secrets_fails_clearly(config_file: Path) -> None:
    keyring.set_keyring(null.Keyring())
    result = run("config", "set-smtp", "--host", "h.example.com", "--username", "ann",
                 "--password-stdin", input="pw\n")
    assert result.exit_code == 3
    assert "MAILPAGE_SMTP_PASSWORD" in result.stderr
    assert not config_file.exists()


def _planted_config(config_file: Path, server: smtp.SmtpServer) -> None:
    """A config file that sends the keyring password to ``server`` (an attacker's, say)."""
    config_file.parent.mkdir(parents=True, mode=0o700)
    config_file.write_text(f'[profiles.default.smtp]\nhost = "127.0.0.1"\nport = {server.port}\n')
    config_file.chmod(0o600)


def test_a_config_file_others_can_write_is_refused_before_anything_is_sent(
    config_file: Path, smtp_env: smtp.SmtpServer
) -> None:
    _planted_config(config_file, smtp_env)
    config_file.chmod(0o666)
    result = run("send", str(EXAMPLE), "--to", "a@example.com")
    assert result.exit_code == 3
    assert f"The config file {config_file} is writable by other users (mode 0666)" in (
        result.stderr)
    assert f"chmod 600 {config_file}" in result.stderr
    assert smtp_env.recorder.connections == 0
    config_file.chmod(0o644)  # readable by others is no danger: only the write bits count
    assert run("config", "show").exit_code == 0


def test_a_config_folder_others_can_write_is_refused(
    config_file: Path, smtp_env: smtp.SmtpServer
) -> None:
    _planted_config(config_file, smtp_env)
    config_file.parent.chmod(0o770)
    result = run("send", str(EXAMPLE), "--to", "a@example.com")
    assert result.exit_code == 3
    assert f"The folder {config_file.parent} of the config file is writable" in result.stderr
    assert f"chmod go-w {config_file.parent}" in result.stderr
    assert smtp_env.recorder.connections == 0


def test_a_config_file_of_another_user_is_refused(
    config_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config_file.parent.mkdir(parents=True, mode=0o700)
    config_file.write_text('[profiles.default.sender]\nname = "Mallory"\n')
    if os.getuid() == 0:
        os.chown(config_file, 65534, -1)  # nobody
    else:  # cannot give the file away: become someone else instead
        me = os.getuid()
        monkeypatch.setattr(os, "getuid", lambda: me + 1)
    result = run("config", "show")
    assert result.exit_code == 3
    assert "belongs to another user" in result.stderr


def test_an_absent_config_file_in_a_shared_folder_is_no_error(tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    shared.mkdir(mode=0o777)
    shared.chmod(0o777)
    result = run("config", "show", env={"MAILPAGE_CONFIG": str(shared / "none.toml")})
    assert result.exit_code == 0, result.stderr


PROFILES = """\
[profiles.default.sender]
name = "Ann"
[profiles.dc.smtp]
host = "dc.example.com"
[profiles.tls.sender]
name = "T"
"""


@pytest.mark.parametrize(
    "command",
    [("config", "show"), ("config", "check"), ("config", "forget"), ("config", "forget", "smtp"),
     ("send", str(EXAMPLE), "--to", "a@example.com", "--dry-run"), ("preview", str(EXAMPLE))],
)
def test_a_profile_missing_from_the_config_file_is_an_error(
    config_file: Path, command: tuple[str, ...],
) -> None:
    config_file.parent.mkdir(parents=True)
    config_file.write_text(PROFILES)
    result = run("--profile", "nosuch", *command)
    assert result.exit_code == 3, result.stderr
    assert (f"No profile 'nosuch' in {config_file} (profiles: dc, default, tls)"
            in " ".join(result.stderr.split()))
    assert "Check --profile / MAILPAGE_PROFILE." in result.stderr
    assert config_file.read_text() == PROFILES


def test_the_variable_names_a_missing_profile_too(
    config_file: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    config_file.parent.mkdir(parents=True)
    config_file.write_text(PROFILES)
    monkeypatch.setenv("MAILPAGE_PROFILE", "nosuch")
    result = run("config", "show")
    assert result.exit_code == 3 and "No profile 'nosuch'" in result.stderr


def test_set_commands_create_a_profile_and_no_file_needs_none(config_file: Path) -> None:
    """Without a file the environment alone is the settings; the default profile may be
    absent from a file; set-* make the profile they name."""
    assert run("--profile", "ci", "config", "show").exit_code == 0
    config_file.parent.mkdir(parents=True)
    config_file.write_text("[profiles.dc.smtp]\nhost = 'dc.example.com'\n")
    assert run("config", "show").exit_code == 0
    made = run("--profile", "new", "config", "set-sender", "--subject-prefix", "[N]")
    assert made.exit_code == 0, made.stderr
    assert show("--profile", "new")["sender.subject_prefix"]["value"] == "[N]"


@pytest.mark.parametrize(
    ("content", "named"),
    [
        ('[default.smtp]\nhost = "x"\n', "[default.smtp]"),
        ('foo = 1\n[profiles.default.smtp]\nhost = "x"\n', "foo"),
        ('[smtp]\nhost = "x"\n', "[smtp]"),
    ],
)
def test_settings_outside_profiles_are_an_error(
    config_file: Path, content: str, named: str,
) -> None:
    config_file.parent.mkdir(parents=True)
    config_file.write_text(content)
    result = run("config", "show")
    assert result.exit_code == 3
    said = " ".join(result.stderr.split())
    assert f"outside [profiles]: {named}" in said
    assert "Profiles live under [profiles.NAME.SECTION]" in said
    refused = run("config", "set-sender", "--name", "N")
    assert refused.exit_code == 3 and config_file.read_text() == content


def test_an_empty_variable_clears_a_stored_username(
    config_file: Path, plain_server: smtp.SmtpServer,
) -> None:
    """The README recipe: a local plain server for a run, though the file has a login; no
    password is looked up for it (none is stored for that server)."""
    run("config", "set-smtp", "--host", "smtp.example.com", "--username", "ann",
        "--password-stdin", input="pw\n")
    env = {**plain_server.env(login=False), "MAILPAGE_SMTP_USERNAME": ""}
    result = run("send", str(EXAMPLE), "--to", "you@example.com", env=env)
    assert result.exit_code == 0, result.stderr
    assert len(plain_server.received) == 1 and plain_server.recorder.logins == []
    assert show(env=env)["smtp.username"] == {"value": None,
                                              "source": "env MAILPAGE_SMTP_USERNAME (empty)"}


@pytest.mark.parametrize(
    ("env", "file", "fix", "not_said"),
    [
        ({"MAILPAGE_CONFLUENCE_CONCURRENCY": "33"}, None,
         "Correct or unset MAILPAGE_CONFLUENCE_CONCURRENCY.", "set-site"),
        ({}, "[profiles.default.confluence]\nconcurrency = 33\n",
         ("Correct `concurrency` under [profiles.default.confluence] in the config file, or"
         " override it with MAILPAGE_CONFLUENCE_CONCURRENCY."), "set-site"),
        ({}, "[profiles.default.smtp]\nport = 0\n",
         ("Correct `port` under [profiles.default.smtp] in the config file, or set it again"
         " with `mailpage config set-smtp`"), "MAILPAGE_SMTP_PORT"),
    ],
)
def test_a_bad_value_is_fixed_where_it_came_from(
    config_file: Path, env: dict[str, str], file: str | None, fix: str, not_said: str,
) -> None:
    if file:
        config_file.parent.mkdir(parents=True)
        config_file.write_text(file)
    result = run("config", "show", env=env)
    assert result.exit_code == 3
    said = " ".join(result.stderr.split())
    assert fix in said and not_said not in said.partition("must be")[2]


def test_set_smtp_refuses_a_host_with_a_port(config_file: Path) -> None:
    result = run("--profile", "hp", "config", "set-smtp", "--host", "smtp.example.com:587")
    assert result.exit_code == 3
    assert "holds a port" in result.stderr
    assert ("`mailpage --profile hp config set-smtp --host smtp.example.com --port 587`"
            in " ".join(result.stderr.split()))
    assert not config_file.exists()


def test_the_store_command_keeps_the_ca_file() -> None:
    destination = credentials.smtp_destination("h.example.com", 2525, "starttls", "ann",
                                               "work", Path("/etc/ca.pem"))
    assert destination.store_command == (
        "mailpage --profile work config set-smtp --host h.example.com --port 2525 --security"
        " starttls --username ann --ca-file /etc/ca.pem --password-stdin")


def test_without_a_keyring_set_smtp_says_nothing_was_saved(config_file: Path) -> None:
    keyring.set_keyring(fail.Keyring())
    result = run("config", "set-smtp", "--host", "h.example.com", "--username", "ann",
                 "--password-stdin", input="pw\n")
    assert result.exit_code == 3
    said = " ".join(result.stderr.split())
    assert "No usable OS keyring to keep the SMTP password; nothing was saved" in said
    assert ("Run the command again without --password-stdin and set MAILPAGE_SMTP_PASSWORD"
            in said)
    assert "Error" not in said.replace("error:", "")  # no Python class name
    assert not config_file.exists()
    debug = run("--debug", "config", "set-smtp", "--host", "h.example.com", "--username",
                "ann", "--password-stdin", input="pw\n")
    assert "NoKeyringError" in debug.stderr


def test_without_a_keyring_reading_a_secret_says_read() -> None:
    keyring.set_keyring(fail.Keyring())
    destination = credentials.smtp_destination("h.example.com", None, "starttls", "ann",
                                               "default")
    with pytest.raises(ConfigError) as raised:
        credentials.lookup(credentials.SMTP_PASSWORD, "default", {}, destination)
    assert str(raised.value).startswith("No usable OS keyring to read the SMTP password from.")
    assert "Set MAILPAGE_SMTP_PASSWORD in the environment instead" in str(raised.value)
    assert "Error" not in str(raised.value)


@pytest.mark.parametrize(
    ("url", "site"),
    [
        ("https://x.atlassian.net/wiki/spaces/ENG/pages/1310715/Release",
         "https://x.atlassian.net/wiki"),
        ("https://wiki.example.com/confluence/display/ENG/Release+notes",
         "https://wiki.example.com/confluence"),
        ("https://wiki.example.com/pages/viewpage.action?pageId=1310715",
         "https://wiki.example.com"),
        ("https://x.atlassian.net/wiki", "https://x.atlassian.net/wiki"),
        ("https://wiki.example.com/confluence", "https://wiki.example.com/confluence"),
    ],
)
def test_a_page_url_as_the_site_is_its_site(url: str, site: str, tmp_path: Path) -> None:
    loaded = settings.load(tmp_path / "none.toml", "default", {"MAILPAGE_CONFLUENCE_URL": url})
    assert loaded["confluence.url"] == site


def test_a_new_site_replaces_the_old_one_and_inherits_none_of_its_keys(
    config_file: Path,
) -> None:
    """A Data Center site's bearer auth must not carry over to the Cloud site that replaces
    it: the token would be bound to an address no send looks up."""
    config_file.parent.mkdir(parents=True)
    config_file.write_text('[profiles.default.confluence]\nurl = "https://wiki.example.com"\n'
                           'auth = "bearer"\ndeployment = "datacenter"\n')
    saved = configure.set_site(
        configure.Profile("default", config_file), "https://acme.atlassian.net",
        user="ann@acme.com", auth=None, deployment=None, address_book=None, api_gateway=None,
        read_token=lambda _label: None, ui=None)  # type: ignore[arg-type]
    assert (saved.site.deployment, saved.site.auth) == ("cloud", "basic")
    assert saved.token.where == "https://acme.atlassian.net:443/wiki"
    assert configure.Profile("default", config_file).load({})["confluence.auth"] == "basic"
