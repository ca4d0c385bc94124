"""The report: figures equal SQL counts, each section on known data, determinism, HTML."""

import json
from datetime import date
from html.parser import HTMLParser

import pytest
from click.testing import CliRunner

from litwatch import evidence
from litwatch.cli import cli
from litwatch.config import DEFAULT_TOPIC
from litwatch.sync import import_file
from litwatch.report.build import build_report, phase_label
from litwatch.store import open_db

from conftest import FIXTURES, SUBSET
from conftest import count

TOPIC = DEFAULT_TOPIC.name


@pytest.fixture(scope="module")
def dbpath(tmp_path_factory):
    """Real records of the topic, imported in two runs; the second changes one trial's status."""
    path = tmp_path_factory.mktemp("report") / "litwatch.db"
    db = open_db(path)
    import_file(db, SUBSET, topic=TOPIC)
    studies = json.loads((FIXTURES / "ctg-studies_dtx_psychiatric.json").read_text())
    import_file(db, FIXTURES / "ctg-studies_dtx_psychiatric.json", topic=TOPIC)
    evidence.refresh(db, [DEFAULT_TOPIC])
    db.execute("UPDATE runs SET started_at = '2026-01-10T00:00:00Z', finished_at = '2026-01-10T00:01:00Z'")
    # Second run (synthetic change of a real study): NCT05989841 is completed and posts results.
    changed = next(s for s in studies if s["protocolSection"]["identificationModule"]["nctId"] == "NCT05989841")
    status = changed["protocolSection"]["statusModule"]
    before = status["overallStatus"]
    status.update(overallStatus="COMPLETED", lastUpdatePostDateStruct={"date": "2026-02-01", "type": "ACTUAL"})
    update = path.parent / "second_run_synthetic.json"
    update.write_text(json.dumps([changed]))
    import_file(db, update, topic=TOPIC)
    evidence.refresh(db, [DEFAULT_TOPIC])
    db.execute("UPDATE runs SET started_at = '2026-02-02T00:00:00Z', finished_at = '2026-02-02T00:01:00Z' "
               "WHERE id = (SELECT max(id) FROM runs)")
    db.close()
    return path, before


@pytest.fixture
def db(dbpath):
    database = open_db(dbpath[0])
    yield database
    database.close()


@pytest.fixture(scope="module")
def data(dbpath):
    return build_report(open_db(dbpath[0]), DEFAULT_TOPIC)


def sql_tally(db, sql):
    return dict(db.execute(sql).fetchall())


def test_json_figures_equal_sql_counts(db, data):
    assert data["topic"] == TOPIC and data["as_of"] == "2026-02-02T00:01:00Z"
    assert data["trials_by_status"] == sql_tally(db, f"""
        SELECT t.overall_status, count(*) FROM trials t JOIN trial_topics x USING (nct_id)
        WHERE x.topic = '{TOPIC}' GROUP BY 1 ORDER BY 1""")
    assert sum(data["trials_by_phase"].values()) == count(db, "trial_topics") == 128
    assert data["publications_by_design"] == {d: n for d, n in sql_tally(db, f"""
        SELECT a.design, count(*) FROM articles a JOIN article_topics x USING (pmid)
        WHERE x.topic = '{TOPIC}' AND NOT a.retracted GROUP BY 1""").items()} | {}
    assert data["publications_by_year"] == {str(k): v for k, v in sql_tally(db, f"""
        SELECT a.pub_year, count(*) FROM articles a JOIN article_topics x USING (pmid)
        WHERE x.topic = '{TOPIC}' AND NOT a.retracted GROUP BY 1 ORDER BY 1""").items()}
    assert data["counts"]["publications"] == 304 and data["counts"]["publications_core"] == 1


def test_trials_in_progress_section(db, data):
    expected = db.execute(f"""SELECT count(*) FROM trials t JOIN trial_topics x USING (nct_id) WHERE x.topic = '{TOPIC}'
        AND overall_status IN ('RECRUITING','NOT_YET_RECRUITING','ENROLLING_BY_INVITATION','ACTIVE_NOT_RECRUITING')""").fetchone()[0]
    rows = data["trials_in_progress"]
    assert len(rows) == expected > 0
    assert sum(data["expected_completions"].values()) == expected
    dates = [r["primary_completion_date"] or "9999" for r in rows]
    assert dates == sorted(dates)
    nightware = next(r for r in rows if r["nct_id"] == "NCT04040387")
    assert (nightware["lead_sponsor"], nightware["countries"], nightware["phase"]) == ("NightWare", ["United States"], "Not applicable")


def test_completed_section(db, data):
    done = data["completed_trials"]
    assert done["completed_total"] == data["trials_by_status"]["COMPLETED"]
    assert "NCT05305235" in {t["nct_id"] for t in done["with_results"]}
    unreported = {t["nct_id"] for t in done["unreported"]}
    assert unreported and not unreported & {t["nct_id"] for t in done["with_results"]}
    assert all(t["overall_status"] in ("TERMINATED", "WITHDRAWN", "SUSPENDED") for t in done["stopped"])


def test_published_evidence_section(db, data):
    rcts = data["published_evidence"]["latest_randomized_trials"]
    assert rcts and all(a["design"] == "randomized controlled trial" for a in rcts)
    a = rcts[0]
    assert a["citation"].endswith(f"PMID: {a['pmid']}.") and a["url"].endswith(f"/{a['pmid']}/")
    metas = data["published_evidence"]["latest_meta_analyses"]
    expected = db.execute(f"""SELECT count(*) FROM articles a JOIN article_topics x USING (pmid) WHERE x.topic = '{TOPIC}'
        AND a.design IN ('meta-analysis', 'systematic review') AND NOT a.retracted""").fetchone()[0]
    assert {m["design"] for m in metas} <= {"meta-analysis", "systematic review"} and len(metas) == min(expected, 10)


def test_claims_section(data):
    claims = {c["claim"]: c for c in data["claims"]}
    assert list(claims) == [c.name for c in DEFAULT_TOPIC.claims]
    psychotherapy = claims["Greater effect when combined with psychotherapy"]
    assert [p["pmid"] for p in psychotherapy["papers"]] == [34092549]
    assert psychotherapy["papers_by_design"] == {"study protocol": 1}
    assert claims["Reduced suicidal ideation"]["papers"] == []


def test_what_changed_section(data, dbpath):
    changes = data["changes"]
    assert changes["since"] == "2026-02-02T00:00:00Z"
    assert [(c["nct_id"], c["field"], c["old_value"], c["new_value"]) for c in changes["trial_changes"]] == [
        ("NCT05989841", "overall_status", dbpath[1], "COMPLETED")]
    assert changes["new_trials"] == [] and changes["new_publications"] == []


def test_since_an_earlier_date_shows_new_records(db):
    data = build_report(db, DEFAULT_TOPIC, since=date(2026, 1, 1))
    assert len(data["changes"]["new_publications"]) == 304 and len(data["changes"]["new_trials"]) == 128


def test_as_of_reports_the_state_of_a_past_run(db, dbpath):
    past = build_report(db, DEFAULT_TOPIC, as_of=date(2026, 1, 15))
    trial = next(t for t in past["trials_in_progress"] + past["completed_trials"]["stopped"]
                 if t["nct_id"] == "NCT05989841") if dbpath[1] != "COMPLETED" else None
    assert trial is None or trial["overall_status"] == dbpath[1]
    assert past["as_of"] == "2026-01-15T23:59:59Z"
    assert past["trials_by_status"].get("COMPLETED", 0) == build_report(db, DEFAULT_TOPIC)["trials_by_status"]["COMPLETED"] - 1


def test_sources_section(data):
    sources = {s["source"]: s for s in data["sources"]}
    assert sources["pubmed"]["records_in_topic"] == 304 and sources["ctgov"]["records_in_topic"] == 128
    assert sources["pubmed"]["last_fetch"] is None and sources["pubmed"]["last_import"] == "2026-01-10T00:01:00Z"
    assert data["notice"].startswith("Not a live search")


def test_phase_labels():
    assert phase_label(["PHASE2", "PHASE3"]) == "Phase 2/3"
    assert phase_label(["EARLY_PHASE1"]) == "Phase Early 1"
    assert phase_label(["NA"]) == "Not applicable" and phase_label([]) == "Not given"


def run(dbfile, *args):
    result = CliRunner().invoke(cli, ["--db", str(dbfile), "report", *args], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result


@pytest.mark.parametrize("fmt", ["md", "html", "json"])
def test_same_database_and_options_give_the_same_bytes(dbpath, tmp_path, fmt):
    first, second = tmp_path / f"a.{fmt}", tmp_path / f"b.{fmt}"
    run(dbpath[0], "--format", fmt, "-o", str(first))
    run(dbpath[0], "--format", fmt, "-o", str(second))
    assert first.read_bytes() == second.read_bytes() and first.stat().st_size > 5000


class _Resources(HTMLParser):
    def __init__(self):
        super().__init__()
        self.found = []

    def handle_starttag(self, tag, attrs):
        for name, value in attrs:
            if name in ("src", "href", "xlink:href", "data") and not (tag == "a" and name == "href"):
                self.found.append((tag, name, value))


def test_html_is_self_contained_with_charts_and_every_section(dbpath, tmp_path):
    out = tmp_path / "report.html"
    run(dbpath[0], "--format", "html", "-o", str(out))
    page = out.read_text()
    parser = _Resources()
    parser.feed(page)
    assert [r for r in parser.found if not r[2].startswith("#")] == []
    assert "<link" not in page and "@import" not in page and "url(http" not in page
    assert page.count("<svg") == 3
    for section in ("At a glance", "Trials in progress", "Completed trials and their results", "Published evidence",
                    "Evidence behind the article's claims", "What changed since", "Sources and freshness"):
        assert section in page
    assert 'name="viewport"' in page


def test_markdown_with_chart_files(dbpath, tmp_path):
    out = tmp_path / "out" / "report.md"
    run(dbpath[0], "-o", str(out), "--charts-dir", str(tmp_path / "out" / "charts"))
    text = out.read_text()
    for name in ("publications_by_year", "trials_by_status_and_phase", "expected_completions"):
        assert f"](charts/{name}.png)" in text
        assert (tmp_path / "out" / "charts" / f"{name}.png").read_bytes()[:4] == b"\x89PNG"


def test_since_last_report(dbpath, tmp_path):
    again = json.loads(run(dbpath[0], "--format", "json", "--since-last-report").output)
    assert again["changes"]["since"] == "2026-02-02T00:00:00Z"  # no earlier report: the newest run


def test_missing_database_is_refused_in_one_line(tmp_path):
    result = CliRunner().invoke(cli, ["--db", str(tmp_path / "typo.db"), "report"])
    assert result.exit_code == 2 and result.output.startswith("Error: no database at ")
    assert len(result.output.splitlines()) == 1 and not (tmp_path / "typo.db").exists()


def test_empty_database_gives_a_helpful_report(tmp_path):
    open_db(tmp_path / "empty.db").close()
    result = run(tmp_path / "empty.db")
    assert "The database is empty: run `litwatch fetch`" in result.output
    assert "0 registered trials" in result.output
    assert json.loads(run(tmp_path / "empty.db", "--format", "json").output)["trials_by_status"] == {}


def test_update_offline_imports_the_bundled_sample(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr("litwatch.api._probe", lambda url: False)
    result = CliRunner().invoke(cli, ["update"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "Report written to data/report.html" in result.output
    assert "Offline: PubMed, ClinicalTrials.gov and Europe PMC cannot be reached" in result.output
    assert "Notice: Not a live search" in result.output
    page = (tmp_path / "data" / "report.html").read_text()
    assert "Trials in progress" in page and page.count("<svg") == 3
