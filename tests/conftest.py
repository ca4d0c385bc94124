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


@pytest.fixture
def no_sleep(monkeypatch):
    """Record the delays the HTTP layer asks for instead of waiting them out."""
    slept = []
    monkeypatch.setattr("litwatch.http.time.sleep", slept.append)
    return slept


@contextmanager
def within(seconds):
    """Fail if the block takes longer than ``seconds``."""
    start = time.monotonic()
    yield
    elapsed = time.monotonic() - start
    assert elapsed < seconds, f"took {elapsed:.2f} s"


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
