"""The state file's weak spots (issue 17): a clear error, nothing lost, nothing half-written.

The ledger is what makes runs exactly-once, and it sits on a disk leadsync does not
control. Whatever happens to that file (it is something else, it is from a newer leadsync,
the disk fills up, it turns read-only), every command ends with one ``leadsync: ...`` line
naming the file and an exit code the README documents, never a traceback; the file is left
as it was (or as its last complete transaction left it); and once the cause is fixed the
next run completes with every response applied exactly once.

All through the CLI against the sandbox, as an admin's scheduler would run it.
"""

from __future__ import annotations

import hashlib
import os
import sqlite3
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import sqlite_utils
from click.testing import CliRunner, Result

from connector.adapters.sqlite import ledger as ledger_module
from connector.adapters.sqlite.ledger import State
from connector.adapters.sqlite.schema import ADDED_COLUMNS, SCHEMA_VERSION
from connector.cli import main
from connector.sandbox import Sandbox
from sync_helpers import Org

ROOT = Path(__file__).resolve().parent.parent

COMMANDS = [["sync"], ["sync", "--dry-run"], ["status"], ["retry"], ["reconcile"],
            ["daemon", "--once"]]
WRITERS = [["sync"], ["retry"], ["daemon", "--once"]]


@pytest.fixture
def org(tmp_path):
    with Sandbox(token="00Dsandbox!TOKEN") as sb:
        o = Org(sb, tmp_path / "state" / "leadsync.db")
        o.add_forms(1)
        yield o


@pytest.fixture
def config(org, tmp_path):
    return org.write_config(tmp_path / "leadsync.toml")


def run(org: Org, config: Path, args: list[str]) -> Result:
    return CliRunner().invoke(main, [*args, "--config", str(config)], env=org.env())


def assert_one_line_error(result: Result, *words: str, code: int = 1) -> str:
    """Ended by a ``leadsync: ...`` line on stderr and ``code``; no traceback."""
    assert result.exception is None or isinstance(result.exception, SystemExit), (
        f"escaped: {result.exception!r}\n{result.output}")
    assert result.exit_code == code, result.output
    assert "Traceback" not in result.output
    lines = result.stderr.strip().splitlines()
    assert lines, result.output
    last = lines[-1]
    assert last.startswith("leadsync: "), result.output
    for word in words:
        assert word in last, last
    return last


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def ledger_rows(path: Path) -> list[dict[str, Any]]:
    state = State.open_read_only(path)
    try:
        return state.rows()
    finally:
        state.close()


def fill(org: Org, n: int, prefix: str = "p") -> list[str]:
    emails = [f"{prefix}{i}@example.com" for i in range(n)]
    for email in emails:
        org.fill(0, email, lastname=email.split("@")[0].title(), company="Acme")
    return emails


def assert_each_applied_once(org: Org, emails: list[str]) -> None:
    """Every response applied, each person one Lead: nothing lost, nothing doubled."""
    for email in emails:
        assert len(org.leads(email)) == 1, email
    rows = ledger_rows(org.state_path)
    assert {r["email"] for r in rows} >= set(emails)
    assert {r["status"] for r in rows} == {"applied"}, [r["status"] for r in rows]


# -- 1. a state file that is not SQLite -------------------------------------------------------


@pytest.mark.parametrize("args", COMMANDS, ids=" ".join)
def test_a_state_file_that_is_not_sqlite_is_refused_untouched(org, config, args):
    fill(org, 1)
    org.state_path.parent.mkdir(parents=True)
    org.state_path.write_text("[state]\npath = 'oops, this is the config'\n" * 50)
    before = digest(org.state_path)
    result = run(org, config, args)
    line = assert_one_line_error(result, str(org.state_path), "not a leadsync state file")
    assert "[state] path" in line
    assert digest(org.state_path) == before
    assert not org.leads()
    assert sorted(p.name for p in org.state_path.parent.iterdir()) == ["leadsync.db"]


# -- 2. a state file from a newer leadsync; an older one upgraded in one transaction -------------


def _set_version(path: Path, version: str) -> None:
    conn = sqlite3.connect(path)
    with conn:
        conn.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'", [version])
    conn.close()


@pytest.mark.parametrize("args", COMMANDS, ids=" ".join)
def test_a_state_file_from_a_newer_leadsync_is_refused_untouched(org, config, args):
    fill(org, 1, "first")
    assert run(org, config, ["sync"]).exit_code == 0
    _set_version(org.state_path, str(SCHEMA_VERSION + 1))
    fill(org, 1, "second")
    before = digest(org.state_path)
    result = run(org, config, args)
    assert_one_line_error(result, str(org.state_path), "newer leadsync", "upgrade leadsync",
                          f"version {SCHEMA_VERSION + 1}")
    assert digest(org.state_path) == before
    assert not org.leads("second0@example.com")


def test_an_unreadable_schema_version_is_taken_as_newer(org, config):
    assert run(org, config, ["sync"]).exit_code == 0
    _set_version(org.state_path, "2.0-beta")
    before = digest(org.state_path)
    assert_one_line_error(run(org, config, ["sync"]), "newer leadsync", "unrecognised version")
    assert digest(org.state_path) == before


def _old_state_file(path: Path) -> None:
    """A state file as the first release wrote it: no later columns, no recorded version."""
    path.parent.mkdir(parents=True, exist_ok=True)
    db = sqlite_utils.Database(path)
    db["ledger"].create({
        "conversion_id": str, "form_id": str, "submitted_at": int, "email": str,
        "campaign_id": str, "action": str, "status": str, "lead_id": str, "contact_id": str,
        "member_id": str, "member_existed": int, "reason": str, "error_code": str, "error": str,
        "attempts": int, "run_id": str, "first_seen_at": str, "updated_at": str,
    }, pk="conversion_id")
    db["watermarks"].create({"form_id": str, "submitted_at": int, "updated_at": str,
                             "run_id": str}, pk="form_id")
    db["runs"].create({
        "id": str, "started_at": str, "finished_at": str, "method": str, "dry_run": int,
        "status": str, "pulled": int, "skipped": int, "created_leads": int, "attached": int,
        "already_member": int, "failed": int, "sf_calls": int, "hs_calls": int,
        "api_used": int, "api_limit": int, "error": str,
    }, pk="id")
    db.conn.close()


def _shape(path: Path) -> dict[str, set[str]]:
    db = sqlite_utils.Database(sqlite3.connect(f"file:{path}?mode=ro", uri=True))
    try:
        return {t: set(db[t].columns_dict) for t in db.table_names()}
    finally:
        db.conn.close()


def test_an_upgrade_cut_short_leaves_the_older_file_as_it_was(org, config, monkeypatch):
    _old_state_file(org.state_path)
    emails = fill(org, 2)
    before, shape = digest(org.state_path), _shape(org.state_path)
    real_add_column = sqlite_utils.db.Table.add_column
    added: list[str] = []

    def add_column_until_the_disk_fills(self: Any, name: str, *args: Any, **kwargs: Any) -> Any:
        if len(added) == 3:                   # half way through the new columns
            raise sqlite3.OperationalError("database or disk is full")
        added.append(name)
        return real_add_column(self, name, *args, **kwargs)

    monkeypatch.setattr(sqlite_utils.db.Table, "add_column", add_column_until_the_disk_fills)
    assert_one_line_error(run(org, config, ["sync"]), str(org.state_path), "disk is full")
    assert len(added) == 3
    assert digest(org.state_path) == before         # not one of the three columns stayed
    assert _shape(org.state_path) == shape
    assert not org.leads()

    monkeypatch.setattr(sqlite_utils.db.Table, "add_column", real_add_column)
    assert run(org, config, ["sync"]).exit_code == 0   # the space is back: upgraded, synced
    upgraded = _shape(org.state_path)
    for table, columns in ADDED_COLUMNS.items():
        assert set(columns) <= upgraded[table]
    conn = sqlite3.connect(org.state_path)
    assert conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone() == (
        str(SCHEMA_VERSION),)
    conn.close()
    assert_each_applied_once(org, emails)


# -- 3. disk full, read-only -------------------------------------------------------------------


class _FillingDisk:
    """A connection whose disk fills up at a moment the test picks, and stays full: every
    write after it fails as SQLite's own would ("database or disk is full")."""

    WRITES = {"INSERT", "UPDATE", "DELETE", "CREATE", "REPLACE", "ALTER", "COMMIT"}

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn
        self.full = False

    def __getattr__(self, name: str) -> Any:
        return getattr(self._conn, name)

    def _check(self, sql: str) -> None:
        if self.full and sql.split(None, 1)[0].upper() in self.WRITES:
            raise sqlite3.OperationalError("database or disk is full")

    def execute(self, sql: str, *args: Any) -> Any:
        self._check(sql)
        return self._conn.execute(sql, *args)

    def executemany(self, sql: str, *args: Any) -> Any:
        self._check(sql)
        return self._conn.executemany(sql, *args)


def test_a_disk_that_fills_at_record_outcomes_loses_nothing(org, config, monkeypatch):
    emails = fill(org, 5)
    real_connect = sqlite3.connect
    disks: list[_FillingDisk] = []

    def connect(*args: Any, **kwargs: Any) -> Any:
        disks.append(_FillingDisk(real_connect(*args, **kwargs)))
        return disks[-1]

    real_record = State.record_outcomes

    def record_outcomes(self: State, *args: Any, **kwargs: Any) -> None:
        self.db.conn.full = True              # the Leads are written; their outcomes are not
        real_record(self, *args, **kwargs)

    monkeypatch.setattr(ledger_module.sqlite3, "connect", connect)
    monkeypatch.setattr(State, "record_outcomes", record_outcomes)
    assert_one_line_error(run(org, config, ["sync"]), str(org.state_path), "disk is full",
                          "run again")
    assert len(org.leads()) == 5              # Salesforce has them...
    rows = ledger_rows(org.state_path)        # ...and the ledger still says "about to"
    assert sorted(r["email"] for r in rows) == emails
    assert {r["status"] for r in rows} == {"pending"}
    state = State.open_read_only(org.state_path)
    assert state.watermarks() == {}           # the watermark did not pass them
    state.close()

    monkeypatch.undo()                         # space is back
    assert run(org, config, ["sync"]).exit_code == 0
    assert_each_applied_once(org, emails)


_FULL_DISK_RUN = """
import resource, signal, sys
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)   # a write past the limit fails with EFBIG
limit = int(sys.argv.pop(1))
resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
from connector.cli import main
main(prog_name="leadsync")
"""


def _leadsync_with_file_limit(limit: int, args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", _FULL_DISK_RUN, str(limit), *args],
                          env=env, cwd=ROOT, capture_output=True, text=True, timeout=120)


def test_a_really_full_disk_mid_run_ends_cleanly_and_the_next_run_completes(org, tmp_path):
    """No simulation: the process may not grow any file past a size (RLIMIT_FSIZE), as on a
    full disk, so SQLite's own writes fail wherever the run's data first outgrows it (with
    these sizes, a few batches in: after some Leads were written)."""
    config = org.write_config(tmp_path / "leadsync.toml", sync={"batch_size": 100})
    first = fill(org, 1, "first")
    env = org.env({**os.environ, "PYTHONDONTWRITEBYTECODE": "1"})
    done = _leadsync_with_file_limit(2 ** 30, ["sync", "--config", str(config)], env)
    assert done.returncode == 0, done.stderr
    emails = first + fill(org, 600)
    # Room for the WAL index (32 KiB) and a few batches' log, not for the whole run.
    full = _leadsync_with_file_limit(400 * 1024, ["sync", "--config", str(config)], env)
    assert full.returncode == 1, full.stdout + full.stderr
    assert "Traceback" not in full.stderr
    # When the write that failed was the last one the disk refused, the engine still records
    # the run as aborted and its report ends with the error ("stopped: ..."); when the disk
    # refuses that too, the CLI ends with it ("leadsync: ..."). Which one depends on how the
    # log's pages fall; both are one line naming the file, and exit 1.
    errors = full.stderr.strip().splitlines()
    last = errors[-1] if errors else full.stdout.strip().splitlines()[-1].strip()
    message = f"cannot write the state file {org.state_path}: the disk "
    assert last.startswith((f"leadsync: {message}", f"stopped: {message}")), full.stdout + full.stderr
    assert "run again" in last and "nothing lost or applied twice" in last
    rows = ledger_rows(org.state_path)
    assert all(r["status"] in ("applied", "pending") for r in rows)
    assert 1 < len(org.leads()) < len(emails)     # it stopped part way, after some writes

    again = _leadsync_with_file_limit(2 ** 30, ["sync", "--config", str(config)], env)
    assert again.returncode == 0, again.stdout + again.stderr
    assert_each_applied_once(org, emails)


def _read_only_connections(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every state file opens as a read-only file does, so a write fails with SQLite's own
    "attempt to write a readonly database": for a test run as root, whom no chmod stops.
    (``PRAGMA query_only`` would refuse the dry run's TEMP stage too; a read-only file does not.)"""
    real_connect = sqlite3.connect

    def connect(database: Any, *args: Any, **kwargs: Any) -> sqlite3.Connection:
        if not kwargs.get("uri") and str(database) != ":memory:":
            database, kwargs = f"file:{database}?mode=ro", {**kwargs, "uri": True}
        return real_connect(database, *args, **kwargs)

    monkeypatch.setattr(ledger_module.sqlite3, "connect", connect)


@pytest.mark.parametrize("args", COMMANDS, ids=" ".join)
def test_a_read_only_state_stops_writers_clearly_and_readers_still_read(org, config, monkeypatch,
                                                                      args):
    first = fill(org, 1, "first")
    assert run(org, config, ["sync"]).exit_code == 0
    fill(org, 2)
    before = digest(org.state_path)
    _read_only_connections(monkeypatch)
    result = run(org, config, args)
    if args[0] == "daemon":                 # the daemon says it in its own log, then exits 1
        assert result.exit_code == 1 and "Traceback" not in result.output, result.output
        failed = [line for line in result.output.splitlines() if "run failed:" in line]
        assert failed and all(w in failed[0] for w in (str(org.state_path), "read-only", "writable"))
        assert len(org.leads()) == 1
    elif args in WRITERS:
        assert_one_line_error(result, str(org.state_path), "read-only", "writable")
        assert len(org.leads()) == 1        # stopped before any write to Salesforce
    else:                                   # a dry run's plan, status, reconcile's drift
        assert result.exception is None or isinstance(result.exception, SystemExit), result.output
        assert result.exit_code in (0, 3), result.output
    assert digest(org.state_path) == before
    monkeypatch.undo()
    assert run(org, config, ["sync"]).exit_code == 0
    assert_each_applied_once(org, first + [f"p{i}@example.com" for i in range(2)])


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes whatever the permissions say")
@pytest.mark.parametrize("args", WRITERS, ids=" ".join)
def test_a_state_file_chmod_read_only_stops_writers_clearly(org, config, args):
    """The real thing, for a non-root user (as root: ``unshare -U python -m pytest ...``
    runs the suite without root's override of permissions)."""
    assert run(org, config, ["sync"]).exit_code == 0
    emails = fill(org, 2)
    folder = org.state_path.parent
    org.state_path.chmod(stat.S_IRUSR)
    folder.chmod(stat.S_IRUSR | stat.S_IXUSR)
    try:
        assert_one_line_error(run(org, config, args), str(org.state_path), "read-only",
                              "writable")
        assert not org.leads()
    finally:
        folder.chmod(stat.S_IRWXU)
        org.state_path.chmod(stat.S_IRUSR | stat.S_IWUSR)
    assert run(org, config, ["sync"]).exit_code == 0
    assert_each_applied_once(org, emails)


# -- 4. the HTML status report is owner-only ------------------------------------------------


def test_the_html_status_report_is_written_owner_only(org, config, tmp_path):
    fill(org, 2)
    assert run(org, config, ["sync"]).exit_code == 0
    fresh, existing = tmp_path / "fresh.html", tmp_path / "existing.html"
    existing.write_text("an older report, readable by all")
    existing.chmod(0o644)
    old_umask = os.umask(0o022)
    try:
        for report in (fresh, existing):
            result = run(org, config, ["status", "--html", str(report)])
            assert result.exit_code == 0, result.output
            assert stat.S_IMODE(report.stat().st_mode) == 0o600, report
            assert report.read_text(encoding="utf-8").startswith("<!doctype html>")
            # the last run's row, whole: 2 pulled, 2 Leads created
            assert '<td class="n">2</td><td class="n">2</td>' in report.read_text(encoding="utf-8")
    finally:
        os.umask(old_umask)
    assert sorted(p.name for p in tmp_path.iterdir() if p.suffix == ".tmp") == []


# -- 5. an environment error escaping a command is one line; a bug keeps its traceback --------


def test_a_report_to_a_missing_folder_is_one_line(org, config, tmp_path):
    assert run(org, config, ["sync"]).exit_code == 0
    report = tmp_path / "no such folder" / "status.html"
    last = assert_one_line_error(run(org, config, ["status", "--html", str(report)]),
                                 "No such file or directory", str(report))
    assert last == f"leadsync: No such file or directory: {report}"


@pytest.mark.parametrize("error, expected", [
    (sqlite3.OperationalError("disk I/O error"), "leadsync: SQLite error: disk I/O error"),
    (PermissionError(13, "Permission denied", "/srv/leadsync"),
     "leadsync: Permission denied: /srv/leadsync"),
    (OSError(28, "No space left on device"), "leadsync: No space left on device"),
], ids=["sqlite3", "permission", "no-space"])
def test_an_environment_error_escaping_a_command_is_one_line(org, config, monkeypatch, error,
                                                             expected):
    import connector.commands.status as status_command

    def gather(*args: Any, **kwargs: Any) -> Any:
        raise error

    monkeypatch.setattr(status_command, "gather", gather)
    assert assert_one_line_error(run(org, config, ["status"])) == expected


def test_a_bug_still_shows_its_traceback(org, config, monkeypatch):
    import connector.commands.status as status_command

    def gather(*args: Any, **kwargs: Any) -> Any:
        raise KeyError("a bug in leadsync")

    monkeypatch.setattr(status_command, "gather", gather)
    result = run(org, config, ["status"])
    assert isinstance(result.exception, KeyError)    # not swallowed: CliRunner caught it
    assert result.exc_info is not None and result.exc_info[2] is not None
    assert "leadsync:" not in result.output
    proc = subprocess.run([sys.executable, "-c",
                           "import connector.commands.status as s\n"
                           "def gather(*a, **k): raise KeyError('a bug in leadsync')\n"
                           "s.gather = gather\n"
                           "from connector.cli import main\nmain(prog_name='leadsync')",
                           "status", "--config", str(config)],
                          env=org.env(dict(os.environ)), cwd=ROOT, capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 1
    assert "Traceback (most recent call last)" in proc.stderr
    assert proc.stderr.strip().splitlines()[-1] == "KeyError: 'a bug in leadsync'"


def test_a_state_file_never_initialised_reads_as_empty(tmp_path):
    """A first run that died between creating the file and writing its schema (a full disk)
    leaves an empty file: status and dry runs read it as an empty ledger, untouched."""
    from connector.adapters.sqlite.ledger import State

    path = tmp_path / "leadsync.db"
    path.touch()
    state = State.open_read_only(path)
    try:
        assert state.rows("pending") == [] and state.watermarks() == {}
    finally:
        state.close()
    assert path.stat().st_size == 0
