"""The report after `litwatch update` runs, as a user runs them against services that answer
like PubMed, ClinicalTrials.gov and Europe PMC (local stand-ins serving real records): what
changed is complete for every source, live data replaces the offline sample, failures show."""

import json
import sqlite3
from dataclasses import replace
from datetime import date

import pytest
from click.testing import CliRunner

from litwatch.cli import cli

from ctgov_standin import CtgovStandin, load_studies
from europepmc_standin import EuropePmcStandin
from eutils_standin import EutilsStandin, load_records
from standin_server import StandinServices

TODAY = date.today().isoformat()
LONG_TODAY = f"{date.today().day} {date.today():%B %Y}"
PROTOCOL = 34092549  # the one ketamine-for-PTSD paper of the recorded data


@pytest.fixture
def run(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for var in ("NCBI_API_KEY", "NCBI_EMAIL", "LITWATCH_EUTILS_URL", "LITWATCH_CTGOV_URL", "LITWATCH_EUROPEPMC_URL",
                "LITWATCH_DB"):
        monkeypatch.delenv(var, raising=False)

    def invoke(*args, env=None):
        return CliRunner().invoke(cli, list(args), env=env, catch_exceptions=False)
    return invoke


def report(run) -> dict:
    result = run("report", "--format", "json")
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def sql(query, *params):
    with sqlite3.connect("data/litwatch.db") as db:
        return db.execute(query, params).fetchall()


class Services(StandinServices):
    """The three stand-ins, served on 127.0.0.1, and the environment that points litwatch at them."""

    def __init__(self, records, studies, epmc=()):
        super().__init__(EutilsStandin(records), CtgovStandin(studies, page_size=60), EuropePmcStandin(list(epmc)))


@pytest.mark.slow
def test_an_incremental_update_reports_exactly_the_papers_and_trial_changes_it_stored(run, no_sleep):
    records = load_records()
    later = [r for r in records if r.pmid == PROTOCOL or r.pmid % 5 == 0]  # entered PubMed after the first update
    services = Services([r for r in records if r not in later], load_studies())
    with services as env:
        first = run("update", env=env)
        assert first.exit_code == 0, first.output
        data = report(run)
        assert data["changes"]["label"] == f"In the first update ({LONG_TODAY}), which built this database"
        assert data["counts"]["publications"] == 0

        services.eutils.records = [r if r not in later else replace(r, edat=TODAY.replace("-", "/"))
                                   for r in records]
        for nct in ("NCT05989841", "NCT04040387"):  # two PTSD trials (related research) change
            status = services.ctgov.study(nct)["protocolSection"]["statusModule"]
            status["overallStatus"], status["lastUpdatePostDateStruct"]["date"] = "COMPLETED", TODAY
        second = run("update", env=env)
        assert second.exit_code == 0, second.output
    session = sql("SELECT max(session) FROM runs")[0][0]
    stored = {pmid for (pmid,) in sql(
        "SELECT a.pmid FROM articles a JOIN runs r ON r.id = a.first_run_id JOIN article_topics t USING (pmid) "
        "WHERE r.session = ? AND t.relevance IN ('core', 'intervention', 'condition')", session)}
    changed = sql("SELECT c.nct_id, c.field FROM trial_changes c JOIN runs r ON r.id = c.run_id "
                  "WHERE r.session = ? AND c.field != 'new'", session)
    assert PROTOCOL in stored and len(stored) == 15
    assert sorted(changed) == [("NCT04040387", "overall_status"), ("NCT05989841", "overall_status")]

    data = report(run)
    changes = data["changes"]
    assert changes["label"] == f"In the update of {LONG_TODAY}"
    assert [p["pmid"] for p in changes["new_publications"]] == [PROTOCOL]
    assert len(changes["new_publications"]) + changes["new_related_publications"] == len(stored)
    assert changes["trial_changes"] == []  # neither trial tests ketamine
    assert changes["related_trial_changes"] == len(changed)
    assert data["counts"]["publications"] == 1



@pytest.mark.slow
def test_live_data_replaces_the_offline_sample(run, monkeypatch, no_sleep):
    with monkeypatch.context() as m:
        m.setattr("litwatch.http.probe", lambda url: False)
        offline = run("update")
    assert offline.exit_code == 0 and "importing the bundled real sample" in offline.output
    data = report(run)
    assert data["counts"]["publications"] == 1 and data["counts"]["related_trials"] == 8
    assert data["notices"][0] == "Data: the bundled offline sample of real records (litwatch/sample/PROVENANCE.md)."
    assert data["notices"][1].startswith("Not a live search: no search for ketamine for PTSD has reached")

    with Services(load_records(), []) as env:  # ClinicalTrials.gov finds no trial of the topic
        live = run("update", env=env)
    assert live.exit_code == 0, live.output
    data = report(run)
    assert data["counts"]["trials"] == 0 and data["counts"]["related_trials"] == 0  # the sample's 8 are gone
    assert sql("SELECT count(*) FROM trials WHERE origin = 'sample'") == [(8,)]  # kept in the database
    sample_only = sql("SELECT pmid FROM articles WHERE origin = 'sample' AND pmid < 1000000")  # 1970s records
    assert sample_only and str(sample_only[0][0]) not in json.dumps(data)
    assert data["notices"] == [f"Data: live searches of PubMed (last {TODAY}), ClinicalTrials.gov (last {TODAY}) "
                               f"and Europe PMC (last {TODAY})."]


@pytest.mark.slow
def test_a_paper_the_sample_held_is_announced_when_a_live_search_first_brings_it(run, monkeypatch, no_sleep):
    """The README's order: an offline update (the sample holds PMID 34092549), then a live one.
    The live search is the paper's news: in "what changed", the feed and the digest."""
    import feedparser

    with monkeypatch.context() as m:
        m.setattr("litwatch.http.probe", lambda url: False)
        assert run("update").exit_code == 0
    sample = report(run)
    assert sample["changes"]["new_publications"] == [] and sample["changes"]["imported_publications"] == 1
    # Every service was tried: the sources table says when, and that it failed (not "never").
    assert {(s["source"], s["last_attempt"], s["last_fetch"]) for s in sample["sources"]} == {
        (name, "failed", None) for name in ("pubmed", "ctgov", "europepmc")}
    assert run("notify", "--dry-run").output == "Nothing new to send.\n"
    assert feedparser.parse(run("feed").output).entries == []

    with Services(load_records(), []) as env:
        assert run("update", env=env).exit_code == 0
    data = report(run)
    assert [p["pmid"] for p in data["changes"]["new_publications"]] == [PROTOCOL]
    assert data["summary"]["text"] == (
        f"ClinicalTrials.gov, searched on {LONG_TODAY}, holds no registered trial of ketamine for PTSD. PubMed and "
        f"Europe PMC, searched on {LONG_TODAY}, hold no randomized controlled trial, meta-analysis or systematic "
        f"review of ketamine for PTSD; they hold 1 study protocol [1]. In the update of {LONG_TODAY}: 1 new paper [1].")
    (entry,) = feedparser.parse(run("feed").output).entries
    assert entry.id == f"urn:litwatch:event:paper:ketamine-ptsd:PMID:{PROTOCOL}"
    live_run = sql("SELECT live_run_id FROM article_topics WHERE pmid = ?", PROTOCOL)[0][0]
    assert sql("SELECT kind FROM runs WHERE id = ?", live_run) == [("fetch",)]
    assert entry.updated.startswith(sql("SELECT finished_at FROM runs WHERE id = ?", live_run)[0][0][:19])
    digest = run("notify", "--dry-run").output
    assert digest.startswith("1 new event since the last digest.") and f"/{PROTOCOL}/" in digest


@pytest.mark.slow
def test_a_weekly_reader_of_nightly_updates_sees_the_whole_week(run, no_sleep):
    """Nightly updates, a brief read once a week: what changed covers the reader's week (since
    the last weekly report, or a period), whatever the nights in between brought."""
    records = load_records()
    later = [r for r in records if r.pmid == PROTOCOL]
    services = Services([r for r in records if r not in later], load_studies())
    with services as env:
        assert run("update", env=env).exit_code == 0  # night 1
        assert run("report", "-o", "weekly.md", "--record").exit_code == 0  # the reader's weekly brief
        services.eutils.records = [replace(r, edat=TODAY.replace("-", "/")) if r in later else r for r in records]
        assert run("update", env=env).exit_code == 0  # night 2 brings the paper
        assert run("update", env=env).exit_code == 0  # night 3 brings nothing
        nightly = report(run)["changes"]
        assert nightly["label"] == f"In the update of {LONG_TODAY}" and nightly["new_publications"] == []
        weekly = run("report", "-o", "weekly.md", "--changes-since", "last-report", "--record")
        assert weekly.exit_code == 0
        text = open("weekly.md").read()
        assert f"Since the report of {LONG_TODAY}: 1 new paper" in text and f"/{PROTOCOL}/" in text
        period = json.loads(run("report", "--format", "json", "--changes-since", "7 days").output)["changes"]
        assert [p["pmid"] for p in period["new_publications"]] == [PROTOCOL]
        # the configuration does it for every update: the nightly brief covers the week
        open("litwatch.toml", "w").write('[report]\nchanges_since = "7 days"\n')
        assert run("update", env=env).exit_code == 0  # night 4
    brief = json.loads(run("report", "--format", "json").output)
    assert [p["pmid"] for p in brief["changes"]["new_publications"]] == [PROTOCOL]
    assert brief["changes"]["label"].startswith("Since ")


@pytest.mark.slow
def test_datasette_canned_queries_give_the_briefs_numbers(run, no_sleep):
    """Digital therapeutics for PTSD (eight real trials on both concepts): after an update that
    brings a paper and changes trials, each canned query, for the brief's topic by default, for
    core and for related records, lists what the brief counts."""
    from litwatch.browse import datasette_metadata
    from test_report import TOML

    open("litwatch.toml", "w").write(TOML)
    records = load_records()
    later = [r for r in records if r.pmid == PROTOCOL or r.pmid % 7 == 0]
    services = Services([r for r in records if r not in later], load_studies())
    with services as env:
        assert run("update", env=env).exit_code == 0
        services.eutils.records = [replace(r, edat=TODAY.replace("-", "/")) if r in later else r for r in records]
        for nct in ("NCT05989841", "NCT04040387"):
            status = services.ctgov.study(nct)["protocolSection"]["statusModule"]
            status["overallStatus"], status["lastUpdatePostDateStruct"]["date"] = "ACTIVE_NOT_RECRUITING", TODAY
        assert run("update", env=env).exit_code == 0
    data = report(run)
    queries = datasette_metadata("data/litwatch.db", "dtx-ptsd")["databases"]["litwatch"]["queries"]

    def canned(name, relevance=""):
        with sqlite3.connect("data/litwatch.db") as db:
            return db.execute(queries[name]["sql"], {"topic": "", "relevance": relevance, "nct_id": ""}).fetchall()

    c, changes = data["counts"], data["changes"]
    assert len(canned("recruiting_trials")) == c["trials_recruiting"] == 1
    assert [r[0] for r in canned("trials_in_progress")] == [t["nct_id"] for t in data["trials_in_progress"]]
    assert len(canned("latest_rcts_and_meta_analyses")) == c["randomized_trials"] + c["meta_analyses"]
    assert {r[0] for r in canned("unreported_trials")} == {t["nct_id"] for t in data["completed_trials"]["unreported"]}
    last = canned("changes_in_last_update")
    assert [r[1] for r in last if r[0] == "new paper"] == [f"PMID:{p['pmid']}" for p in sorted(
        changes["new_publications"], key=lambda p: p["paper_id"])]
    assert [(r[1], r[3]) for r in last if r[0] == "trial"] == [(x["nct_id"], x["field"])
                                                                for x in changes["trial_changes"]]
    assert changes["trials_changed"] == 2 and changes["new_publications"]
    related = canned("changes_in_last_update", "related")
    assert sum(r[0] == "new paper" for r in related) == changes["new_related_publications"] > 0
    assert sum(r[0] == "trial" for r in related) == changes["related_trial_changes"]


@pytest.mark.slow
def test_a_failed_refresh_is_in_the_notice_with_the_date_of_the_data(run, no_sleep):
    with Services(load_records(), load_studies()) as env:
        assert run("update", env=env).exit_code == 0
        env["LITWATCH_CTGOV_URL"] = "http://127.0.0.1:9/api/v2"  # nothing listens there
        partial = run("update", env=env)
    assert partial.exit_code == 3  # partial: one source failed
    notices = report(run)["notices"]
    assert any(n.startswith(f"The latest refresh of ClinicalTrials.gov ({TODAY}) failed: ") and
               n.endswith(f"Its data here are as of {TODAY}.") for n in notices), notices


@pytest.mark.slow
def test_an_offline_update_after_live_ones_says_the_refresh_failed(run, monkeypatch, no_sleep):
    with Services(load_records(), load_studies()) as env:
        assert run("update", env=env).exit_code == 0
    monkeypatch.setattr("litwatch.http.probe", lambda url: False)
    offline = run("update")
    assert offline.exit_code == 1 and "reporting the data already stored" in offline.output
    notices = report(run)["notices"]
    assert notices[-1] == (f"The latest refresh of PubMed, ClinicalTrials.gov and Europe PMC ({TODAY}) failed: "
                           f"none of them could be reached. Their data here are as of {TODAY}.")
