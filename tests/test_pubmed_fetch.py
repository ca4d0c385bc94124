"""Fetching from PubMed: history-server batches, incremental windows, errors in 200 bodies.

E-utilities is replayed by tests/eutils_standin.py, which serves the real records of
the update-file subset fixture.
"""

from datetime import date

import pytest
import responses

from litwatch.config import Config, Topic
from litwatch.errors import EutilsError, IncompleteFetch, ServiceUnavailable
from litwatch.http import HttpClient
from litwatch.sources.pubmed.client import PubMedClient
from litwatch.catalog import open_db

from conftest import FIXTURES
from eutils_standin import EutilsStandin
from conftest import count, fetch_pubmed, get

BASE = "https://eutils.test/entrez/eutils"
TOPIC = Topic(name="ketamine-ptsd", queries={"pubmed": "ketamine AND PTSD"})
CONFIG = Config(urls={"pubmed": BASE}, sources={"pubmed": {"email": "dev@example.org", "api_key": "SECRETKEY"}})


def client(batch_size=100, **kw):
    http = HttpClient(per_second=0, sleep=lambda s: None, max_attempts=3)
    return PubMedClient(http, BASE, api_key="SECRETKEY", email="dev@example.org", batch_size=batch_size, **kw)


@pytest.fixture
def standin(real_records):
    s = EutilsStandin(real_records)
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        s.add_to(rsps, BASE)
        yield s


def test_first_fetch_uses_history_and_several_batches(db, standin):
    result = fetch_pubmed(db, CONFIG, TOPIC, client=client(batch_size=100))
    assert result.status == "success" and result.params["mode"] == "full"
    assert (result.counts.expected, result.counts.received, result.counts.new) == (304, 304, 304)
    assert count(db, "articles") == 304
    assert standin.count("esearch.fcgi") == 1 and standin.count("efetch.fcgi") == 4
    efetches = [p for name, p in standin.requests if name == "efetch.fcgi"]
    assert [p["retstart"] for p in efetches] == ["0", "100", "200", "300"]
    assert {(p["WebEnv"], p["query_key"], p["retmax"]) for p in efetches} == {("MCID_standin", "1", "100")}
    esearch = standin.requests[0][1]
    assert (esearch["usehistory"], esearch["tool"], esearch["email"]) == ("y", "litwatch", "dev@example.org")
    run = get(db, "runs", result.run_id)
    assert run["status"] == "success" and run["query"] == "ketamine AND PTSD"
    assert "SECRETKEY" not in str(run)


@pytest.mark.slow
def test_second_run_asks_only_for_the_entry_and_modification_window(db, standin):
    fetch_pubmed(db, CONFIG, TOPIC, client=client())
    db.execute("UPDATE runs SET started_at = '2021-06-05T08:00:00Z'")
    standin.requests.clear()
    result = fetch_pubmed(db, CONFIG, TOPIC, client=client())
    searches = [p for name, p in standin.requests if name == "esearch.fcgi"]
    assert [(p["datetype"], p["mindate"], p["maxdate"]) for p in searches] == [
        ("edat", "2021/06/02", "3000/12/31"), ("mdat", "2021/06/02", "3000/12/31")]
    assert result.params["mode"] == "incremental" and result.params["since"] == "2021-06-02"
    c = result.counts
    edat, mdat = ({r.pmid for r in hits} for hits in list(standin.searches.values())[-2:])
    assert edat & mdat  # some records were added and revised in the window...
    assert c.received == len(edat | mdat) and c.repeated == len(edat & mdat)  # ...and are counted once
    assert c.new == 0 and c.unchanged == c.received


@pytest.mark.slow
def test_a_record_found_by_both_incremental_searches_is_stored_once(db, tmp_path, real_records):
    """The store of a run on 2021-06-06 (the records entered before 2021-06-07), then a run
    whose window starts 2021-06-07: the 58 records entered that day were also revised that
    day, so both searches bring each of them; each is one new record, counted once."""
    since = "2021/06/07"
    entered = {r.pmid for r in real_records if r.edat >= since}
    revised = {r.pmid for r in real_records if r.mdat >= since}
    assert len(entered) == 58 and entered < revised and len(revised) == 241
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        EutilsStandin([r for r in real_records if r.pmid not in entered]).add_to(rsps, BASE)
        first = fetch_pubmed(db, CONFIG, TOPIC, client=client())
    db.execute("UPDATE runs SET started_at = '2021-06-10T08:00:00Z'")  # a 3-day overlap: since 2021-06-07
    standin = EutilsStandin(real_records)
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        standin.add_to(rsps, BASE)
        second = fetch_pubmed(db, CONFIG, TOPIC, client=client())
    assert second.params["since"] == "2021-06-07"
    assert [{r.pmid for r in hits} for hits in standin.searches.values()] == [entered, revised]
    c = second.counts
    assert (c.expected, c.received, c.repeated) == (None, 241, 58)  # received: distinct records
    assert (c.new, c.unchanged, c.updated, c.skipped) == (58, 183, 0, 0)
    assert c.received == c.new + c.unchanged
    run = get(db, "runs", second.run_id)
    assert (run["received"], run["new"], run["repeated"]) == (241, 58, 58)
    assert count(db, "articles") == 304
    new = db.execute("SELECT pmid FROM articles WHERE first_run_id = ?", [second.run_id]).fetchall()
    assert sorted(pmid for (pmid,) in new) == sorted(entered)
    assert db.execute("SELECT count(*) FROM articles WHERE first_run_id = ?", [first.run_id]).fetchone() == (246,)
    # Each record's children once: the same rows as one whole fetch of the same records.
    whole = open_db(tmp_path / "whole.db")
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        EutilsStandin(real_records).add_to(rsps, BASE)
        fetch_pubmed(whole, CONFIG, TOPIC, client=client())
    for table in ("article_authors", "article_mesh", "article_publication_types", "article_ids", "article_topics"):
        assert count(db, table) == count(whole, table) > 0, table
    whole.close()


def test_the_standin_reads_the_dates_it_filters_on_by_itself(db, standin, real_records):
    """The stand-in's entry and revision dates come from its own XPath reading of the XML;
    on every record they agree with what litwatch stores, so neither reader's bug hides."""
    fetch_pubmed(db, CONFIG, TOPIC, client=client())
    stored = {r[0]: r[1:] for r in db.execute("SELECT pmid, entrez_date, date_revised FROM articles")}
    assert {r.pmid: (r.edat.replace("/", "-"), r.mdat.replace("/", "-")) for r in real_records} == stored
    one = next(r for r in real_records if r.pmid == 34092549)
    # Its XML: entrez 2021 6 7, DateRevised 2021 06 07, PubDate 2021 Jun 01.
    assert (one.edat, one.mdat, one.pdat) == ("2021/06/07", "2021/06/07", "2021/06/01")


@pytest.mark.slow
def test_since_overrides_and_full_forces_everything(db, standin):
    fetch_pubmed(db, CONFIG, TOPIC, client=client())
    standin.requests.clear()
    fetch_pubmed(db, CONFIG, TOPIC, client=client(), since=date(2021, 6, 7))
    assert {p["mindate"] for n, p in standin.requests if n == "esearch.fcgi"} == {"2021/06/07"}
    standin.requests.clear()
    result = fetch_pubmed(db, CONFIG, TOPIC, client=client(), full=True)
    assert "datetype" not in standin.requests[0][1] and result.counts.unchanged == 304


def test_more_than_the_window_is_split_by_date_and_fetched_whole(db, real_records):
    standin = EutilsStandin(real_records, window=100)
    with responses.RequestsMock() as rsps:
        standin.add_to(rsps, BASE)
        pubmed = client(batch_size=50)
        pubmed_window = 100
        import litwatch.sources.pubmed.client as pc
        old, pc.WINDOW = pc.WINDOW, pubmed_window
        try:
            result = fetch_pubmed(db, CONFIG, TOPIC, client=pubmed)
        finally:
            pc.WINDOW = old
    slices = result.params["searches"]
    assert len(slices) > 3 and all(s["count"] <= 100 for s in slices)
    assert sum(s["count"] for s in slices) == 304
    assert {s["datetype"] for s in slices} == {"pdat"}
    assert count(db, "articles") == 304


def test_esearch_error_in_200_body_fails_the_run_and_keeps_data(db, standin):
    fetch_pubmed(db, CONFIG, TOPIC, client=client())
    with responses.RequestsMock() as rsps:
        rsps.post(f"{BASE}/esearch.fcgi", body=(FIXTURES / "esearch_error_bad_db.xml").read_bytes())
        with pytest.raises(EutilsError, match="Invalid db name specified: fleegle"):
            fetch_pubmed(db, CONFIG, TOPIC, client=client(), full=True)
    assert count(db, "articles") == 304
    failed = db.execute("SELECT status, error FROM runs ORDER BY id DESC LIMIT 1").fetchone()
    assert failed[0] == "failed" and "fleegle" in failed[1]


def test_phrase_not_found_with_no_hits_is_an_empty_result(db):
    with responses.RequestsMock() as rsps:
        rsps.post(f"{BASE}/esearch.fcgi", body=(FIXTURES / "esearch_phrase_not_found.xml").read_bytes())
        result = fetch_pubmed(db, CONFIG, TOPIC, client=client())
    assert result.status == "success" and result.counts.expected == 0 and result.counts.received == 0


def test_rate_limit_json_body_is_retried(db, standin, real_records):
    with responses.RequestsMock() as rsps:
        rsps.post(f"{BASE}/esearch.fcgi", body=(FIXTURES / "eutils_rate_limit_error.json").read_bytes())
        standin.add_to(rsps, BASE)
        result = fetch_pubmed(db, CONFIG, TOPIC, client=client())
    assert result.counts.received == 304


def test_malformed_efetch_is_retried_then_fails_clearly_with_data_intact(db, standin):
    fetch_pubmed(db, CONFIG, TOPIC, client=client())
    before = db.execute("SELECT count(*), sum(length(title)) FROM articles").fetchone()
    truncated = (FIXTURES / "einfo_truncated.xml").read_bytes()
    with responses.RequestsMock() as rsps:
        standin.add_to(rsps, BASE)
        rsps.replace("POST", f"{BASE}/efetch.fcgi", body=truncated)
        with pytest.raises(ServiceUnavailable, match="efetch returned unusable XML"):
            fetch_pubmed(db, CONFIG, TOPIC, client=client(), full=True)
    assert db.execute("SELECT count(*), sum(length(title)) FROM articles").fetchone() == before


def test_server_serving_fewer_records_than_counted_fails_the_run(db, standin):
    with responses.RequestsMock() as rsps:
        standin.add_to(rsps, BASE)
        rsps.replace("POST", f"{BASE}/efetch.fcgi", body=(FIXTURES / "efetch_empty_set.xml").read_bytes())
        # Every efetch, by batch or by PMID, answers an empty set: the search's ID list is read
        # to fetch what is missing, and nothing comes.
        with pytest.raises(IncompleteFetch, match="PubMed lists 304 records for the search, but 304 of them were "
                                                  "served neither in its batches nor by PMID"):
            fetch_pubmed(db, CONFIG, TOPIC, client=client())
    assert db.execute("SELECT status FROM runs").fetchone()[0] == "failed"


def test_identity_and_key_are_sent_but_never_stored(db, standin):
    fetch_pubmed(db, CONFIG, TOPIC, client=client())
    assert all(p.get("api_key") == "SECRETKEY" for _, p in standin.requests)
    dump = "\n".join(db.iterdump())
    assert "SECRETKEY" not in dump
