import fcntl
import os
import shutil
import time
from contextlib import contextmanager
from pathlib import Path

import pytest

from litwatch.sources import get as source
from litwatch.catalog import open_db
from litwatch.store import query
from litwatch.sync import fetch_topic

FIXTURES = Path(__file__).parent / "fixtures"
SUBSET = FIXTURES / "pubmed21n1298_subset_ketamine_ptsd_ctgov.xml.gz"


@pytest.fixture(autouse=True)
def bugs_fail_tests(monkeypatch):
    """An unexpected exception propagates with its traceback instead of becoming one line of
    output, so a bug fails the test that meets it (tests of that containment unset this)."""
    monkeypatch.setenv("LITWATCH_DEBUG", "1")


@pytest.fixture
def db(tmp_path):
    database = open_db(tmp_path / "litwatch.db")
    yield database
    database.close()


@pytest.fixture(scope="session")
def real_records():
    from eutils_standin import load_records
    return load_records()


def pytest_collection_modifyitems(items):
    """Start the tests marked slow first: spread over the workers (``pytest -n 2``), they run
    beside the quick ones instead of after them, and the run ends when the quick ones do."""
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)


# Stores several modules need, built once per test run (by whichever worker of ``pytest -n``
# asks first, the others wait for it) and copied by each test that changes one.

@pytest.fixture(scope="session")
def prebuilt(tmp_path_factory):
    """``prebuilt(name, build)``: the folder where ``build(folder)`` made the store ``name``
    (its database and what the run that made it left beside it), made once per test run."""
    base = tmp_path_factory.getbasetemp()
    root = (base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base) / "prebuilt"
    root.mkdir(exist_ok=True)

    def get(name: str, build) -> Path:
        folder = root / name
        with open(root / f"{name}.building", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)  # one builder; the others wait, then use its store
            if not (root / f"{name}.done").exists():
                shutil.rmtree(folder, ignore_errors=True)  # a builder that failed halfway
                folder.mkdir()
                build(folder)
                (root / f"{name}.done").touch()
        return folder
    return get


def copy_store(folder: Path, to: Path) -> Path:
    """Copy a prebuilt store's files (closed: no write-ahead log) into the folder ``to``;
    return the database's path there."""
    to.mkdir(parents=True, exist_ok=True)
    for path in folder.iterdir():
        shutil.copyfile(path, to / path.name)
    return to / "litwatch.db"


@pytest.fixture(scope="session")
def dtx_store(prebuilt):
    """The 304 PubMed records of the subset file and the 128 recorded ClinicalTrials.gov
    studies, imported for the digital-therapeutics topic of test_report.py."""
    def build(folder):
        from litwatch import api
        from test_report import CONFIG, DTX, STUDIES
        api.import_paths(folder / "litwatch.db", [SUBSET, STUDIES], CONFIG, topic=DTX.name)
    return prebuilt("dtx", build)


@pytest.fixture
def smtp():
    """A real SMTP server (aiosmtpd) on 127.0.0.1: (its controller, the inbox of what it accepted)."""
    from aiosmtpd.controller import Controller

    from smtp_servers import Inbox, free_port

    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    yield controller, inbox
    controller.stop()


@pytest.fixture
def no_sleep(monkeypatch):
    """Record the delays the HTTP layer asks for instead of waiting them out."""
    slept = []
    monkeypatch.setattr("litwatch.http.time.sleep", slept.append)
    return slept


def _waits(pid) -> dict[str, int]:
    """Nanoseconds each thread of process ``pid`` has spent runnable but waiting for a CPU
    (Linux's /proc/PID/task/TID/schedstat); empty where that cannot be read."""
    waits = {}
    try:
        tids = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return waits
    for tid in tids:
        try:
            with open(f"/proc/{pid}/task/{tid}/schedstat") as f:
                waits[tid] = int(f.read().split()[1])
        except (OSError, IndexError, ValueError):
            pass
    return waits


def _steal() -> float:
    """Seconds per CPU that the host of this virtual machine has given its CPUs to others."""
    try:
        with open("/proc/stat") as f:
            return int(f.readline().split()[8]) / os.sysconf("SC_CLK_TCK") / (os.cpu_count() or 1)
    except (OSError, IndexError, ValueError):
        return 0.0


@contextmanager
def within(seconds, *, process=None):
    """Fail if the block takes longer than ``seconds`` of its own time.

    Time the work was kept from a CPU meanwhile is not counted: the waits of this process's
    threads (and of ``process``, a child the block ends, read before it is reaped: see
    :func:`exited`) for a CPU other programs held, and the time the host of a virtual machine
    gave the CPUs to others. So on an idle machine the bound is exactly ``seconds``, and a
    deadline the code kept does not fail on a loaded one."""
    pids = ["self"] + ([process.pid] if process is not None else [])
    before, steal, start = [_waits(pid) for pid in pids], _steal(), time.monotonic()
    yield
    elapsed = time.monotonic() - start
    after = [_waits(pid) for pid in pids]
    waited = sum(n - was.get(tid, 0) for was, now in zip(before, after, strict=True) for tid, n in now.items()) / 1e9
    waited += _steal() - steal
    assert elapsed - waited < seconds, f"took {elapsed:.2f} s ({waited:.2f} s of it waiting for a CPU)"


def exited(process, timeout: float = 10) -> None:
    """Wait until a child process has ended, without reaping it (so :func:`within` can still
    read its counters); fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while os.waitid(os.P_PID, process.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is None:
        assert time.monotonic() < deadline, f"process {process.pid} still running after {timeout} s"
        time.sleep(0.005)


# Small readers of a litwatch database, so tests read like the questions they ask.

def count(db, table: str) -> int:
    return db.execute(f"SELECT count(*) FROM [{table}]").fetchone()[0]


def get(db, table: str, key) -> dict:
    """The row of ``table`` whose primary key is ``key``."""
    pk = {"articles": "pmid", "trials": "nct_id", "runs": "id"}[table]
    rows = query(db, f"SELECT * FROM [{table}] WHERE {pk} = ?", [key])
    assert rows, f"no {table} row {key}"
    return rows[0]


def rows(db, table: str) -> list[dict]:
    return query(db, f"SELECT * FROM [{table}]")


def search(db, table: str, q: str) -> list[dict]:
    """Full-text search, as Datasette's search box runs it."""
    key = {"articles": "pmid", "trials": "nct_id"}[table]
    return query(db, f"SELECT t.* FROM [{table}] t JOIN [{table}_fts] f ON f.rowid = t.rowid "
                     f"WHERE [{table}_fts] MATCH ? ORDER BY f.rank, t.{key}", [q])


def fetch_pubmed(db, config, topic, **kwargs):
    return fetch_topic(db, config, source("pubmed"), topic, **kwargs)


def fetch_ctgov(db, config, topic, **kwargs):
    return fetch_topic(db, config, source("ctgov"), topic, **kwargs)
