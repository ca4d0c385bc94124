"""The store on a hostile disk: a damaged file or a newer schema is refused before anything is
written; `litwatch check` finds damage with SQLite's own checks and makes copies with VACUUM
INTO (never by copying the file); a run killed with kill -9 is seen as interrupted by every
reader; and every storage fault (a full disk, a read-only file, a database locked by another
program, a disk I/O error, a malformed file) is one line that says what to do."""

import fcntl
import hashlib
import json
import os
import resource
import shutil
import signal
import sqlite3
import subprocess
import sys
import threading
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from litwatch import api
from litwatch.cli import cli
from litwatch.lock import LockBusy, RunLock
from litwatch.catalog import open_db

from conftest import FIXTURES, SUBSET

ROOT = Path(__file__).resolve().parents[1]
ONE = FIXTURES / "pubmed-29768149.xml"
GARBAGE = bytes(range(256)) * 16  # 4 KiB


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """A store of the 304 real records of the subset file, made once."""
    path = tmp_path_factory.mktemp("store") / "litwatch.db"
    api.import_paths(path, [SUBSET])
    return path


@pytest.fixture
def store(built, tmp_path):
    """A copy of the store for one test (made with VACUUM INTO, as copies must be)."""
    path = tmp_path / "litwatch.db"
    with sqlite3.connect(built) as conn:
        conn.execute("VACUUM INTO ?", [str(path)])
    return path


def invoke(*args):
    return CliRunner().invoke(cli, [str(a) for a in args])


def one_error(result) -> str:
    """The command's output is one ``Error:`` line; return it."""
    (line,) = result.output.splitlines()
    assert line.startswith("Error: ")
    return line


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _size(path) -> int:
    return Path(path).stat().st_size if Path(path).exists() else 0


def damage(path: Path) -> None:
    """Write 4 KiB of garbage inside the file, across two of its pages."""
    with open(path, "r+b") as f:
        f.seek(path.stat().st_size // 2 + 1000)
        f.write(GARBAGE)


# Damage and newer schemas: refused, with one line, before anything is written.

def test_a_damaged_database_is_refused_before_anything_is_written(store):
    damage(store)
    before = digest(store)
    line = one_error(invoke("--db", store, "import", ONE))
    assert "is damaged" in line and "quick_check" in line and "nothing was written" in line
    assert digest(store) == before and not _size(f"{store}-wal")
    result = invoke("--db", store, "check")  # the full check names it too
    assert result.exit_code == 1 and "is damaged: SQLite's integrity_check found" in one_error(result)


def test_a_reader_meeting_the_damage_says_so_in_one_line(store):
    with sqlite3.connect(store) as conn:  # the page of the runs table (SQLite's dbstat says which)
        (page,) = conn.execute("SELECT max(pageno) FROM dbstat WHERE name = 'runs'").fetchone()
    with open(store, "r+b") as f:
        f.seek((page - 1) * 4096)
        f.write(GARBAGE)
    result = invoke("--db", store, "runs")
    assert result.exit_code == 1
    line = one_error(result)
    assert "is damaged (database disk image is malformed)" in line and "litwatch check" in line


def test_a_database_whose_schema_a_newer_litwatch_changed_is_refused(store):
    with sqlite3.connect(store) as conn:  # as a newer schema renaming a column, same user_version
        conn.execute("ALTER TABLE trials RENAME COLUMN phases TO phase_list")
    before = digest(store)
    line = one_error(invoke("--db", store, "import", ONE))
    assert "table trials has column(s) phase_list this litwatch does not know and lacks phases" in line
    assert digest(store) == before
    assert "phase_list" in one_error(invoke("--db", store, "runs"))  # readers too
    result = invoke("--db", store, "check")
    assert result.exit_code == 1 and "phase_list" in one_error(result)


def test_a_column_this_litwatch_adds_is_still_created(store):
    """Only unknown columns refuse a database: one this litwatch declares and the file lacks
    is added, as a newer litwatch's new column always was."""
    with sqlite3.connect(store) as conn:
        conn.execute("ALTER TABLE article_mesh DROP COLUMN qualifiers")
    assert invoke("--db", store, "import", ONE).exit_code == 0
    assert "qualifiers" in [r[1] for r in sqlite3.connect(store).execute("PRAGMA table_info(article_mesh)")]


def test_a_device_or_a_pipe_as_the_database_is_refused_before_anything_is_made(tmp_path):
    pipe = tmp_path / "litwatch.db"
    os.mkfifo(pipe)
    result = invoke("--db", pipe, "import", ONE)
    assert result.exit_code == 2 and "is a named pipe, not a database file" in one_error(result)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["litwatch.db"]  # no lock, no journal beside it
    result = invoke("--db", "/dev/zero", "import", ONE)
    assert result.exit_code == 2 and "/dev/zero is a device, not a database file" in one_error(result)
    assert not Path("/dev/zero.lock").exists() and not Path("/dev/zero-journal").exists()


# litwatch check and copies.

def test_check_says_a_sound_store_is_sound(store):
    result = invoke("--db", store, "check")
    assert result.exit_code == 0
    assert f"{store}: sound (integrity_check: ok; foreign keys: ok; schema version" in result.output
    found = json.loads(invoke("--db", store, "check", "--quick", "--json").output)
    assert (found["sound"], found["check"], found["problems"], found["schema"]) == (True, "quick_check", [], None)


def test_check_finds_a_broken_foreign_key(store):
    with sqlite3.connect(store) as conn:
        conn.execute("INSERT INTO article_mesh (pmid, position, descriptor_name) VALUES (1, 0, 'Orphans')")
    result = invoke("--db", store, "check")
    assert result.exit_code == 1 and "article_mesh row" in one_error(result) and "no articles row" in result.output


def pending_wal(path: Path) -> sqlite3.Connection:
    """A connection that wrote rows still only in the write-ahead log (never checkpointed),
    as a run killed mid-way, or a database copied while in use, leaves them."""
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")  # as litwatch opens it
    conn.execute("PRAGMA wal_autocheckpoint = 0")
    conn.execute("INSERT INTO settings (key, value) VALUES ('wal-only', 'committed')")
    assert Path(f"{path}-wal").stat().st_size > 0
    return conn


def test_the_backup_holds_what_the_write_ahead_log_holds(store, tmp_path):
    writer = pending_wal(store)
    copy = tmp_path / "artifact" / "litwatch.db"
    result = invoke("--db", store, "check", "--quick", "--backup", copy)
    assert result.exit_code == 0 and f"copy written to {copy}" in result.output
    assert sorted(p.name for p in copy.parent.iterdir()) == ["litwatch.db"]  # one file, no -wal needed
    conn = sqlite3.connect(copy)
    assert conn.execute("SELECT value FROM settings WHERE key = 'wal-only'").fetchone() == ("committed",)
    assert conn.execute("SELECT count(*) FROM articles").fetchone() == (304,)
    assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    # What copying the file instead gives: the committed row is missing.
    shutil.copy(store, tmp_path / "file-copy.db")
    assert not sqlite3.connect(tmp_path / "file-copy.db").execute(
        "SELECT 1 FROM settings WHERE key = 'wal-only'").fetchone()
    writer.close()


def test_a_damaged_store_makes_no_copy_and_keeps_the_last_one(store, tmp_path):
    copy = tmp_path / "copy.db"
    assert invoke("--db", store, "check", "--backup", copy).exit_code == 0
    kept = digest(copy)
    damage(store)
    result = invoke("--db", store, "check", "--backup", copy)
    assert result.exit_code == 1 and one_error(result).endswith(f"(no copy was written to {copy})")
    assert digest(copy) == kept and sorted(p.name for p in tmp_path.iterdir() if "copy" in p.name) == ["copy.db"]


def test_the_nightly_workflow_uploads_a_checked_copy_not_the_file():
    workflow = yaml.safe_load((ROOT / "docs" / "github-actions-nightly.yml").read_text())
    steps = workflow["jobs"]["update"]["steps"]
    (upload,) = [s for s in steps if s.get("uses", "").startswith("actions/upload-artifact")]
    uploaded = upload["with"]["path"]
    (copying,) = [s for s in steps if "litwatch check" in s.get("run", "")]
    assert f"--backup {uploaded}" in copying["run"] and copying.get("if") == "always()"
    assert steps.index(copying) < steps.index(upload) and not uploaded.startswith("data/")


# A killed run, seen by every reader.

WRITER = """
import sys, time
from litwatch.api import writing
from litwatch.runs import start_run
with writing(sys.argv[1]) as conn:
    start_run(conn, topic="ketamine-ptsd", source="pubmed", kind="fetch", params={})
    print("running", flush=True)
    time.sleep(120)
"""


def statuses(path) -> list[str]:
    return [r["status"] for r in json.loads(invoke("--db", path, "runs", "--json").stdout)]


def test_a_run_killed_with_kill_9_is_seen_as_interrupted_by_readers(store):
    writer = subprocess.Popen([sys.executable, "-c", WRITER, str(store)], stdout=subprocess.PIPE, text=True)
    try:
        assert writer.stdout.readline() == "running\n"
        assert statuses(store)[0] == "running"  # a live writer's run is running
    finally:
        writer.send_signal(signal.SIGKILL)
        writer.wait(10)
    assert statuses(store)[0] == "interrupted"  # no writer since: the reader sees and records it
    (gap,) = api.open_gaps(store)
    assert gap["source"] == "pubmed" and "did not finish: the process ended before the run finished" in gap["text"]
    data = json.loads(invoke("--db", store, "report", "--format", "json").stdout)
    assert data["basis"]["sources"]["pubmed"]["last_attempt"]["status"] == "interrupted"


def test_a_reader_that_cannot_write_still_shows_the_run_as_interrupted(store, monkeypatch, caplog):
    with sqlite3.connect(store) as conn:  # a run a dead process left; no writer holds the lock
        conn.execute("INSERT INTO runs (topic, source, kind, started_at, status) VALUES ('ketamine-ptsd', 'pubmed', "
                     "'fetch', '2026-01-01T00:00:00Z', 'running')")

    def read_only(*args, **kwargs):
        raise sqlite3.OperationalError("attempt to write a readonly database")
    monkeypatch.setattr("litwatch.api.open_db", lambda path, readonly=False, **kw: (
        open_db(path, readonly=True) if readonly else read_only()))
    rows = api.list_runs(store)
    assert (rows[0]["status"], rows[0]["error"]) == ("interrupted", "the process ended before the run finished")
    assert "shown as interrupted" in caplog.text
    assert sqlite3.connect(store).execute("SELECT count(*) FROM runs WHERE status = 'running'").fetchone() == (1,)


def test_a_reader_looking_at_the_lock_never_makes_a_writer_give_up(tmp_path):
    """A reader asks whether a writer is alive with a shared lock held for an instant; a writer
    starting in that instant (without --wait) waits for it instead of exiting 75."""
    db = tmp_path / "litwatch.db"
    looking = open(f"{db}.lock", "w")
    fcntl.flock(looking, fcntl.LOCK_SH)
    threading.Timer(0.2, looking.close).start()
    with RunLock(db, wait=0):
        pass


@pytest.mark.slow
def test_the_lock_files_holder_is_read_with_a_bound(tmp_path):
    db = tmp_path / "litwatch.db"
    with RunLock(db):
        with open(f"{db}.lock", "a") as f:
            f.write("x" * (4 << 20))
        with pytest.raises(LockBusy) as e:
            with RunLock(db):
                pass
    assert "another litwatch run (pid" in str(e.value) and len(str(e.value)) < 400


# Storage faults: one line each, saying what to do.

def test_a_full_disk_is_said_plainly(store, monkeypatch):
    from litwatch.catalog import open_db as real

    def small_disk(path, **kwargs):  # SQLite's own "database or disk is full", a few pages on
        conn = real(path, **kwargs)
        pages = conn.execute("PRAGMA page_count").fetchone()[0]
        conn.execute(f"PRAGMA max_page_count = {pages + 4}")
        return conn
    monkeypatch.setattr("litwatch.api.open_db", small_disk)
    before = sqlite3.connect(store).execute("SELECT count(*) FROM trials").fetchone()
    monkeypatch.delenv("LITWATCH_DEBUG")  # as a user runs it: the import step contains the fault
    result = invoke("--db", store, "import", FIXTURES / "ctg-studies_dtx_psychiatric.json")
    assert result.exit_code == 1
    errors = [line for line in result.output.splitlines() if line.startswith("Error:")]
    assert errors and all("unexpected" not in line for line in errors)
    assert "the disk holding the database is full (database or disk is full): free some space" in errors[0]
    assert sqlite3.connect(store).execute("SELECT count(*) FROM trials").fetchone() == before
    monkeypatch.setenv("LITWATCH_DEBUG", "1")  # raised to the command itself: the same line
    result = invoke("--db", store, "import", FIXTURES / "ctg-studies_dtx_psychiatric.json")
    assert result.exit_code == 1 and f"the disk holding the database {store} is full" in one_error(result)


def test_a_read_only_database_is_said_plainly(store, monkeypatch):
    connect = sqlite3.connect

    def read_only(path, *args, **kwargs):  # SQLite's own refusal, as for a file it may not write
        if kwargs.get("uri"):
            return connect(path, *args, **kwargs)
        return connect(f"{Path(path).resolve().as_uri()}?mode=ro", *args, uri=True, **kwargs)
    monkeypatch.setattr(sqlite3, "connect", read_only)
    result = invoke("--db", store, "import", ONE)
    assert result.exit_code == 1
    line = one_error(result)
    assert f"the database {store} cannot be written (attempt to write a readonly database)" in line
    assert "make the file and its folder writable" in line


def test_a_database_locked_by_another_program_is_said_plainly(store, monkeypatch):
    monkeypatch.setattr("litwatch.store.db.BUSY_TIMEOUT_MS", 100)
    other = sqlite3.connect(store, isolation_level=None)  # an sqlite3 shell in a write transaction
    other.execute("BEGIN IMMEDIATE")
    try:
        result = invoke("--db", store, "import", ONE)
    finally:
        other.execute("ROLLBACK")
        other.close()
    assert result.exit_code == 75  # try again later, as with another litwatch run
    assert f"the database {store} is locked by another program (database is locked): close" in one_error(result)


def test_a_disk_io_error_is_said_plainly(store):
    """A real write error: the process may not grow a file past 1 MB (the write-ahead log fails
    to grow), in a process of its own, as a user runs it."""
    limit = 1 << 20

    def small_files():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
    env = {k: v for k, v in os.environ.items() if k != "LITWATCH_DEBUG"}
    result = subprocess.run([sys.executable, "-m", "litwatch", "--db", str(store), "import",
                             str(FIXTURES / "ctg-studies_dtx_psychiatric.json")],
                            preexec_fn=small_files, capture_output=True, text=True, env=env, timeout=120)
    assert result.returncode == 1
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
    assert errors and all("unexpected" not in line for line in errors)
    assert "a disk I/O error on the database (disk I/O error): check the disk" in errors[0]
    assert sqlite3.connect(store).execute("PRAGMA integrity_check").fetchone() == ("ok",)
