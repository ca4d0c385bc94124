"""Gap-proof sync, as a user meets it against services that answer like PubMed,
ClinicalTrials.gov and Europe PMC (local stand-ins serving real recorded records): an update
that fails midway leaves a monitoring gap that the report and `litwatch runs` show and the
next successful update covers and closes, losing nothing; `litwatch reconcile` compares the
stored records with each search's full ID list, fetches what an incremental update could not
see and flags what left the search."""

import json
import re
import sqlite3
from dataclasses import replace
from datetime import date, timedelta

import pytest
from click.testing import CliRunner

from litwatch.cli import cli
from litwatch.store.db import SCHEMA_VERSION

from ctgov_standin import CtgovStandin, load_studies
from europepmc_standin import EuropePmcStandin, cursor_token, load_results
from eutils_standin import EutilsStandin, load_records
from standin_server import StandinServices

# The clients' pauses between requests (the services' rate limits) are recorded, not waited out.
pytestmark = pytest.mark.usefixtures("no_sleep")

TODAY = date.today()
PROTOCOL = 34092549  # the one ketamine-for-PTSD paper of the recorded data


class FailingEutils(EutilsStandin):
    """E-utilities whose efetch answers HTTP 500 from the ``fail_from``-th call on (counted
    from when it is set), as NCBI's backend does on a bad night."""

    fail_from: int | None = None

    def handle(self, path, params):
        if self.fail_from is not None and path.endswith("efetch.fcgi"):
            self.fail_from -= 1
            if self.fail_from <= 0:
                with self._lock:
                    self.requests.append(("efetch.fcgi", params))
                return 500, {"Content-Type": "text/plain"}, b"Internal Server Error"
        return super().handle(path, params)


class Services(StandinServices):
    """The three stand-ins on 127.0.0.1, and the environment that points litwatch at them."""

    def __init__(self, records, studies=()):
        super().__init__(FailingEutils(list(records)), CtgovStandin(list(studies), page_size=60), EuropePmcStandin([]))


@pytest.fixture
def run(tmp_path, monkeypatch, no_sleep):
    monkeypatch.chdir(tmp_path)
    for var in ("NCBI_API_KEY", "NCBI_EMAIL", "LITWATCH_EUTILS_URL", "LITWATCH_CTGOV_URL", "LITWATCH_EUROPEPMC_URL",
                "LITWATCH_DB"):
        monkeypatch.delenv(var, raising=False)

    def invoke(*args, env=None, db="data/litwatch.db"):
        return CliRunner().invoke(cli, ["--db", db, *args], env=env, catch_exceptions=False)
    return invoke


def sql(query, *params, db="data/litwatch.db"):
    with sqlite3.connect(db) as conn:
        return conn.execute(query, params).fetchall()


def pmids(db="data/litwatch.db"):
    return {pmid for (pmid,) in sql("SELECT pmid FROM articles", db=db)}


def day(d: date) -> str:
    return d.isoformat().replace("-", "/")


@pytest.mark.slow
def test_an_update_that_fails_midway_leaves_a_gap_the_next_update_covers_and_closes(run):
    records = load_records()
    later = [r for r in records if r.pmid == PROTOCOL or r.pmid % 5 == 0]  # entered PubMed after the first update
    revised = [r for r in records if r not in later and r.pmid % 7 == 0]  # revised after it
    second_day = [replace(r, edat=day(TODAY)) if r in later else replace(r, mdat=day(TODAY)) if r in revised else r
                  for r in records]
    assert later and revised

    # What an uninterrupted pair of updates stores, in a database of its own.
    with Services([r for r in records if r not in later], load_studies()) as env:
        assert run("update", env=env, db="clean.db").exit_code == 0
    with Services(second_day, load_studies()) as env:
        assert run("update", env=env, db="clean.db").exit_code == 0
    assert len(pmids("clean.db")) == len(records)

    services = Services([r for r in records if r not in later], load_studies())
    with services as env:
        first = run("update", env=env)
        assert first.exit_code == 0, first.output
        # The first update ran ten days ago: the next incremental window starts 13 days back.
        sql_update = "UPDATE runs SET started_at = ?, finished_at = ?"
        with sqlite3.connect("data/litwatch.db") as conn:
            conn.execute(sql_update, [f"{TODAY - timedelta(days=10)}T06:00:00Z"] * 2)
        window = (TODAY - timedelta(days=13)).isoformat()

        services.eutils.records = second_day
        services.eutils.fail_from = 2  # the new records' efetch answers, the revised ones' fails
        failed = run("update", env=env)
        assert failed.exit_code == 3, failed.output  # partial: PubMed failed, the others succeeded
        assert "Error: pubmed ketamine-ptsd" in failed.output
        gaps = sql("SELECT source, topic, window_from, window_to, closed_run_id, reason FROM monitoring_gaps")
        assert len(gaps) == 1
        source, topic, start, end, closed, reason = gaps[0]
        assert (source, topic, start, end, closed) == ("pubmed", "ketamine-ptsd", window, TODAY.isoformat(), None)
        assert "500" in reason
        assert pmids() >= {r.pmid for r in later}  # what arrived before the failure is kept

        report = json.loads(run("report", "--format", "json").output)
        assert f"PubMed: no monitoring from {window} to {TODAY} for topic ketamine-ptsd (the update of that window " \
               f"did not finish); the next successful update covers it." in report["notices"]
        listing = run("runs")
        assert "Open monitoring gaps (1):" in listing.output
        assert f"PubMed: no monitoring from {window} to {TODAY} for topic ketamine-ptsd (the fetch of run" \
               in listing.output and "500" in listing.output.split("Open monitoring gaps")[1]

        # A fetch asked for today only does not cover the gap: it stays open.
        services.eutils.fail_from = None
        narrow = run("fetch", "--source", "pubmed", "--since", TODAY.isoformat(), env=env)
        assert narrow.exit_code == 0, narrow.output
        assert sql("SELECT count(*) FROM monitoring_gaps WHERE closed_run_id IS NULL") == [(1,)]

        # The next update starts its window at the gap's first day (not three days before
        # the last success), covers it and closes it.
        again = run("update", env=env)
        assert again.exit_code == 0, again.output
    (since,) = sql("SELECT json_extract(params, '$.since') FROM runs WHERE source = 'pubmed' AND kind = 'fetch' "
                   "ORDER BY id DESC LIMIT 1")[0]
    assert since == window
    assert sql("SELECT count(*) FROM monitoring_gaps WHERE closed_run_id IS NULL") == [(0,)]
    assert "Open monitoring gaps" not in run("runs").output
    report = json.loads(run("report", "--format", "json").output)
    assert not any("no monitoring" in note for note in report["notices"])
    # Nothing is lost: every record the uninterrupted updates stored, as they stored it.
    assert pmids() == pmids("clean.db")
    revised_rows = "SELECT pmid, record_hash FROM articles ORDER BY pmid"
    assert sql(revised_rows) == sql(revised_rows, db="clean.db")

    # The gap opened and closed are events, in the feed and the digest as in the events view.
    events = dict(sql("SELECT kind, count(*) FROM events WHERE kind LIKE 'gap_%' GROUP BY kind"))
    assert events == {"gap_opened": 1, "gap_closed": 1}
    feed = run("feed")
    assert feed.exit_code == 0, feed.output
    assert f"Monitoring gap: PubMed was not searched from {window} to {TODAY}" in feed.output
    assert f"Monitoring gap closed: PubMed from {window} to {TODAY} was searched again" in feed.output


@pytest.mark.slow
def test_an_interrupted_process_leaves_a_gap_too(run):
    with Services(load_records(), load_studies()) as env:
        assert run("update", env=env).exit_code == 0
        with sqlite3.connect("data/litwatch.db") as conn:  # a fetch whose process was killed
            conn.execute("INSERT INTO runs (topic, source, kind, started_at, status, params) VALUES "
                         "('ketamine-ptsd', 'ctgov', 'fetch', ?, 'running', ?)",
                         [f"{TODAY}T07:00:00Z", json.dumps({"mode": "incremental", "since": "2026-01-01"})])
        listing = run("runs")  # a reader sees the dead run as interrupted, and its gap
        assert "Open monitoring gaps (1)" in listing.output
        update = run("update", env=env)  # closes the dead run (a gap), then covers it
        assert update.exit_code == 0, update.output
    rows = sql("SELECT g.source, g.window_from, r.status, g.closed_run_id IS NOT NULL FROM monitoring_gaps g "
               "JOIN runs r ON r.id = g.opened_run_id")
    assert rows == [("ctgov", "2026-01-01", "interrupted", 1)]


def reconcile(run, env, *args):
    result = run("reconcile", "--source", "pubmed", *args, env=env)
    assert result.exit_code == 0, result.output
    return result.output


@pytest.mark.slow
def test_a_record_removed_from_the_search_is_flagged_by_reconcile_and_kept(run):
    records = load_records()
    services = Services(records, load_studies())
    with services as env:
        assert run("update", env=env).exit_code == 0
        n = len(records)
        assert f"pubmed ketamine-ptsd: {n} records listed by the service, {n} stored, 0 fetched (missing), " \
               f"0 left the search (flagged)" in reconcile(run, env)

        services.eutils.records = [r for r in records if r.pmid != PROTOCOL]
        out = reconcile(run, env)
        assert f"{n - 1} records listed by the service, {n - 1} stored, 0 fetched (missing), 1 left the search " \
               f"(flagged)" in out
        assert "0 left the search" in reconcile(run, env)  # flagged once, not on every reconcile
    assert sql("SELECT count(*) FROM articles WHERE pmid = ?", PROTOCOL) == [(1,)]  # kept
    assert sql("SELECT record_id, returned_run_id FROM left_search") == [(f"PMID:{PROTOCOL}", None)]
    (kind, record, title), = sql("SELECT kind, record_id, title FROM events WHERE kind = 'left_search'")
    assert (kind, record) == ("left_search", f"PMID:{PROTOCOL}") and title.startswith("Combining Ketamine")
    feed = run("feed").output
    assert "PubMed search (kept, flagged): Combining Ketamine and Internet-Based" in feed

    with services as env:  # listed again: no longer flagged
        services.eutils.records = records
        assert "1 listed again" in reconcile(run, env)
    assert sql("SELECT returned_run_id IS NOT NULL FROM left_search") == [(1,)]


@pytest.mark.slow
def test_a_study_that_left_the_trials_search_is_flagged_too(run):
    studies = load_studies()
    services = Services(load_records(), studies)
    with services as env:
        assert run("update", env=env).exit_code == 0
        gone = services.ctgov.ids()[0]
        services.ctgov.studies = [s for s in services.ctgov.studies if s is not services.ctgov.study(gone)]
        result = run("reconcile", "--source", "ctgov", env=env)
    assert result.exit_code == 0, result.output
    assert f"{len(studies) - 1} studies listed by the service, {len(studies) - 1} stored, 0 fetched (missing), " \
           f"1 left the search (flagged)" in result.output
    assert sql("SELECT source, record_id FROM left_search") == [("ctgov", gone)]
    assert sql("SELECT count(*) FROM trials WHERE nct_id = ?", gone) == [(1,)]


@pytest.mark.slow
def test_a_record_indexed_with_an_old_entry_date_is_found_by_reconcile(run):
    records = load_records()
    late = next(r for r in records if r.pmid == PROTOCOL)  # its entry date stays in 2021
    services = Services([r for r in records if r is not late], load_studies())
    with services as env:
        assert run("update", env=env).exit_code == 0
        services.eutils.records = records
        incremental = run("update", env=env)
        assert incremental.exit_code == 0, incremental.output
        assert PROTOCOL not in pmids()  # outside the incremental window: unseen

        n = len(records)
        out = reconcile(run, env, "--topic", "ketamine-ptsd")
        assert f"{n} records listed by the service, {n - 1} stored, 1 fetched (missing), 0 left the search" in out
    assert PROTOCOL in pmids()
    assert sql("SELECT relevance FROM article_topics WHERE pmid = ? AND topic = 'ketamine-ptsd'", PROTOCOL) == \
        [("core",)]
    (kind, status, expected, received, new), = sql(
        "SELECT kind, status, expected, received, new FROM runs ORDER BY id DESC LIMIT 1")
    assert (kind, status, expected, received, new) == ("reconcile", "success", n, 1, 1)
    assert f"PMID:{PROTOCOL}" in {r for (r,) in sql("SELECT record_id FROM events WHERE kind = 'new_paper'")}


@pytest.mark.slow
def test_reconcile_against_an_unreachable_service_says_so_in_one_line_and_changes_nothing(run):
    with Services(load_records(), load_studies()) as env:
        assert run("update", env=env).exit_code == 0
    before = {t: sql(f"SELECT count(*) FROM [{t}]") for t in ("articles", "article_topics", "left_search", "trials")}
    env = {"LITWATCH_EUTILS_URL": "http://127.0.0.1:9/entrez/eutils"}  # nothing listens on the discard port
    result = CliRunner().invoke(cli, ["reconcile", "--source", "pubmed"], env=env)
    assert result.exit_code == 1
    assert result.stdout == ""
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith("Error: pubmed ketamine-ptsd: "), line
    assert {t: sql(f"SELECT count(*) FROM [{t}]") for t in before} == before
    assert sql("SELECT kind, status FROM runs ORDER BY id DESC LIMIT 1") == [("reconcile", "failed")]


def test_a_version_4_database_gets_the_gaps_its_failed_fetches_left(tmp_path):
    from litwatch.catalog import open_db

    path = tmp_path / "v4.db"
    conn = open_db(path)
    conn.executescript("""
        DROP VIEW events; DROP TABLE monitoring_gaps; DROP TABLE left_search; PRAGMA user_version = 4;
        INSERT INTO runs (id, topic, source, kind, started_at, status, params) VALUES
          (1, 'ketamine-ptsd', 'pubmed', 'fetch', '2026-11-01T03:17:00Z', 'success', '{"mode": "full"}'),
          (2, 'ketamine-ptsd', 'pubmed', 'fetch', '2026-11-02T03:17:00Z', 'failed',
           '{"mode": "incremental", "since": "2026-10-29"}'),
          (3, 'ketamine-ptsd', 'ctgov', 'fetch', '2026-11-02T03:17:00Z', 'failed', '{"url": "x"}'),
          (4, 'ketamine-ptsd', 'ctgov', 'fetch', '2026-11-03T03:17:00Z', 'success', '{"mode": "full"}');
    """)
    conn.close()
    from litwatch.api import writing

    # Upgraded as the next command opens it to write: the PubMed failure is still uncovered, the
    # trials one was covered (the store's migration runs no monitoring code: litwatch.gaps does).
    with writing(path) as conn:
        assert conn.execute("PRAGMA user_version").fetchone() == (SCHEMA_VERSION,)
        assert conn.execute("SELECT source, window_from, window_to, opened_run_id, closed_run_id "
                            "FROM monitoring_gaps").fetchall() == [("pubmed", "2026-10-29", "2026-11-02", 2, None)]
        assert conn.execute("SELECT kind, record_id FROM events WHERE kind LIKE 'gap%'").fetchall() == \
            [("gap_opened", "pubmed")]


@pytest.mark.slow
def test_europe_pmc_is_reconciled_from_its_id_list_pages(run):
    results = load_results()  # real recorded Europe PMC records; the stand-in takes each as matching the query
    late, gone = results[0], results[1]
    services = Services(load_records(), load_studies())
    services.europepmc = EuropePmcStandin([r for r in results if r is not late])
    with services as env:
        assert run("update", env=env).exit_code == 0
        services.europepmc.records = [r for r in results if r is not gone]  # `late` keeps its old index date
        assert run("update", env=env).exit_code == 0
        assert f"{late['source']}:{late['id']}" not in {k for (k,) in sql("SELECT epmc_id FROM europepmc_records")}
        result = run("reconcile", "--source", "europepmc", env=env)
    assert result.exit_code == 0, result.output
    n = len(results) - 1
    assert f"europepmc ketamine-ptsd: {n} records listed by the service, {n - 1} stored, 1 fetched (missing), " \
           f"1 left the search (flagged)" in result.output
    assert sql("SELECT record_id FROM left_search") == [(f"{gone['source']}:{gone['id']}",)]
    listing = [r for r in services.europepmc.requests if r.get("resultType") == "idlist" and r["query"] != "SRC:MED"]
    assert listing and all(r["pageSize"] == "1000" for r in listing)


@pytest.mark.slow
def test_reconcile_stops_at_the_run_budget_and_flags_nothing(db):
    from litwatch.config import DEFAULT_TOPIC, Config
    from litwatch.errors import DeadlineExceeded
    from litwatch.reconcile import reconcile_topic
    from litwatch.sources import get
    from litwatch.sync import fetch_topic

    from hostile_servers import after, serve as serve_hostile, standin, trickle_body

    studies = CtgovStandin(load_studies(), page_size=50)
    with studies.serve() as url:
        fetch_topic(db, Config(urls={"ctgov": url}), get("ctgov"), DEFAULT_TOPIC)
    # The ID listing's first page answers, the second trickles for ever; the run may take one second.
    with serve_hostile(after(1, standin(lambda path, params: studies.handle(params)), trickle_body(0.1))) as hostile:
        config = Config(urls={"ctgov": f"{hostile.url}/api/v2"}, run_budget_minutes=1 / 60)
        with pytest.raises(DeadlineExceeded, match="ClinicalTrials.gov: the run's time budget of 1 s is spent"):
            reconcile_topic(db, config, get("ctgov"), DEFAULT_TOPIC)
    assert db.execute("SELECT kind, status FROM runs ORDER BY id DESC LIMIT 1").fetchone() == ("reconcile", "failed")
    assert db.execute("SELECT count(*) FROM left_search").fetchone() == (0,)  # a partial listing flags nothing


# ---------------------------------------------------------- sanity before mass events --

class GlitchedListing(EutilsStandin):
    """esearch answers as a backend glitch does: a Count of 0 and no ID (``empty``), or an ID
    list with some IDs repeated in place of others (``repeat``); searches with a date window
    (the fetch's) answer normally."""

    def __init__(self, records, mode):
        super().__init__(records)
        self.mode = mode

    def _esearch(self, params):
        body = super()._esearch(params)
        if "datetype" in params or params.get("usehistory") == "y" and "retmax" not in params:
            return body
        if self.mode == "empty":
            return re.sub(rb"<Count>\d+</Count>", b"<Count>0</Count>", re.sub(rb"<Id>\d+</Id>", b"", body))
        ids = re.findall(rb"<Id>\d+</Id>", body)
        return body.replace(b"".join(ids), b"".join(ids[:50] + ids[:50] + ids[100:]))


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["empty", "repeat"])
def test_a_glitched_listing_fails_the_reconcile_and_flags_nothing(run, mode):
    """Before: a Count of 0 and an empty ID list flagged all stored records as having left the
    search (each an event, in the feed and the digest); 50 IDs repeated in place of 50 others
    flagged those 50."""
    records = load_records()
    with Services(records) as env:
        assert run("update", env=env).exit_code == 0
    services = StandinServices(GlitchedListing(records, mode), CtgovStandin([]), EuropePmcStandin([]))
    with services as env:
        result = run("reconcile", "--source", "pubmed", env=env)
    assert result.exit_code == 1 and len(result.output.strip().splitlines()) == 1
    expected = ("listed no records for ketamine-ptsd, where 304 are stored" if mode == "empty"
                else "ID listing does not add up (254 distinct IDs of 304 counted, 50 repeats)")
    assert expected in result.output and "nothing is flagged" in result.output
    assert sql("SELECT count(*) FROM left_search") == [(0,)]
    assert sql("SELECT count(*) FROM events WHERE kind = 'left_search'") == [(0,)]


@pytest.mark.slow
def test_more_departures_than_a_fifth_of_the_topic_are_refused_unless_accepted(run):
    records = load_records()
    with Services(records) as env:
        assert run("update", env=env).exit_code == 0
    services = Services(records[:200])  # 104 of 304 gone at once: over max(61, 50)
    with services as env:
        refused = run("reconcile", "--source", "pubmed", env=env)
        assert refused.exit_code == 1
        assert "would flag 104 of its 304 stored records as having left the search (more than 61 at once)" in (
            refused.output)
        assert sql("SELECT count(*) FROM left_search") == [(0,)]
        accepted = run("reconcile", "--source", "pubmed", "--accept-departures", env=env)
    assert accepted.exit_code == 0 and "104 left the search (flagged)" in accepted.output
    assert sql("SELECT count(*) FROM left_search") == [(104,)]


class UncountedRepeatingPages(EuropePmcStandin):
    """Europe PMC with hitCount null, whose second page repeats the first (``listing``: its ID
    list adds up; else it too has no count)."""

    def __init__(self, records, listing):
        super().__init__(records, page_size=10)
        self.listing = listing

    def page(self, hits, params):
        if params.get("resultType") == "idlist":
            page = super().page(hits, params)
            if not self.listing:
                page["hitCount"] = None
            return page
        repeated = params.get("cursorMark") == cursor_token(10)
        page = super().page(hits, dict(params, cursorMark="*") if repeated else params)
        if repeated:  # page 2 is page 1 again, and points on to page 3
            page["nextCursorMark"] = cursor_token(20)
        page["hitCount"] = None
        return page


@pytest.mark.parametrize("listing", [True, False])
def test_an_uncounted_search_whose_pages_repeat_is_completed_from_its_listing_or_fails(run, listing):
    """Before: hitCount null and page 2 repeating page 1 ended in success with 900 of 1,000
    records (here 15 of 25)."""
    topic = ('[[topics]]\nname = "cancer"\nintervention_terms = ["therapy"]\ncondition_terms = ["cancer"]\n'
             '[topics.europepmc]\nquery = "cancer"\n')
    open("litwatch.toml", "w").write(topic)
    standin = UncountedRepeatingPages(load_results(), listing)
    with StandinServices(EutilsStandin([]), CtgovStandin([]), standin) as env:
        result = run("fetch", "--source", "europepmc", "--no-follow", env=env)
    stored = sql("SELECT count(*) FROM europepmc_records")[0][0]
    if listing:
        assert result.exit_code == 0 and stored == 25, result.output
        assert "25 of 25 records fetched" in result.output
    else:
        assert result.exit_code == 1 and stored == 15
        assert "gave no count for the search and its pages repeated 10 records" in result.output
