"""Hand-made mutants of the contract's edges (the review's table, aesthetics.md section 4.5),
each run against the smallest test files that should kill it.

    python tools/mutants.py              # every mutant, two at a time
    python tools/mutants.py --only Q1 D6 # some of them

The repository (without .venv and .git) is copied to a temporary folder once per worker; a
mutant is applied there, never here, the tests run with the repository's venv against the
copy's package (cwd and PYTHONPATH = the copy), and the file is restored. Before the mutants,
the chosen test files must pass unmutated (a baseline), and a sentinel mutant that breaks
every import must be killed: otherwise the tests would not be testing the copy.

Exit status: 0 when every mutant was killed, 1 when some survived, 2 when the set-up is wrong.
"""

from __future__ import annotations

import argparse
import os
import queue
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYTHON = ROOT / ".venv" / "bin" / "python"
IGNORED = shutil.ignore_patterns(".venv", ".git", "__pycache__", ".pytest_cache",
                                 ".mypy_cache", ".ruff_cache", "*.egg-info")
WORKERS = 2  # the machine has two cores
TIMEOUT = 300


@dataclass(frozen=True)
class Mutant:
    id: str
    file: str  # relative to the repository
    original: str  # must occur exactly once in the file
    replacement: str
    tests: tuple[str, ...]  # the test files that should kill it
    meaning: str


RECIPIENTS, PAGEREFS = "mailpage_cli/recipients.py", "mailpage_cli/pagerefs.py"
SETTINGS, MESSAGE = "mailpage_cli/settings.py", "mailpage_cli/message.py"
MAILER, PIPELINE = "mailpage_cli/mailer.py", "mailpage_cli/pipeline.py"
STATE, CREDENTIALS = "mailpage_cli/state.py", "mailpage_cli/credentials.py"
RETRY, POLICY = "mailpage_cli/retry.py", "mailpage_cli/policy.py"

T_RECIPIENTS, T_PAGEREFS = "tests/test_recipients.py", "tests/test_pagerefs.py"
T_CONFIG, T_MESSAGE = "tests/test_config.py", "tests/test_message.py"
T_DELIVERY, T_FAULTS = "tests/test_delivery.py", "tests/test_faults.py"
T_STATE, T_POLICY = "tests/test_state.py", "tests/test_policy.py"
T_CONFLUENCE, T_RETRY = "tests/test_confluence.py", "tests/test_retry.py"

# Breaks every import of the package: only tests that import the copy can kill it.
SENTINEL = Mutant("SENTINEL", "mailpage_cli/__init__.py", '__version__ = "0.1.0"',
                  'raise ImportError("mutation sentinel")', (T_RECIPIENTS,),
                  "the copy's package is the one under test")

MUTANTS: tuple[Mutant, ...] = (
    # -- recipients
    Mutant("R1", RECIPIENTS, "if recipient.address.lower() not in seen:",
           "if recipient.address not in seen:", (T_RECIPIENTS,),
           "dedupe becomes case-sensitive"),
    Mutant("R2", RECIPIENTS, "for specs in (to, cc, bcc):", "for specs in (to, bcc, cc):",
           (T_RECIPIENTS,), "Bcc beats Cc"),
    Mutant("R3", RECIPIENTS, "matches = exact or found", "matches = found", (T_CONFLUENCE,),
           "an exact display name no longer wins"),
    Mutant("R4", RECIPIENTS,
           "return [p for p in directory.group_members(value) if p.active and not p.app]",
           "return [p for p in directory.group_members(value) if p.active]", (T_CONFLUENCE,),
           "app accounts kept in groups"),
    Mutant("R5", RECIPIENTS, "return directory.user(matches[0].key) or matches[0]",
           "return matches[0]", (T_CONFLUENCE,), "search hit kept without its e-mail"),
    Mutant("R6", RECIPIENTS, "len(local) <= 64", "len(local) <= 640", (T_RECIPIENTS,),
           "RFC 5321 local-part limit lifted"),
    Mutant("R7", RECIPIENTS, 'if line and not line.startswith("#")', "if line",
           (T_RECIPIENTS,), "# comments no longer skipped in file: lists"),
    # -- page references
    Mutant("P1", "mailpage_cli/sites.py",
           "same_port = port == site_port or {port, site_port} == {80, 443}",
           "same_port = port == site_port", (T_PAGEREFS,),
           "http and https of one host no longer one site"),
    Mutant("P2", PAGEREFS, 'return PageId(text.lstrip("0") or "0")', "return PageId(text)",
           (T_PAGEREFS,), "leading zeros of an id kept"),
    Mutant("P3", PAGEREFS, "    if not number:\n", "    if False:\n", (T_PAGEREFS,),
           "a tiny link decoding to 0 accepted"),
    Mutant("P4", PAGEREFS, 'if path.suffix.lower() in (".html", ".htm") or _exists(path):',
           'if path.suffix in (".html",) or _exists(path):', (T_PAGEREFS,),
           "a missing x.htm is a usage error, not 'no such file'"),
    Mutant("P5", PAGEREFS, 'if query.get("pageId", [""])[0].isdigit():',
           'if query.get("pageId"):', (T_PAGEREFS,), "?pageId=abc accepted as an id"),
    # -- settings
    Mutant("S1", SETTINGS, "        if flags.get(field.name) is not None:\n",
           "        if flags.get(field.name) is not None and field.env not in env:\n",
           (T_CONFIG,), "env beats flag"),
    Mutant("S2", SETTINGS, 'chosen = flag or env.get("MAILPAGE_CONFIG") or',
           'chosen = env.get("MAILPAGE_CONFIG") or flag or', (T_CONFIG,),
           "MAILPAGE_CONFIG beats --config"),
    Mutant("S3", SETTINGS, 'host.endswith(".atlassian.net")', 'host.endswith("atlassian.net")',
           (T_CONFIG,), "a look-alike host defaults to cloud"),
    Mutant("S4", SETTINGS, "not low <= number <= high", "not low <= number", (T_CONFIG,),
           "ports and counts have no upper bound"),
    Mutant("S5", SETTINGS, "elif field.env and field.env in env:",
           'elif field.env and env.get(field.env, "").strip():', (T_CONFIG,),
           "an empty variable is ignored instead of clearing the setting (VAR= keeps the file's)"),
    Mutant("S6", SETTINGS,
           '        if values[field.name].value in ("", ()):\n'
           '            values[field.name] = Resolved(field.default, "default")\n', "",
           (T_CONFIG,), "an empty value is kept instead of the default"),
    # -- message
    Mutant("M1", MESSAGE, "if not recipients.to and not recipients.cc:",
           "if not recipients.to:", (T_MESSAGE,),
           "a Cc-only mail also gets To: undisclosed-recipients"),
    Mutant("M2", MESSAGE, "key=lambda item: -item[1])[:3]", "key=lambda item: item[1])[:3]",
           (T_MESSAGE,), "the smallest parts are named, not the largest"),
    Mutant("M3", MESSAGE, 'replaced = {b"to", b"cc", b"message-id"}',
           'replaced = {b"to", b"message-id"}', (T_MESSAGE,),
           "--individually copies keep the Cc header"),
    Mutant("M4", MESSAGE, "if size <= max_size_mb * MEGABYTE:",
           "if size < max_size_mb * MEGABYTE:", (T_MESSAGE,),
           "a message exactly at the limit is refused"),
    Mutant("M5", MESSAGE, '("message/", "multipart/")', '("multipart/",)', (T_MESSAGE,),
           "message/rfc822 sent base64 (RFC 2046 forbids it)"),
    # -- SMTP
    Mutant("D1", MAILER,
           "            elif code >= 500:\n"
           "                report.refused[address] = _reply(code, reply, self.account)\n"
           "            else:\n"
           "                report.deferred[address] = _reply(code, reply, self.account)\n"
           "\n    def _mail(",
           "            elif code >= 400:\n"
           "                report.refused[address] = _reply(code, reply, self.account)\n"
           "            else:\n"
           "                report.deferred[address] = _reply(code, reply, self.account)\n"
           "\n    def _mail(",
           (T_DELIVERY,), "a 4xx after DATA is final (no retry)"),
    Mutant("D2", MAILER, "if code in (250, 251):", "if code == 250:", (T_DELIVERY,),
           "RCPT 251 (will forward) counted as not accepted"),
    Mutant("D3", MAILER, "if code == 552:  # the message is too big",
           "if False:  # the message is too big", (T_DELIVERY,),
           "552 at MAIL FROM becomes a sender error, exit 3"),
    Mutant("D4", MAILER,
           "if all(not r.delivered and not r.refused and not r.unknown for r in reports):",
           "if all(not r.delivered and not r.unknown for r in reports):", (T_DELIVERY,),
           "every recipient refused becomes 'unavailable'"),
    Mutant("D5", MAILER, "wait = retries.next_wait(attempt)", "wait = None",
           (T_DELIVERY,), "no retries"),
    Mutant("D6", RETRY, "self.base * 2 ** (attempt - 1) * random.uniform",
           "self.base * random.uniform", (T_DELIVERY, T_RETRY),
           "backoff no longer exponential"),
    Mutant("D7", MAILER, 'chunk += b".\\r\\n" if chunk.endswith(b"\\r\\n") else b"\\r\\n.\\r\\n"',
           'chunk += b"\\r\\n.\\r\\n"', (T_DELIVERY,),
           "the DATA terminator always adds a line break"),
    Mutant("D8", MAILER, "if address in self.deferred:", "if False:", (T_FAULTS,),
           "a 4xx that never clears is 'not attempted', not refused"),
    # -- --if-changed state. Format 2 records each delivery as it happens (on_sent), so I1
    # ("a partial send is recorded as sent") now means: recording the whole recipient list
    # instead of those the server took.
    Mutant("I1", PIPELINE,
           "sent.record(settings.profile, key, version, delivered=delivery.delivered,",
           "sent.record(settings.profile, key, version,"
           " delivered=[r.address for r in found.all],", (T_STATE,),
           "refused recipients are recorded as having the version, never retried"),
    Mutant("I2", PIPELINE, "if not options.if_changed or options.dry_run or options.save:",
           "if options.dry_run or options.save:", (T_STATE,),
           "state read and written on every send, not only with --if-changed"),
    Mutant("I3", STATE, 'joined = "\\n".join(sorted({a.lower() for a in addresses}))',
           'joined = "\\n".join(sorted({a for a in addresses}))', (T_STATE,),
           "format 1's recipient-set hash is case-sensitive"),
    # The same rule for format 2, whose hashes are per address: new since the review.
    Mutant("I3b", STATE, 'f"{salt}\\n{address.lower()}"', 'f"{salt}\\n{address}"', (T_STATE,),
           "format 2's recipient hashes are case-sensitive"),
    Mutant("I4", PIPELINE,
           "        if self.page.version is not None:\n            return str(self.page.version)",
           "        if False:\n            return str(self.page.version)", (T_STATE,),
           "the content hash is compared instead of the version"),
    Mutant("I5", PIPELINE, "key, version = fetched.page.id or str(ref), fetched.version",
           "key, version = str(ref), fetched.version", (T_STATE,),
           "the id and the URL of one page are two pages"),
    # -- policy
    Mutant("Q1", POLICY, 'return any(domain == d or domain.endswith(f".{d}") for d in',
           "return any(domain.endswith(d) for d in", (T_POLICY,),
           "example.com admits notexample.com"),
    Mutant("Q2", POLICY, "if len(addresses) <= policy.max_recipients:",
           "if len(addresses) < policy.max_recipients:", (T_POLICY,),
           "exactly max_recipients needs --yes"),
    # -- credentials
    Mutant("C1", CREDENTIALS,
           "    if kind.env and env.get(kind.env):\n"
           '        return Secret(env[kind.env]), f"env {kind.env}"\n'
           '    return from_keyring(kind, profile, destination), "keyring"\n',
           "    if kept := from_keyring(kind, profile, destination):\n"
           '        return kept, "keyring"\n'
           "    if kind.env and env.get(kind.env):\n"
           '        return Secret(env[kind.env]), f"env {kind.env}"\n'
           '    return None, "keyring"\n',
           (T_CONFIG,), "the keyring beats the environment"),
)

# Judged equivalent, and left out of the count: none. (S6, "nearly equivalent" in the review,
# is not: an empty value in the file stays "" instead of the default None.)


@dataclass(frozen=True)
class Outcome:
    mutant: Mutant
    killed: bool
    seconds: float
    detail: str


def make_copy() -> Path:
    target = Path(tempfile.mkdtemp(prefix="mailpage-mutants-")) / "repo"
    shutil.copytree(ROOT, target, ignore=IGNORED)
    return target


def pytest(copy: Path, files: tuple[str, ...]) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MAILPAGE_")}
    env |= {"PYTHONPATH": str(copy), "PYTHONDONTWRITEBYTECODE": "1"}
    return subprocess.run(  # noqa: S603 - our own interpreter, fixed arguments
        [str(PYTHON), "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", *files],
        cwd=copy, env=env, capture_output=True, text=True, timeout=TIMEOUT, check=False)


def last_line(process: subprocess.CompletedProcess[str]) -> str:
    lines = (process.stdout + process.stderr).strip().splitlines()
    return lines[-1] if lines else f"exit {process.returncode}"


def killer(process: subprocess.CompletedProcess[str]) -> str:
    """The test that failed (pytest's short summary), else the last line of the output."""
    for line in process.stdout.splitlines():
        if line.startswith(("FAILED ", "ERROR ")):
            return line.split(" ", 1)[1].split(" - ", 1)[0]
    return last_line(process)


def try_mutant(mutant: Mutant, copies: queue.Queue[Path]) -> Outcome:
    copy = copies.get()
    missing = [f for f in mutant.tests if not (copy / f.split("::")[0]).is_file()]
    if missing:
        copies.put(copy)
        raise FileNotFoundError(f"{mutant.id}: no test file {', '.join(missing)}")
    path = copy / mutant.file
    original = path.read_text(encoding="utf-8")
    try:
        count = original.count(mutant.original)
        if count != 1:
            raise AssertionError(f"{mutant.id}: the original text occurs {count} times in"
                                 f" {mutant.file}")
        path.write_text(original.replace(mutant.original, mutant.replacement),
                        encoding="utf-8")
        started = time.monotonic()
        process = pytest(copy, mutant.tests)
        seconds = time.monotonic() - started
    finally:
        path.write_text(original, encoding="utf-8")
        copies.put(copy)
    # Exit 1: a test failed; 2 to 4 (interrupted, internal error, a conftest that cannot be
    # imported): the mutant broke collection. 5 (no tests collected) is no kill.
    killed = process.returncode in (1, 2, 3, 4)
    return Outcome(mutant, killed, seconds, killer(process) if killed else "")


def check_setup(copies: queue.Queue[Path], files: tuple[str, ...]) -> list[str]:
    """The baseline passes and the sentinel is killed; the problems otherwise."""
    copy = copies.get()
    try:
        where = subprocess.run(  # noqa: S603 - our own interpreter, fixed arguments
            [str(PYTHON), "-c", "import mailpage_cli; print(mailpage_cli.__file__)"],
            cwd=copy, env={**os.environ, "PYTHONPATH": str(copy)}, capture_output=True,
            text=True, check=False).stdout.strip()
    finally:
        copies.put(copy)
    problems = []
    if not Path(where).is_relative_to(copy.parent.parent):
        # Any copy will do: all live in the temporary folder, none under ROOT.
        problems.append(f"the package imported from {where}, not from a copy")
    with ThreadPoolExecutor(WORKERS) as pool:
        baseline = pool.submit(_baseline, copies, files) if files else None
        sentinel = pool.submit(try_mutant, SENTINEL, copies)
        if baseline and (result := baseline.result()).returncode != 0:
            problems.append(f"the unmutated tests fail: {last_line(result)}\n{result.stdout}")
        if not sentinel.result().killed:
            problems.append("the sentinel mutant survived: the tests do not import the copy")
    return problems


def _baseline(copies: queue.Queue[Path],
              files: tuple[str, ...]) -> subprocess.CompletedProcess[str]:
    copy = copies.get()
    try:
        return pytest(copy, files)
    finally:
        copies.put(copy)


def out(line: str) -> None:
    sys.stdout.write(line + "\n")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", nargs="+", metavar="ID", help="run only these mutants")
    parser.add_argument("--no-baseline", action="store_true",
                        help="skip the unmutated run (the sentinel still runs)")
    args = parser.parse_args()
    chosen = [m for m in MUTANTS if not args.only or m.id in args.only]
    if unknown := set(args.only or ()) - {m.id for m in MUTANTS}:
        parser.error(f"unknown mutant(s): {', '.join(sorted(unknown))}")

    started = time.monotonic()
    copies: queue.Queue[Path] = queue.Queue()
    made = [make_copy() for _ in range(min(WORKERS, max(len(chosen), 1)))]
    for copy in made:
        copies.put(copy)
    try:
        files = tuple(sorted({f for m in chosen for f in m.tests}))
        problems = check_setup(copies, () if args.no_baseline else files)
        if problems:
            sys.stderr.write("\n".join(problems) + "\n")
            return 2
        with ThreadPoolExecutor(len(made)) as pool:
            outcomes = list(pool.map(lambda m: try_mutant(m, copies), chosen))
    finally:
        for copy in made:
            shutil.rmtree(copy.parent, ignore_errors=True)

    out(f"{'id':<5} {'result':<9} {'secs':>5}  meaning / killed by")
    for o in outcomes:
        out(f"{o.mutant.id:<5} {'killed' if o.killed else 'SURVIVED':<9} {o.seconds:5.1f}"
            f"  {o.mutant.meaning}")
        out(f"{'':<23}{o.detail or ', '.join(o.mutant.tests)}")
    killed = sum(o.killed for o in outcomes)
    out(f"\nmutants {len(outcomes)}, killed {killed}, survived {len(outcomes) - killed}"
          f" ({time.monotonic() - started:.0f} s)")
    return 0 if killed == len(outcomes) else 1


if __name__ == "__main__":
    sys.exit(main())
