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


def test_an_incremental_update_reports_exactly_the_papers_and_trial_changes_it_stored(run, no_sleep):
    records = load_records()
    later = [r for r in records if r.pmid == PROTOCOL or r.pmid % 5 == 0]  # entered PubMed after the first update
    services = Services([r for r in records if r not in later], load_studies())
    with services as env:
        first = run("update", env=env)
        assert first.exit_code == 0, first.output
        data = report(run)
        assert data["changes"]["described"] == f"in the first update, everything stored ({TODAY})"
        assert data["counts"]["publications"] == 0 and "This is the first report" in data["summary"]["text"]

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
    assert changes["described"] == f"in the last update ({TODAY})"
    assert [p["pmid"] for p in changes["new_publications"]] == [PROTOCOL]
    assert len(changes["new_publications"]) + changes["new_related_publications"] == len(stored)
    assert changes["trial_changes"] == []  # neither trial tests ketamine
    assert changes["related_trial_changes"] == len(changed)
    assert data["counts"]["publications"] == 1
    # the canned Datasette query answers the same question
    from litwatch.browse import QUERIES
    canned = sql(QUERIES["changes_in_last_update"]["sql"])
    assert {row[1] for row in canned if row[0] == "paper"} >= {f"PMID:{PROTOCOL}"}
    assert sum(row[0] == "trial" for row in canned) == len(changed)


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


def test_a_failed_refresh_is_in_the_notice_with_the_date_of_the_data(run, no_sleep):
    with Services(load_records(), load_studies()) as env:
        assert run("update", env=env).exit_code == 0
        env["LITWATCH_CTGOV_URL"] = "http://127.0.0.1:9/api/v2"  # nothing listens there
        partial = run("update", env=env)
    assert partial.exit_code == 3  # partial: one source failed
    notices = report(run)["notices"]
    assert any(n.startswith(f"The latest refresh of ClinicalTrials.gov ({TODAY}) failed: ") and
               n.endswith(f"Its data here are as of {TODAY}.") for n in notices), notices


def test_an_offline_update_after_live_ones_says_the_refresh_failed(run, monkeypatch, no_sleep):
    with Services(load_records(), load_studies()) as env:
        assert run("update", env=env).exit_code == 0
    monkeypatch.setattr("litwatch.http.probe", lambda url: False)
    offline = run("update")
    assert offline.exit_code == 1 and "reporting the data already stored" in offline.output
    notices = report(run)["notices"]
    assert notices[-1] == (f"The latest refresh of PubMed, ClinicalTrials.gov and Europe PMC ({TODAY}) failed: "
                           f"none of them could be reached. Their data here are as of {TODAY}.")
