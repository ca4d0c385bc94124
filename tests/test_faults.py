"""Faults a scheduled run meets, injected by local HTTP servers on 127.0.0.1: each is
retried then survived, or fails cleanly with the right exit code, and what was stored
before is never changed."""

import hashlib
import json
import shutil
import time

import pytest
from click.testing import CliRunner

from litwatch.cli import cli
from litwatch.config import Config, Topic
from litwatch.sources.ctgov.client import CtgovClient
from litwatch.errors import EutilsError, HttpError, ServiceUnavailable
from litwatch.http import HttpClient
from litwatch.sources.pubmed.client import PubMedClient
from litwatch.catalog import open_db

from conftest import FIXTURES
from ctgov_standin import CtgovStandin, load_studies
from eutils_standin import EutilsStandin
from standin_server import serve
from conftest import fetch_ctgov, fetch_pubmed

TOPIC = Topic(name="ketamine-ptsd", queries={"pubmed": "ketamine AND PTSD", "ctgov": {"condition": "PTSD"}})
HTML_PAGE = (FIXTURES / "efetch_not_xml.html").read_bytes()


class Faulty:
    """Answers the first requests with scripted faults, then passes them to a stand-in."""

    def __init__(self, handle, faults):
        self.handle, self.faults, self.seen, self.params = handle, list(faults), [], []

    def __call__(self, path, params):
        fault = self.faults.pop(0) if self.faults else None
        self.seen.append(fault)
        self.params.append(params)
        if fault is None:
            return self.handle(path, params)
        if fault == "timeout":
            time.sleep(1.5)
            return self.handle(path, params)
        if fault in ("reset", "truncated"):
            status, headers, body = self.handle(path, params)
            return fault, headers, body
        if fault == "html":
            return 200, {"Content-Type": "text/html"}, HTML_PAGE
        if fault == "429+retry-after":
            return 429, {"Retry-After": "1", "Content-Type": "application/json"}, b'{"error":"API rate limit exceeded"}'
        return int(fault), {"Content-Type": "text/plain"}, b"service trouble"


def snapshot(db):
    """A fingerprint of every stored record."""
    digest = hashlib.sha1()
    for table in ("articles", "article_authors", "trials", "trial_locations", "trial_changes"):
        for row in db.execute(f"SELECT * FROM [{table}] ORDER BY 1, 2"):
            digest.update(repr(row).encode())
    return digest.hexdigest()


def http():
    # Short timeouts and no waiting between tries keep the suite fast.
    return HttpClient(per_second=0, sleep=lambda s: None, max_attempts=3, timeout=(1, 1))


@pytest.fixture(scope="module")
def fetched_once(prebuilt, real_records):
    """A database file holding a successful fetch of both sources, made once per test run."""
    def build(folder):
        db = open_db(folder / "litwatch.db")
        eutils, ctgov = EutilsStandin(real_records), CtgovStandin(load_studies(), page_size=60)
        with serve(eutils.handle, "/eutils") as eu, serve(lambda p, q: ctgov.handle(q), "/api/v2") as ct:
            config = Config(urls={"pubmed": eu, "ctgov": ct})
            fetch_pubmed(db, config, TOPIC, client=PubMedClient(http(), eu))
            fetch_ctgov(db, config, TOPIC, client=CtgovClient(http(), ct))
        db.close()
    return prebuilt("faults", build) / "litwatch.db"


@pytest.fixture
def stored(fetched_once, tmp_path, real_records):
    """A database that already holds a successful fetch of both sources (a copy of the
    module's, so each test changes its own), and the stand-ins that served it."""
    path = tmp_path / "litwatch.db"
    shutil.copyfile(fetched_once, path)
    db = open_db(path)
    yield db, EutilsStandin(real_records), CtgovStandin(load_studies(), page_size=60)
    db.close()


TRANSIENT = ["timeout", "reset", "429", "429+retry-after", "500", "502", "503", "truncated", "html"]


@pytest.mark.slow
@pytest.mark.parametrize("fault", TRANSIENT)
def test_pubmed_fault_is_retried_then_survived(stored, fault):
    db, eutils, _ = stored
    faulty = Faulty(eutils.handle, [fault, fault])  # two bad answers, then a good one
    with serve(faulty, "/eutils") as eu:
        result = fetch_pubmed(db, Config(urls={"pubmed": eu}), TOPIC, client=PubMedClient(http(), eu), full=True)
    assert result.status == "success" and result.counts.unchanged == 304
    assert faulty.seen[:3] == [fault, fault, None]
    assert result.params["retries"] == 2


@pytest.mark.slow
@pytest.mark.parametrize("fault", TRANSIENT)
def test_ctgov_fault_that_persists_fails_cleanly_and_changes_nothing(stored, fault):
    db, _, ctgov = stored
    before = snapshot(db)
    faulty = Faulty(lambda p, q: ctgov.handle(q), [fault] * 3)
    with serve(faulty, "/api/v2") as ct:
        with pytest.raises(ServiceUnavailable, match=r"studies failed after 3 attempts") as error:
            fetch_ctgov(db, Config(urls={"ctgov": ct}), TOPIC, client=CtgovClient(http(), ct), full=True)
    assert "\n" not in str(error.value)
    assert snapshot(db) == before
    run = db.execute("SELECT status, error FROM runs ORDER BY id DESC LIMIT 1").fetchone()
    assert run[0] == "failed" and "attempts" in run[1]


def test_eutils_error_in_a_200_fails_without_retry(stored):
    db, eutils, _ = stored
    before = snapshot(db)
    body = (FIXTURES / "esearch_error_bad_db.xml").read_bytes()
    with serve(lambda p, q: (200, {"Content-Type": "text/xml"}, body), "/eutils") as eu:
        with pytest.raises(EutilsError, match="Invalid db name specified: fleegle"):
            fetch_pubmed(db, Config(urls={"pubmed": eu}), TOPIC, client=PubMedClient(http(), eu), full=True)
    assert snapshot(db) == before


def test_ctgov_400_shows_its_text(stored):
    db, _, _ = stored
    before = snapshot(db)
    with serve(lambda p, q: (400, {"Content-Type": "text/plain"}, b"Invalid prefix in parameter name: query.cond"),
               "/api/v2") as ct:
        with pytest.raises(HttpError, match="HTTP 400: Invalid prefix in parameter name: query.cond"):
            fetch_ctgov(db, Config(urls={"ctgov": ct}), TOPIC, client=CtgovClient(http(), ct))
    assert snapshot(db) == before


def test_cli_exit_codes_partial_and_failed(tmp_path, real_records, no_sleep):
    eutils = EutilsStandin(real_records)
    with serve(eutils.handle, "/eutils") as eu:
        env = {"LITWATCH_EUTILS_URL": eu, "LITWATCH_CTGOV_URL": "http://127.0.0.1:9/api/v2"}
        db = str(tmp_path / "x.db")
        partial = CliRunner().invoke(cli, ["--db", db, "fetch", "--json", "--no-follow"], env=env)
        assert partial.exit_code == 3
        summary = json.loads(partial.stdout)
        assert summary["status"] == "partial"
        by_source = {r["source"]: r for r in summary["runs"]}
        assert by_source["pubmed"]["status"] == "success" and by_source["pubmed"]["new"] == 304
        assert by_source["pubmed"]["requests"] == 2 and by_source["pubmed"]["seconds"] >= 0
        assert by_source["ctgov"]["status"] == "failed"
        assert "http://127.0.0.1:9/api/v2/studies" in by_source["ctgov"]["error"]
        quiet = CliRunner().invoke(cli, ["--db", db, "fetch", "--source", "ctgov", "--quiet"], env=env)
        assert quiet.exit_code == 1 and quiet.stdout == ""
        assert quiet.stderr.strip().splitlines()[0].startswith("Error: ctgov ketamine-ptsd: http://127.0.0.1:9/api/v2/studies")


def test_api_key_never_leaks(tmp_path, real_records, no_sleep, caplog):
    eutils = EutilsStandin(real_records)
    faulty = Faulty(eutils.handle, ["500"] * 10)
    with serve(faulty, "/eutils") as eu:
        env = {"LITWATCH_EUTILS_URL": eu, "NCBI_API_KEY": "SECRET-KEY-123"}
        db = str(tmp_path / "k.db")
        result = CliRunner().invoke(cli, ["--db", db, "-v", "fetch", "--source", "pubmed", "--json"], env=env)
        report = CliRunner().invoke(cli, ["--db", db, "report", "--format", "json"])
    assert result.exit_code == 1
    assert faulty.params[0]["api_key"] == "SECRET-KEY-123"  # sent to NCBI...
    everything = result.output + report.output + caplog.text + "\n".join(__import__("sqlite3").connect(db).iterdump())
    assert "SECRET-KEY-123" not in everything  # ...and nowhere else
