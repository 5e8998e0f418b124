"""What ``--if-changed`` remembers: the state file alone (format 2 with salted hashes, the
legacy format 1, malformed files), then through ``send`` against the loopback Confluence and
a real SMTP server."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from mailpage_cli.errors import StateError
from mailpage_cli.state import FILE, SentState, recipients_hash, state_dir
from tests.conftest import run, set_env
from tests.support import smtp
from tests.support.confluence_server import FakeConfluence, Page, Site, User

ANN, BOB = "ann@example.com", "bob@example.com"


def stored(directory: Path) -> dict[str, object]:
    data = json.loads((directory / FILE).read_text())
    assert isinstance(data, dict)
    return data


def record(directory: Path, version: str = "3", *, delivered: tuple[str, ...] = (),
           unknown: tuple[str, ...] = (), page_id: str = "98487") -> None:
    with SentState(directory).locked() as sent:
        sent.record("default", page_id, version, delivered=delivered, unknown=unknown)


def done(directory: Path, addresses: tuple[str, ...], version: str = "3",
         page_id: str = "98487", profile: str = "default") -> dict[str, str]:
    with SentState(directory).locked() as sent:
        return sent.done(profile, page_id, version, addresses)


# --------------------------------------------------------------------------- the file


def test_without_a_state_file_nobody_has_any_version(tmp_path: Path) -> None:
    assert done(tmp_path, (ANN,)) == {}
    assert not (tmp_path / FILE).exists()


def test_a_recorded_delivery_is_remembered_by_the_next_run(tmp_path: Path) -> None:
    record(tmp_path, delivered=(ANN,))
    assert done(tmp_path, (ANN, BOB)) == {ANN: "delivered"}


def test_addresses_match_whatever_their_case(tmp_path: Path) -> None:
    record(tmp_path, delivered=("Ann@Example.COM",))
    assert done(tmp_path, (ANN,)) == {ANN: "delivered"}


def test_another_version_page_or_profile_is_not_done(tmp_path: Path) -> None:
    record(tmp_path, delivered=(ANN,))
    assert done(tmp_path, (ANN,), version="4") == {}
    assert done(tmp_path, (ANN,), page_id="98488") == {}
    assert done(tmp_path, (ANN,), profile="work") == {}


def test_a_new_version_forgets_who_had_the_old_one(tmp_path: Path) -> None:
    record(tmp_path, "3", delivered=(ANN, BOB))
    record(tmp_path, "4", delivered=(BOB,))
    assert done(tmp_path, (ANN, BOB), version="4") == {BOB: "delivered"}
    assert done(tmp_path, (ANN, BOB), version="3") == {}


def test_records_of_one_version_add_up(tmp_path: Path) -> None:
    record(tmp_path, delivered=(ANN,))
    record(tmp_path, unknown=(BOB,))
    assert done(tmp_path, (ANN, BOB)) == {ANN: "delivered", BOB: "unknown"}


def test_the_file_holds_salted_hashes_not_addresses_mode_0600(tmp_path: Path) -> None:
    record(tmp_path, delivered=(ANN,), unknown=(BOB,))
    data = stored(tmp_path)
    assert data["format"] == 2
    text = (tmp_path / FILE).read_text()
    assert ANN not in text and BOB not in text
    entry = data["pages"]["default"]["98487"]  # type: ignore[index]
    assert entry["version"] == "3"
    assert len(entry["delivered"]) == len(entry["unknown"]) == 1
    assert (tmp_path / FILE).stat().st_mode & 0o777 == 0o600


def test_each_state_file_has_its_own_salt(tmp_path: Path) -> None:
    """A hash of an address from one file says nothing about another file."""
    record(tmp_path / "one", delivered=(ANN,))
    record(tmp_path / "two", delivered=(ANN,))
    one, two = stored(tmp_path / "one"), stored(tmp_path / "two")
    assert one["salt"] != two["salt"]
    assert (one["pages"]["default"]["98487"]["delivered"]  # type: ignore[index]
            != two["pages"]["default"]["98487"]["delivered"])  # type: ignore[index]


def test_the_lock_file_sits_beside_the_state(tmp_path: Path) -> None:
    with SentState(tmp_path / "state").locked():
        assert (tmp_path / "state" / f"{FILE}.lock").exists()


def test_ensure_writable_writes_the_state_as_it_is(tmp_path: Path) -> None:
    with SentState(tmp_path).locked() as sent:
        sent.ensure_writable()
    assert stored(tmp_path) == {"format": 2}


def test_the_format_1_hash_ignores_order_and_case() -> None:
    assert recipients_hash([ANN, BOB]) == recipients_hash(["BOB@example.com", "Ann@Example.com"])
    assert recipients_hash([ANN]) != recipients_hash([ANN, BOB])


def test_a_format_1_file_counts_its_exact_recipient_set_as_sent(tmp_path: Path) -> None:
    """An older mailpage kept one version per recipient set: the same set, in any order or
    case, has that version; another set does not."""
    legacy = {"format": 1, "sent": {"default": {"98487": {
        recipients_hash([ANN, BOB]): {"version": "3", "sent_at": "2026-11-01T08:00:00+00:00"}}}}}
    (tmp_path / FILE).write_text(json.dumps(legacy))
    assert done(tmp_path, ("BOB@example.com", "Ann@Example.com")) == {
        "BOB@example.com": "delivered", "Ann@Example.com": "delivered"}
    assert done(tmp_path, (ANN,)) == {}
    assert done(tmp_path, (ANN, BOB), version="4") == {}


def test_recording_upgrades_a_format_1_file_and_keeps_its_history(tmp_path: Path) -> None:
    legacy = {"sent": {"default": {"98487": {recipients_hash([ANN]): {"version": "3"}}}}}
    (tmp_path / FILE).write_text(json.dumps(legacy))
    record(tmp_path, "3", delivered=(BOB,), page_id="98488")
    data = stored(tmp_path)
    assert data["format"] == 2 and data["sent"] == legacy["sent"]
    assert done(tmp_path, (ANN,)) == {ANN: "delivered"}


@pytest.mark.parametrize("content", [
    "not json", "[]", '{"sent": []}', '{"pages": {"default": "x"}}',
    '{"pages": {"default": {"98487": "x"}}}', '{"pages": {"default": {"98487": {"delivered": 3}}}}',
    '{"pages": {"default": {"98487": {"unknown": "a"}}}}', '{"sent": {"default": {"1": []}}}',
])
def test_a_malformed_state_file_is_a_state_error_naming_it(tmp_path: Path, content: str) -> None:
    (tmp_path / FILE).write_text(content)
    with pytest.raises(StateError, match=str(tmp_path / FILE)) as caught:
        done(tmp_path, (ANN,))
    assert caught.value.exit_code == 3


def test_a_state_folder_that_is_a_file_is_a_state_error(tmp_path: Path) -> None:
    (tmp_path / "blocker").write_text("")
    with pytest.raises(StateError, match="Cannot lock the --if-changed state"):
        done(tmp_path / "blocker" / "state", (ANN,))


def test_the_state_folder_comes_from_the_environment(tmp_path: Path) -> None:
    assert state_dir({"MAILPAGE_STATE_DIR": str(tmp_path / "s"),
                      "XDG_STATE_HOME": "/xdg"}) == tmp_path / "s"
    assert state_dir({"XDG_STATE_HOME": "/xdg"}) == Path("/xdg/mailpage")
    assert state_dir({}) == Path.home() / ".local" / "state" / "mailpage"


# --------------------------------------------------------------------------- through send


@pytest.fixture
def site(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeConfluence]:
    data = Site("cloud", "/wiki", me=User("Ann Example", ANN),
                pages=[Page("98487", "Release notes", version=3, view="<p>Ships.</p>")])
    with FakeConfluence(data) as fake:
        set_env(monkeypatch, fake.env())
        yield fake


@pytest.fixture
def state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("MAILPAGE_STATE_DIR", str(tmp_path / "sent"))
    return tmp_path / "sent"


def send(page: str, *recipients: str, if_changed: bool = True) -> tuple[int, dict[str, object]]:
    flags = ["--if-changed"] if if_changed else []
    result = run("send", page, "--to", ",".join(recipients), *flags, "--json")
    return result.exit_code, json.loads(result.stdout)


def test_a_refused_recipient_is_not_recorded_and_gets_the_rerun(
    site: FakeConfluence, smtp_env: smtp.SmtpServer, state: Path,
) -> None:
    smtp_env.recorder.refuse["bad@example.com"] = "550 5.1.1 Mailbox unknown"
    code, first = send("98487", ANN, "bad@example.com")
    assert (code, first["status"]) == (7, "partial")
    del smtp_env.recorder.refuse["bad@example.com"]
    code, second = send("98487", ANN, "bad@example.com")
    assert (code, second["delivered"]) == (0, ["bad@example.com"])
    assert done(state, (ANN, "bad@example.com")) == dict.fromkeys(
        [ANN, "bad@example.com"], "delivered")


def test_without_if_changed_nothing_is_read_or_stored(
    site: FakeConfluence, smtp_env: smtp.SmtpServer, state: Path,
) -> None:
    """SPEC: nothing else is stored; a send without --if-changed always sends."""
    record(state, "3", delivered=(ANN,))
    before = (state / FILE).read_bytes()
    assert send("98487", ANN, BOB, if_changed=False)[1]["status"] == "sent"
    assert send("98487", ANN, BOB, if_changed=False)[1]["status"] == "sent"
    assert [r.rcpt_tos for r in smtp_env.received] == [[ANN, BOB], [ANN, BOB]]
    assert (state / FILE).read_bytes() == before


def test_a_new_version_with_the_same_content_is_sent_again(
    site: FakeConfluence, smtp_env: smtp.SmtpServer, state: Path,
) -> None:
    """Confluence's version decides, not the content (a restored page is a new version)."""
    assert send("98487", ANN)[1]["status"] == "sent"
    assert send("98487", ANN)[1]["status"] == "unchanged"
    site.site.pages[0].version = 4
    assert send("98487", ANN)[1]["status"] == "sent"
    assert len(smtp_env.received) == 2


def test_an_export_is_compared_by_its_content(
    tmp_path: Path, smtp_env: smtp.SmtpServer, state: Path,
) -> None:
    page = tmp_path / "Plan_123.html"
    page.write_text('<title>ENG : Plan</title><div id="main-content"><p>One.</p></div>')
    assert send(str(page), ANN)[1]["status"] == "sent"
    assert send(str(page), ANN)[1]["status"] == "unchanged"
    page.write_text('<title>ENG : Plan</title><div id="main-content"><p>Two.</p></div>')
    assert send(str(page), ANN)[1]["status"] == "sent"


def test_a_page_given_by_id_then_by_title_is_one_page(
    site: FakeConfluence, smtp_env: smtp.SmtpServer, state: Path,
) -> None:
    assert send("98487", ANN)[1]["status"] == "sent"
    assert send("ENG:Release notes", ANN)[1]["status"] == "unchanged"
    assert send(f"{site.url}/spaces/ENG/pages/98487/Release+notes", ANN)[1]["status"] == (
        "unchanged")
    assert len(smtp_env.received) == 1
    assert list(stored(state)["pages"]["default"]) == ["98487"]  # type: ignore[index]
