"""ClinicalTrials.gov: parsing real studies, paging, incremental runs and change history."""

import json
from datetime import date

import pytest
import sqlite_utils
import responses

from litwatch.config import Config, Topic
from litwatch.sources.ctgov.client import CtgovClient
from litwatch.sources.ctgov.parse import parse_study, studies_from_json
from litwatch.errors import HttpError, IncompleteFetch, ServiceUnavailable
from litwatch.http import HttpClient
from litwatch.sync import import_file
from litwatch.sources.ctgov.schema import FAMILY as TRIALS

from conftest import FIXTURES
from ctgov_standin import CtgovStandin, load_studies
from conftest import count, fetch_ctgov, get, rows, search
from litwatch.store import query

BASE = "https://ctgov.test/api/v2"
TOPIC = Topic(name="ketamine-ptsd", queries={"ctgov": {"condition": "PTSD", "intervention": "ketamine"}})
CONFIG = Config(urls={"ctgov": BASE})


def client():
    return CtgovClient(HttpClient(per_second=0, sleep=lambda s: None, max_attempts=3), BASE)


def study(name, nct_id=None):
    studies, _ = studies_from_json(json.loads((FIXTURES / name).read_text()))
    return next(s for s in studies if nct_id is None or s["protocolSection"]["identificationModule"]["nctId"] == nct_id)


def test_ptsd_study_with_results():
    rec = parse_study(study("ctg-studies_dtx_psychiatric.json", "NCT05305235"))
    t = rec["trials"]
    assert (t["acronym"], t["overall_status"], t["has_results"]) == ("RISE", "COMPLETED", True)
    assert (t["enrollment"], t["enrollment_type"], t["allocation"], t["masking"]) == \
        (75, "ACTUAL", "RANDOMIZED", "TRIPLE")
    assert (t["start_date"], t["primary_completion_date"], t["completion_date_type"]) == \
        ("2021-12-01", "2024-02-24", "ACTUAL")
    assert (t["results_first_posted"], t["last_update_posted"]) == ("2025-03-05", "2025-03-05")
    assert (t["lead_sponsor"], t["lead_sponsor_class"], t["sex"], t["minimum_age"]) == (
        "University of North Carolina, Chapel Hill", "OTHER", "FEMALE", "18 Years")
    assert t["url"] == "https://clinicaltrials.gov/study/NCT05305235"
    assert json.loads(t["raw"])["protocolSection"]["identificationModule"]["nctId"] == "NCT05305235"
    mesh = [(c["condition"], c["mesh_id"]) for c in rec["trial_conditions"] if c["source"] == "mesh"]
    assert mesh == [("Stress Disorders, Post-Traumatic", "D013313")]
    assert [(s["role"], s["name"]) for s in rec["trial_sponsors"]] == [
        ("lead", "University of North Carolina, Chapel Hill"), ("collaborator", "Mayday Fund")]
    assert rec["trial_references"][0]["pmid"] == 25848562 and rec["trial_references"][0]["type"] == "BACKGROUND"
    loc = rec["trial_locations"][0]
    assert (loc["city"], loc["country"], loc["lat"]) == ("Chapel Hill", "United States", 35.9132)
    assert {o["kind"] for o in rec["trial_outcomes"]} == {"primary", "secondary"}


def test_study_with_hundreds_of_locations():
    rec = parse_study(study("study_NCT04267848_many_locations.json"))
    t = rec["trials"]
    assert len(rec["trial_locations"]) == 1148
    assert (json.loads(t["phases"]), t["enrollment"], t["enrollment_type"]) == (["PHASE3"], 1210, "ESTIMATED")
    assert [i["id"] for i in rec["trial_ids"]] == ["NCI-2020-00751", "A081801", "A081801", "U10CA180821"]
    assert rec["trial_references"][0]["type"] == "DERIVED" and rec["trial_references"][0]["pmid"] == 33878954
    assert any(m["term"] == "Carboplatin" for m in rec["trial_intervention_mesh"])


def test_field_limited_download_without_derived_section_loads(db):
    result = import_file(db, FIXTURES / "ctg-studies_field_limited.json")
    assert result.source == "ctgov" and result.counts.new == 1
    t = get(db, "trials", "NCT00162175")
    assert (t["brief_title"], t["overall_status"], t["lead_sponsor"]) == (
        "PPAR-COMBO With Sulfonylurea", "COMPLETED", "Bristol-Myers Squibb")
    assert t["start_date"] is None and t["has_results"] == 0
    assert [r["condition"] for r in rows(db, "trial_conditions")] == ["Metabolics Diabetes Nos"]


def test_partial_dates_stay_partial():
    t = parse_study(study("ctg-studies_dtx_psychiatric.json", "NCT06058104"))["trials"]
    assert t["start_date"] == "2025-01"


def test_import_every_shape_and_search_trials(db):
    for name in ("ctg-studies_dtx_psychiatric.json", "study_NCT04267848_many_locations.json",
                 "page_single_NCT06341426.json", "page1_phelan.json"):
        assert import_file(db, FIXTURES / name).counts.received > 0
    assert count(db, "trials") == 128 + 1 + 1 + 5
    hits = {r["nct_id"] for r in search(db, "trials", '"posttraumatic stress disorder"')}
    assert "NCT05305235" in hits and len(hits) >= 5  # conditions are searchable
    assert {r["nct_id"] for r in search(db, "trials", "psilocybin")} == {"NCT06341426"}
    again = import_file(db, FIXTURES / "ctg-studies_dtx_psychiatric.json")
    assert (again.counts.unchanged, again.counts.updated) == (128, 0)


def test_three_real_pages_are_followed_and_a_short_count_is_reported(db):
    pages = [(FIXTURES / n).read_text() for n in ("page1_phelan.json", "page2_phelan.json", "page3_phelan_last.json")]
    tokens = [None, json.loads(pages[0])["nextPageToken"], json.loads(pages[1])["nextPageToken"]]
    with responses.RequestsMock() as rsps:
        for token, body in zip(tokens, pages, strict=True):
            match = [responses.matchers.query_param_matcher({"pageToken": token}, strict_match=False)] if token else \
                [responses.matchers.query_param_matcher({"countTotal": "true"}, strict_match=False)]
            rsps.get(f"{BASE}/studies", body=body, match=match)
        # 13 studies arrive, but the last page repeats three of the first: 10 distinct ones.
        with pytest.raises(IncompleteFetch, match=r"reported 21 studies but served 10 distinct ones \(and 3 repeats\)"):
            fetch_ctgov(db, CONFIG, TOPIC, client=client())
        second = rsps.calls[1].request.url
    assert "pageToken=" in second and "countTotal" not in second and "query.cond=PTSD" in second
    assert count(db, "trials") == 10  # 13 received; the last page repeats three of the first
    assert db.execute("SELECT status, expected, received, repeated FROM runs").fetchone() == ("failed", 21, 10, 3)


@pytest.fixture
def standin():
    s = CtgovStandin(load_studies(), page_size=50)
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        s.add_to(rsps, BASE)
        yield s


def test_fetch_follows_pages_of_the_servers_size(db, standin):
    result = fetch_ctgov(db, CONFIG, TOPIC, client=client())
    assert (result.counts.expected, result.counts.received, result.params["pages"]) == (128, 128, 3)
    first = standin.requests[0]
    assert (first["pageSize"], first["countTotal"], first["query.cond"], first["query.intr"]) == \
        ("1000", "true", "PTSD", "ketamine")
    assert count(db, "trial_changes") == 128
    assert {r["field"] for r in rows(db, "trial_changes")} == {"new"}


def test_second_run_asks_for_the_update_window_and_records_changes_once(db, standin):
    fetch_ctgov(db, CONFIG, TOPIC, client=client())
    db.execute("UPDATE runs SET started_at = '2025-06-10T00:00:00Z'")
    status = standin.study("NCT05989841")["protocolSection"]["statusModule"]
    old_status = status["overallStatus"]
    status["overallStatus"] = "COMPLETED" if old_status != "COMPLETED" else "TERMINATED"
    status["lastUpdatePostDateStruct"]["date"] = "2025-07-01"
    standin.requests.clear()
    second = fetch_ctgov(db, CONFIG, TOPIC, client=client())
    assert standin.requests[0]["filter.advanced"] == "AREA[LastUpdatePostDate]RANGE[2025-06-07,MAX]"
    assert second.counts.updated == 1
    changes = list(query(db, "SELECT nct_id, field, old_value, new_value, last_update_posted, run_id "
                            "FROM trial_changes WHERE field != 'new'"))
    assert changes == [{"nct_id": "NCT05989841", "field": "overall_status", "old_value": old_status,
                        "new_value": status["overallStatus"], "last_update_posted": "2025-07-01",
                        "run_id": second.run_id}]
    third = fetch_ctgov(db, CONFIG, TOPIC, client=client())
    assert third.counts.updated == 0
    assert db.execute("SELECT count(*) FROM trial_changes WHERE run_id = ?", [third.run_id]).fetchone()[0] == 0


def test_since_and_full(db, standin):
    fetch_ctgov(db, CONFIG, TOPIC, client=client(), since=date(2025, 1, 1))
    assert standin.requests[-1]["filter.advanced"] == "AREA[LastUpdatePostDate]RANGE[2025-01-01,MAX]"
    fetch_ctgov(db, CONFIG, TOPIC, client=client(), full=True)
    assert "filter.advanced" not in standin.requests[-1]


def test_a_400_shows_the_services_text(db):
    with responses.RequestsMock() as rsps:
        rsps.get(f"{BASE}/studies", status=400, body="Invalid prefix in parameter name: query.cond",
                 content_type="text/plain")
        with pytest.raises(HttpError, match="HTTP 400: Invalid prefix in parameter name: query.cond"):
            fetch_ctgov(db, CONFIG, TOPIC, client=client())


def test_malformed_json_fails_clearly_and_keeps_data(db, standin):
    fetch_ctgov(db, CONFIG, TOPIC, client=client())
    before = db.execute("SELECT count(*), sum(length(raw)) FROM trials").fetchone()
    with responses.RequestsMock() as rsps:
        rsps.get(f"{BASE}/studies", body='{"studies": [{"protocolSection": ')
        with pytest.raises(ServiceUnavailable, match="malformed JSON"):
            fetch_ctgov(db, CONFIG, TOPIC, client=client(), full=True)
    assert db.execute("SELECT count(*), sum(length(raw)) FROM trials").fetchone() == before
    assert db.execute("SELECT status FROM runs ORDER BY id DESC").fetchone()[0] == "failed"


def test_trial_tables_have_keys_and_foreign_keys(db):
    db = sqlite_utils.Database(db)  # the schema as sqlite-utils and Datasette read it
    assert db.table("trials").pks == ["nct_id"]
    for name in TRIALS.children:
        assert ("nct_id", "trials", "nct_id") in [(fk.column, fk.other_table, fk.other_column)
                                                 for fk in db.table(name).foreign_keys]
    assert db.table("trials").detect_fts() == "trials_fts"
