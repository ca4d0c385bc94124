from pathlib import Path

import pytest

from litwatch.store import open_db

FIXTURES = Path(__file__).parent / "fixtures"
SUBSET = FIXTURES / "pubmed21n1298_subset_ketamine_ptsd_ctgov.xml.gz"


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
