"""Runs against hostile services on 127.0.0.1, serving real records: a service that answers
slowly forever, pages in a loop or without end, repeats records and leaves others out, or
changes under a walk; and a run log dated in the future.

Every run ends within its time budget or at the first sign of a loop, is recorded as failed
(never left running) with a one-line error, keeps what arrived and releases the lock; and it
succeeds only when every record the search holds has arrived, fetched by ID if a walk
missed it.
"""

import json
import sqlite3
from contextlib import contextmanager
from datetime import date, datetime, timedelta, timezone

import pytest
from click.testing import CliRunner
from lxml import etree

from litwatch import runs
from litwatch.cli import cli
from litwatch.config import Config, ConfigError, Topic, config_template, load_config
from litwatch.errors import DeadlineExceeded, IncompleteFetch
from litwatch.http import HttpClient
from litwatch.lock import RunLock
from litwatch.sources.ctgov.client import CtgovClient
from litwatch.sources.europepmc.client import EuropePmcClient
from litwatch.sources.pubmed.client import PubMedClient
from litwatch.store import query

from conftest import FIXTURES, count, fetch_ctgov, fetch_pubmed, within
from ctgov_standin import CtgovStandin, load_studies
from europepmc_standin import EuropePmcStandin, cursor_token, load_results
from eutils_standin import EutilsStandin, StoredRecord
from hostile_servers import after, serve as serve_hostile, standin, trickle_body
from standin_server import serve

TOPIC = Topic(name="ketamine-ptsd", queries={"pubmed": "ketamine AND PTSD", "ctgov": {"condition": "PTSD"},
                                            "europepmc": "ketamine AND PTSD"})
ONE_SECOND = 1 / 60  # a run budget, in minutes
ADDED = json.loads((FIXTURES / "page_single_NCT06341426.json").read_text())["studies"][0]


def http(**kw):
    return HttpClient(**{"per_second": 0, "sleep": lambda s: None, "max_attempts": 2, "timeout": (2, 2), **kw})


def last_run(db) -> dict:
    return query(db, "SELECT * FROM runs ORDER BY id DESC LIMIT 1")[0]


def nct_ids(db) -> set[str]:
    return {r[0] for r in db.execute("SELECT nct_id FROM trials")}


def offset(params) -> int:
    return int(params.get("pageToken", "tok0")[3:])


# --- Hostile ClinicalTrials.gov -----------------------------------------------------------

class RepeatedToken(CtgovStandin):
    """The second page names itself as the next one."""

    def page(self, hits, params):
        page = super().page(hits, params)
        if offset(params) == 50:
            page["nextPageToken"] = "tok50"
        return page


class EndlessPages(CtgovStandin):
    """After the first page, pages under new tokens for ever: empty, or the first page again."""

    def __init__(self, studies, repeat: bool, **kw):
        super().__init__(studies, **kw)
        self.repeat = repeat

    def page(self, hits, params):
        page = super().page(hits, params)
        start = offset(params)
        if start:
            page["studies"] = hits[:self.page_size] if self.repeat else []
            page["nextPageToken"] = f"tok{start + self.page_size}"
        return page


class OneByOne(CtgovStandin):
    """A first page of 50, then one new study a page: far more pages than 128 studies need."""

    def page(self, hits, params):
        start = offset(params)
        size = self.page_size if start == 0 else 1
        page = {"studies": hits[start:start + size], "nextPageToken": f"tok{start + size}"}
        if params.get("countTotal") == "true":
            page["totalCount"] = len(hits)
        return page


class RepeatOneOmitAnother(CtgovStandin):
    """The second page ends with the first page's first study instead of its own last one."""

    def page(self, hits, params):
        page = super().page(hits, params)
        if offset(params) == 50 and "fields" not in params:
            self.omitted = page["studies"][-1]["protocolSection"]["identificationModule"]["nctId"]
            page["studies"][-1] = hits[0]
        return page


class WithdrawnAndAdded(CtgovStandin):
    """Between the first and the second page, a study leaves the registry and another comes."""

    withdrawn = None

    def handle(self, params):
        if offset(params) == 50 and self.withdrawn is None:
            self.withdrawn = self.studies.pop(10)["protocolSection"]["identificationModule"]["nctId"]
            self.studies.append(ADDED)
        return super().handle(params)


def walk_ctgov(db, standin_, **config):
    with serve(lambda path, params: standin_.handle(params), "/api/v2") as url:
        return fetch_ctgov(db, Config(urls={"ctgov": url}, **config), TOPIC, client=CtgovClient(http(), url))


def test_a_repeated_page_token_fails_the_run_at_once(db):
    hostile = RepeatedToken(load_studies(), page_size=50)
    with within(3), pytest.raises(IncompleteFetch) as error:
        walk_ctgov(db, hostile)
    message = ("ClinicalTrials.gov repeated a page token: tok50 (after 2 pages, 100 of 128 studies); "
               "stopped instead of looping")
    assert str(error.value) == message and len(hostile.requests) == 2
    assert count(db, "trials") == 100  # what arrived is kept
    run = last_run(db)
    assert (run["status"], run["error"], run["received"], run["finished_at"] is not None) == (
        "failed", message, 100, True)


@pytest.mark.parametrize("repeat", [False, True], ids=["empty pages", "repeated pages"])
def test_pages_that_bring_nothing_new_end_the_walk_after_three(db, repeat):
    hostile = EndlessPages(load_studies(), repeat, page_size=50)
    with within(3), pytest.raises(IncompleteFetch, match=r"^ClinicalTrials.gov served 3 pages in a row with no new "
                                                         r"studies \(after 4 pages, 50 of 128 studies\); stopped"):
        walk_ctgov(db, hostile)
    assert len(hostile.requests) == 4 and count(db, "trials") == 50
    assert last_run(db)["status"] == "failed"


def test_more_pages_than_the_count_can_need_end_the_walk(db):
    hostile = OneByOne(load_studies(), page_size=50)
    with within(3), pytest.raises(IncompleteFetch) as error:
        walk_ctgov(db, hostile)
    assert str(error.value) == ("ClinicalTrials.gov offered more pages than the 128 studies it reported can need "
                                "at up to 50 a page (after 5 pages, 54 of 128 studies); stopped instead of paging on")
    assert len(hostile.requests) == 5 and count(db, "trials") == 54


def test_one_clean_page_is_its_own_proof(db):
    honest = CtgovStandin(load_studies(), page_size=1000)
    result = walk_ctgov(db, honest)
    assert (result.counts.received, len(honest.requests), "listed" in result.params) == (128, 1, False)


def test_a_walk_over_pages_is_checked_against_the_id_listing(db):
    honest = CtgovStandin(load_studies(), page_size=50)
    result = walk_ctgov(db, honest)
    listing = [r for r in honest.requests if r.get("fields") == "NCTId"]
    assert len(listing) == 3 and listing[0]["countTotal"] == "true" and listing[0]["query.cond"] == "PTSD"
    assert (result.status, result.params["listed"], "fetched_by_id" not in result.params) == ("success", 128, True)


def test_a_page_that_repeats_one_study_and_omits_another_is_completed_by_id(db, caplog):
    hostile = RepeatOneOmitAnother(load_studies(), page_size=50)
    result = walk_ctgov(db, hostile)
    assert result.status == "success" and nct_ids(db) == set(hostile.ids())
    assert (result.counts.expected, result.counts.received, result.counts.repeated) == (128, 128, 1)
    assert (result.params["listed"], result.params["fetched_by_id"]) == (128, 1)
    assert [r["filter.ids"] for r in hostile.requests if "filter.ids" in r] == [hostile.omitted]
    assert "1 of the 128 studies the search holds were not served while paging (1 repeats)" in caplog.text


def test_a_study_withdrawn_and_another_added_between_pages_is_caught(db):
    # Before: 128 of 128 studies, no repeat, success; the study pushed back a page by the
    # withdrawal was never served, and nothing said so.
    hostile = WithdrawnAndAdded(load_studies(), page_size=50)
    result = walk_ctgov(db, hostile)
    assert result.status == "success" and set(hostile.ids()) <= nct_ids(db)
    assert hostile.withdrawn in nct_ids(db)  # served while it was there: kept
    assert (result.counts.expected, result.counts.received, result.params["fetched_by_id"]) == (128, 129, 1)


def test_a_listing_that_contradicts_itself_proves_nothing(db):
    # The ID listing repeats a study and omits another, like the pages: the missed study
    # cannot be told, so the count decides and the run fails, its studies kept.
    class Both(RepeatOneOmitAnother):
        def page(self, hits, params):
            page = super().page(hits, params)
            if offset(params) == 50 and "fields" in params:
                page["studies"][-1] = page["studies"][0]
            return page

    with pytest.raises(IncompleteFetch, match=r"reported 128 studies but served 127 distinct ones \(and 1 repeats\)"):
        walk_ctgov(db, Both(load_studies(), page_size=50))
    assert count(db, "trials") == 127 and last_run(db)["status"] == "failed"


# --- Hostile Europe PMC: the same rules ---------------------------------------------------

class EpmcEndlessRepeats(EuropePmcStandin):
    """After the first page, the first page again and again, under new cursors."""

    def page(self, hits, params):
        page = super().page(hits, params)
        if params.get("cursorMark", "*") != "*":
            page["resultList"]["result"] = hits[:self.page_size]
            page["nextCursorMark"] = cursor_token(len(self.requests) * self.page_size)
        return page


def test_europe_pmc_pages_that_bring_nothing_new_end_the_walk_after_three():
    hostile = EpmcEndlessRepeats(load_results("epmc_search_1000results_cancer.json.gz"), page_size=400)
    with serve(lambda path, params: hostile.handle(params), "/rest") as url:
        walk = EuropePmcClient(http(), url).search_pages("cancer")
        with within(3), pytest.raises(IncompleteFetch) as error:
            for _ in walk:
                pass
    assert str(error.value) == ("Europe PMC served 3 pages in a row with no new records (after 4 pages, 400 of "
                                "1000 records); stopped instead of paging on")
    assert len(hostile.requests) == 4


# --- Hostile E-utilities: records left out are fetched by PMID ----------------------------

class RepeatedBatch(EutilsStandin):
    """The efetch from 200 serves the batch from 100 again."""

    def batch(self, hits, start, size):
        return super().batch(hits, 100 if start == 200 else start, size)


class RepeatsWithinBatch(EutilsStandin):
    """The first batch holds its first half twice, and not its second half."""

    def batch(self, hits, start, size):
        records = super().batch(hits, start, size)
        return records[:size // 2] * 2 if start == 0 else records


class LosesRecords(RepeatedBatch):
    """...and three of the records it left out are not served by PMID either."""

    lost: set[int] = set()

    def _efetch(self, params):
        if "id" in params:
            asked = params["id"].split(",")
            self.lost = set(map(int, asked[:3]))
            params = dict(params, id=",".join(asked[3:]))
        return super()._efetch(params)


def fetch_from(db, hostile, **kw):
    with serve(hostile.handle, "/eutils") as url:
        return fetch_pubmed(db, Config(urls={"pubmed": url}), TOPIC, client=PubMedClient(http(), url, batch_size=100),
                            **kw)


@pytest.mark.slow
@pytest.mark.parametrize("hostile", [RepeatedBatch, RepeatsWithinBatch])
def test_records_an_efetch_batch_left_out_are_fetched_by_pmid(db, real_records, hostile, caplog):
    # Before: "PubMed reported 304 records but served 204 distinct ones (and 100 repeats)",
    # the run failed, and every later run met the same batches.
    eutils = hostile(real_records)
    result = fetch_from(db, eutils, full=True)
    missing = 100 if hostile is RepeatedBatch else 50
    assert result.status == "success" and count(db, "articles") == 304
    assert (result.counts.expected, result.counts.received, result.counts.repeated) == (304, 304, missing)
    assert result.params["fetched_by_id"] == missing
    listing = [p for name, p in eutils.requests if name == "esearch.fcgi" and p.get("retmax") != "0"]
    assert len(listing) == 1 and listing[0]["term"] == "ketamine AND PTSD" and "usehistory" not in listing[0]
    by_id = [p["id"].split(",") for name, p in eutils.requests if name == "efetch.fcgi" and "id" in p]
    assert len(by_id) == 1 and len(by_id[0]) == missing
    assert (f"brought {304 - missing} distinct records of the 304 the search holds; fetching the {missing}"
            in caplog.text)
    assert runs.summary(db, 0)["runs"][0]["fetched_by_id"] == missing


@pytest.mark.slow
def test_an_incremental_run_that_was_short_is_completed_too(db, real_records):
    # Before: an incremental run (two windowed searches, no single count to check) met the
    # repeated batch, stored 204 of 304 records and succeeded.
    result = fetch_from(db, RepeatedBatch(real_records), since=date(1990, 1, 1))
    assert result.params["mode"] == "incremental" and result.status == "success"
    assert count(db, "articles") == 304 and result.params["fetched_by_id"] == 200  # 100 for each search


def test_records_served_neither_way_fail_the_run_and_what_arrived_is_kept(db, real_records):
    eutils = LosesRecords(real_records)
    with pytest.raises(IncompleteFetch) as error:
        fetch_from(db, eutils, full=True)
    lost = ", ".join(map(str, sorted(eutils.lost, reverse=True)))
    assert str(error.value) == (f"PubMed lists 304 records for the search, but 3 of them were served neither in its "
                                f"batches nor by PMID ({lost}); what arrived is stored, the run is marked failed "
                                f"and the next run will ask again")
    assert count(db, "articles") == 301 and last_run(db)["status"] == "failed"


def test_a_search_holding_a_book_is_complete_without_it(db, real_records):
    # Books are not stored; before, a search holding one (a StatPearls chapter, say) was
    # "incomplete" on every run: 20 of 21 records, failed.
    book = etree.parse(FIXTURES / "efetch.pubmedbook.xml").find(".//PubmedBookArticle")
    eutils = EutilsStandin(real_records[:20] + [StoredRecord(int(book.findtext(".//PMID")), "2020/01/01",
                                                             "2020/01/01", "2020/01/01", etree.tostring(book))])
    result = fetch_from(db, eutils, full=True)
    assert result.status == "success" and "fetched_by_id" not in result.params
    assert (result.counts.expected, result.counts.received, result.counts.skipped) == (21, 21, 1)
    assert count(db, "articles") == 20


# --- The run's time budget -----------------------------------------------------------------

@contextmanager
def slow_ctgov():
    """A ClinicalTrials.gov that serves its first page, then trickles the second for ever."""
    studies = CtgovStandin(load_studies(), page_size=50)
    with serve_hostile(after(1, standin(lambda path, params: studies.handle(params)), trickle_body(0.1))) as hostile:
        yield hostile


@pytest.mark.slow
def test_a_slow_service_is_stopped_by_the_run_budget_and_what_arrived_is_kept(db):
    with slow_ctgov() as hostile:
        url = f"{hostile.url}/api/v2"
        # One request may take five minutes; the run may take one second.
        client = CtgovClient(HttpClient(per_second=0, total_timeout=300), url)
        config = Config(urls={"ctgov": url}, run_budget_minutes=ONE_SECOND)
        with within(2.5), pytest.raises(DeadlineExceeded) as error:
            fetch_ctgov(db, config, TOPIC, client=client)
        assert hostile.hung_up.wait(1), "the client's socket stayed open"
    message = ("ClinicalTrials.gov: the run's time budget of 1 s is spent (50 of 128 studies arrived and are kept); "
               "the run is marked failed and the next run will ask again ([run] budget_minutes or "
               "LITWATCH_RUN_BUDGET sets the budget)")
    assert str(error.value) == message
    assert count(db, "trials") == 50
    run = last_run(db)
    assert (run["status"], run["error"], run["expected"], run["received"]) == ("failed", message, 128, 50)
    assert client.http.budget is None  # lent for the run only


@pytest.fixture
def services(real_records):
    """PubMed and Europe PMC stand-ins serving real records, for the command line."""
    eutils, europepmc = EutilsStandin(real_records), EuropePmcStandin(load_results())
    with eutils.serve() as eutils_url, europepmc.serve() as europepmc_url:
        yield {"LITWATCH_EUTILS_URL": eutils_url, "LITWATCH_EUROPEPMC_URL": europepmc_url}


@contextmanager
def looping_ctgov():
    with RepeatedToken(load_studies(), page_size=50).serve() as url:
        yield url


@contextmanager
def trickling_ctgov():
    with slow_ctgov() as hostile:
        yield f"{hostile.url}/api/v2"


@pytest.mark.slow
@pytest.mark.parametrize("ctgov, error", [
    (trickling_ctgov, "ClinicalTrials.gov: the run's time budget of 2.4 s is spent (50 of 128 studies arrived"),
    (looping_ctgov, "ClinicalTrials.gov repeated a page token: tok50 (after 2 pages, 100 of 128 studies)"),
], ids=["budget", "loop"])
def test_a_stopped_run_is_recorded_failed_the_next_source_runs_and_the_lock_is_free(services, tmp_path, ctgov, error,
                                                                                   no_sleep):
    db = str(tmp_path / "litwatch.db")
    with ctgov() as ctgov_url, within(8):
        env = {**services, "LITWATCH_CTGOV_URL": ctgov_url, "LITWATCH_RUN_BUDGET": "0.04"}
        fetched = CliRunner().invoke(cli, ["--db", db, "fetch", "--json", "--no-follow"], env=env)
        assert fetched.exit_code == 3, fetched.output  # partial
        summary = json.loads(fetched.stdout)
        by_source = {r["source"]: r for r in summary["runs"]}
        assert by_source["ctgov"]["status"] == "failed" and by_source["ctgov"]["error"].startswith(error)
        assert "\n" not in by_source["ctgov"]["error"]
        assert (by_source["pubmed"]["status"], by_source["pubmed"]["new"]) == ("success", 304)
        assert (by_source["europepmc"]["status"], by_source["europepmc"]["new"]) == ("success", 25)
        with RunLock(db):  # free at once, no wait
            pass
        again = CliRunner().invoke(cli, ["--db", db, "fetch", "--source", "pubmed", "--no-follow"], env=env)
        assert again.exit_code == 0, again.output
    statuses = sqlite3.connect(db).execute("SELECT source, status FROM runs ORDER BY id").fetchall()
    assert statuses == [("pubmed", "success"), ("ctgov", "failed"), ("europepmc", "success"), ("pubmed", "success")]


def test_the_run_budget_is_set_in_minutes_in_the_file_or_the_environment(tmp_path):
    path = tmp_path / "litwatch.toml"
    assert load_config(env={}).run_budget_seconds == 3600  # the default: an hour a run
    path.write_text(config_template())
    assert load_config(path, env={}).run_budget_minutes == 60
    path.write_text("[run]\nbudget_minutes = 5\n")
    assert load_config(path, env={}).run_budget_seconds == 300
    assert load_config(path, env={"LITWATCH_RUN_BUDGET": "0.5"}).run_budget_seconds == 30  # the environment wins
    for bad, key in [("0", "run.budget_minutes"), ("-1", "run.budget_minutes"), ('"soon"', "run.budget_minutes"),
                     ("true", "run.budget_minutes"), ("nan", "run.budget_minutes")]:
        path.write_text(f"[run]\nbudget_minutes = {bad}\n")
        with pytest.raises(ConfigError, match=f"^config key '{key}' must be a"):
            load_config(path, env={})
    path.write_text("[run]\nbudget = 5\n")
    with pytest.raises(ConfigError, match="^config key 'run.budget' is not recognised$"):
        load_config(path, env={})
    with pytest.raises(ConfigError,
                       match="^config key 'LITWATCH_RUN_BUDGET' must be a number of minutes, got 'an hour'"):
        load_config(env={"LITWATCH_RUN_BUDGET": "an hour"})


# --- A run log dated in the future --------------------------------------------------------

def iso(day: datetime) -> str:
    return day.strftime("%Y-%m-%dT%H:%M:%SZ")


def test_a_run_dated_in_the_future_does_not_move_the_window_past_today(db, monkeypatch, caplog):
    monkeypatch.setattr(runs, "_FUTURE_WARNED", set())
    honest = CtgovStandin(load_studies(), page_size=1000)
    now = datetime.now(timezone.utc)
    with serve(lambda path, params: honest.handle(params), "/api/v2") as url:
        config = Config(urls={"ctgov": url})
        fetch_ctgov(db, config, TOPIC, client=CtgovClient(http(), url))
        fetch_ctgov(db, config, TOPIC, client=CtgovClient(http(), url))
        # The first run was ten days ago; the second ran on a clock 200 days ahead.
        db.execute("UPDATE runs SET started_at = ? WHERE id = 1", [iso(now - timedelta(days=10))])
        db.execute("UPDATE runs SET started_at = ?, finished_at = ? WHERE id = 2",
                   [iso(now + timedelta(days=200)), iso(now + timedelta(days=200, minutes=1))])
        db.commit()
        # Before: the window started 197 days ahead: 0 studies, success, for the next 200 days.
        third = fetch_ctgov(db, config, TOPIC, client=CtgovClient(http(), url))
        start = (now - timedelta(days=10 + runs.OVERLAP_DAYS)).date().isoformat()
        assert third.params["since"] == start
        assert honest.requests[-1]["filter.advanced"] == f"AREA[LastUpdatePostDate]RANGE[{start},MAX]"
        fourth = fetch_ctgov(db, config, TOPIC, client=CtgovClient(http(), url))  # after a run dated today
    assert fourth.params["since"] == (now - timedelta(days=runs.OVERLAP_DAYS)).date().isoformat()
    warnings = [r.getMessage() for r in caplog.records if "in the future" in r.getMessage()]
    assert len(warnings) == 1 and warnings[0].startswith(
        f"ctgov ketamine-ptsd: the last successful fetch is dated {iso(now + timedelta(days=200))}, in the future")


def test_with_only_runs_dated_in_the_future_the_window_is_everything(db, monkeypatch):
    monkeypatch.setattr(runs, "_FUTURE_WARNED", set())
    db.execute("INSERT INTO runs (topic, source, kind, started_at, finished_at, status) VALUES "
               "('ketamine-ptsd', 'pubmed', 'fetch', ?, ?, 'success')",
               [iso(datetime.now(timezone.utc) + timedelta(days=200))] * 2)
    db.commit()
    assert runs.incremental_start(db, "ketamine-ptsd", "pubmed") is None


def test_a_study_that_left_while_paging_is_said_so_not_77_of_76(tmp_path, monkeypatch):
    """Before: a walk in which a study left the search between pages printed "129 of 128
    studies fetched"."""
    from click.testing import CliRunner
    from litwatch.cli import cli

    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr("litwatch.http.time.sleep", lambda s: None)
    hostile = WithdrawnAndAdded(load_studies(), page_size=50)
    with serve(lambda path, params: hostile.handle(params), "/api/v2") as url:
        result = CliRunner().invoke(cli, ["fetch", "--source", "ctgov", "--no-follow"],
                                    env={"LITWATCH_CTGOV_URL": url})
    assert result.exit_code == 0, result.output
    assert "129 studies fetched, 128 of them still in the search (1 left it while paging; kept) (" in result.output
    assert "129 of 128" not in result.output
