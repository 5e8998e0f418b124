"""The ready-made jobs in examples/ run as written: their mailpage commands are taken from the
files and run against the loopback Confluence and SMTP servers, with only the site, server and
secret values swapped for the test ones, so the examples cannot rot."""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from tests.conftest import ROOT, unattended_env
from tests.support import smtp
from tests.support.confluence_server import FakeConfluence, Fault, Page, Site, User

EXAMPLES = ROOT / "examples"
ME = User("Wiki Bot", "wiki-bot@acme.com")
TEAM = [User("Ann Example", "ann@acme.com"), User("Bob Builder", "bob@acme.com")]


@pytest.fixture
def confluence() -> Iterator[FakeConfluence]:
    site = Site("cloud", "/wiki", me=ME, users=list(TEAM),
                groups={"release-team": list(TEAM), "engineering": list(TEAM)},
                pages=[Page("98487", "Release notes", view="<p>2.4 ships Tuesday.</p>",
                            last_modified="2099-01-01T00:00:00.000Z")])
    with FakeConfluence(site) as fake:
        yield fake


@pytest.fixture
def test_env(confluence: FakeConfluence, starttls_server: smtp.SmtpServer, ca_file: Path,
             tmp_path: Path) -> dict[str, str]:
    """The values a job's environment gets in the test: the test servers and secrets."""
    return {**unattended_env(confluence, starttls_server, ca_file, tmp_path),
            "MAILPAGE_SENDER_ADDRESS": "wiki-bot@acme.com"}


def job_env(declared: dict[str, str], test_env: dict[str, str]) -> dict[str, str]:
    """The job's own variables, each MAILPAGE_ one pointed at the test servers, plus the
    secrets a CI would add from its secret store."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MAILPAGE_")}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env["PYTHONPATH"] = str(ROOT)
    for name, value in declared.items():
        env[name] = test_env.get(name, value)
    return {**env, **test_env}


def run(command: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["sh", "-c", command], env=env, cwd=cwd, capture_output=True,
                          text=True, timeout=180, check=False, stdin=subprocess.DEVNULL)


def env_file(path: Path) -> dict[str, str]:
    values = {}
    for line in path.read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            name, _, value = line.partition("=")
            values[name.strip()] = value.strip().strip('"')
    return values


def write_env_file(declared: dict[str, str], test_env: dict[str, str], path: Path) -> None:
    lines = [f"{k}={shlex.quote(test_env.get(k, v))}" for k, v in declared.items()]
    lines += [f"{k}={shlex.quote(v)}" for k, v in test_env.items() if k not in declared]
    path.write_text("\n".join(lines) + "\n")


def test_the_cron_job_runs_and_then_finds_nothing_new(
    test_env: dict[str, str], starttls_server: smtp.SmtpServer, tmp_path: Path,
) -> None:
    example_env = EXAMPLES / "cron" / "release-notes.env"
    declared = env_file(example_env)
    assert {"MAILPAGE_SMTP_PASSWORD", "MAILPAGE_CONFLUENCE_TOKEN"} <= declared.keys()
    assert run(f"set -a && . {example_env} && set +a", dict(os.environ), tmp_path).returncode == 0
    lines = [line for line in (EXAMPLES / "cron" / "crontab").read_text().splitlines()
             if line.strip() and not line.startswith("#")]
    (entry,) = lines
    schedule, command = entry.split()[:5], " ".join(entry.split()[5:])
    assert schedule == ["30", "7", "*", "*", "1-5"]
    write_env_file(declared, test_env, tmp_path / "release-notes.env")
    (tmp_path / "release-team.txt").write_text("# the release team\nann@acme.com\nbob@acme.com\n")
    command = (command.replace("/etc/mailpage/", f"{tmp_path}/")
               .replace("/usr/local/bin/mailpage-retry", str(EXAMPLES / "cron" / "mailpage-retry"))
               .replace("/var/log/mailpage/", f"{tmp_path}/"))
    env = job_env({}, {})
    for attempt in ("sent", "unchanged"):
        process = run(command, env, tmp_path)
        assert process.returncode == 0, process.stderr
        last = (tmp_path / "release-notes.jsonl").read_text().strip().splitlines()[-1]
        assert json.loads(last)["status"] == attempt
    (received,) = starttls_server.received
    assert sorted(received.rcpt_tos) == ["ann@acme.com", "bob@acme.com"]


def test_the_retry_wrapper_retries_exit_6_only(
    test_env: dict[str, str], confluence: FakeConfluence, starttls_server: smtp.SmtpServer,
    tmp_path: Path,
) -> None:
    wrapper = EXAMPLES / "cron" / "mailpage-retry"
    env = job_env({}, {**test_env, "MAILPAGE_RETRY_DELAYS": "0 0"})
    busy = Fault(prefix="/api/v2/pages", status=503, headers={"Retry-After": "0"})
    confluence.fail(*[busy] * 4)  # mailpage's four tries of the first run all fail
    process = run(f"{wrapper} send 98487 --to ann@acme.com", env, tmp_path)
    assert process.returncode == 0, process.stderr
    assert "trying again" in process.stderr
    assert len(starttls_server.received) == 1
    usage = run(f"{wrapper} send 98487 --to not-an-address", env, tmp_path)
    assert usage.returncode == 2
    assert "trying again" not in usage.stderr


def test_the_systemd_service_runs_as_written(
    test_env: dict[str, str], starttls_server: smtp.SmtpServer, tmp_path: Path,
) -> None:
    service = (EXAMPLES / "systemd" / "mailpage-release-notes.service").read_text()
    settings = dict(re.findall(r"^(\w+)=(.*)$", service, re.M))
    assert settings["Type"] == "oneshot"
    assert "6" not in settings["RestartPreventExitStatus"].split()
    declared = env_file(EXAMPLES / "cron" / "release-notes.env")
    assert settings["EnvironmentFile"] == "/etc/mailpage/release-notes.env"
    name, _, value = settings["Environment"].partition("=")
    declared[name] = value
    argv = shlex.split(settings["ExecStart"])
    assert argv[0] == "/usr/local/bin/mailpage"
    process = subprocess.run(["mailpage", *argv[1:]], env=job_env(declared, test_env),
                             cwd=tmp_path, capture_output=True, text=True, timeout=120,
                             check=False, stdin=subprocess.DEVNULL)
    assert process.returncode == 0, process.stderr
    assert json.loads(process.stdout)["status"] == "sent"
    assert len(starttls_server.received) == 1
    timer = (EXAMPLES / "systemd" / "mailpage-release-notes.timer").read_text()
    assert "OnCalendar=Mon..Fri 07:30" in timer and "Persistent=true" in timer


def test_the_github_actions_workflow_runs_as_written(
    test_env: dict[str, str], starttls_server: smtp.SmtpServer, tmp_path: Path,
) -> None:
    workflow = yaml.safe_load((EXAMPLES / "github-actions" / "mail-release-notes.yml")
                              .read_text())
    (job,) = workflow["jobs"].values()
    steps = [s for s in job["steps"] if "mailpage " in s.get("run", "")
             and "pip install" not in s["run"]]
    assert steps, "the workflow runs mailpage"
    for step in steps:
        for name, value in step.get("env", {}).items():
            if "secrets." in str(value):
                assert name in test_env, f"{name} comes from a secret the test provides"
        command = re.sub(r"\$\{\{\s*github\.sha\s*\}\}", "0123abcd", step["run"])
        process = run(command, job_env(step.get("env", {}), test_env), tmp_path)
        assert process.returncode == 0, process.stderr
    report = json.loads((tmp_path / "mailpage.json").read_text())
    assert report["status"] == "sent"
    assert report["recipients"]["to"] == ["ann@acme.com", "bob@acme.com"]
    assert "0123abcd" in starttls_server.received[0].message.get_body(
        ("plain",)).get_content()


def test_the_gitlab_job_runs_as_written(
    test_env: dict[str, str], starttls_server: smtp.SmtpServer, tmp_path: Path,
) -> None:
    pipeline = yaml.safe_load((EXAMPLES / "gitlab-ci" / ".gitlab-ci.yml").read_text())
    (job,) = [v for v in pipeline.values() if isinstance(v, dict) and "script" in v]
    declared = {k: str(v) for k, v in job.get("variables", {}).items()}
    assert "MAILPAGE_SMTP_PASSWORD" not in declared  # a masked CI/CD variable, not in the file
    commands = [line for line in job["script"] if line.startswith("mailpage ")]
    assert commands
    for command in commands:
        process = run(command, job_env(declared, test_env), tmp_path)
        assert process.returncode == 0, process.stderr
        assert json.loads(process.stdout)["status"] == "sent"
    assert len(starttls_server.received) == 2  # one message per recipient
