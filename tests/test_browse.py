"""Browse and reuse: Datasette with metadata over HTTP, the notebook, CSV/JSON/RIS/BibTeX exports."""

import csv
import io
import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
import sqlite_utils
from click.testing import CliRunner

from litwatch import evidence, frames
from litwatch.browse import QUERIES, datasette_metadata
from litwatch.cli import cli
from litwatch.config import DEFAULT_TOPIC, Topic
from litwatch.sync import import_file
from litwatch.catalog import open_db
from litwatch.catalog import schema

from conftest import FIXTURES, SUBSET, copy_store
from datasette_plugins.pinned_today import pin_today
from conftest import count
from conftest import get as row
from litwatch.store import query

ROOT = Path(__file__).resolve().parents[1]
PLUGINS = Path(__file__).parent / "datasette_plugins"
# "Today" for the Datasette server: the day the ClinicalTrials.gov download was made (its
# versionHolder), so the queries counting from today find rows of it however old it gets.
TODAY = "2025-05-07"
# Every canned query's parameters, empty as Datasette leaves them: the brief's topic, core records.
PARAMS = {"nct_id": "", "topic": "", "relevance": ""}


# A broad topic that holds 127 of the recorded download's 128 trials, for the canned queries
# that count from today.
BROAD = Topic(name="digital-health", queries={"ctgov": {"intervention": "digital"}}, title="Digital health",
              intervention_terms=("digital", "app", "apps", "software", "device", "online", "internet", "mobile",
                                  "virtual", "game", "smartphone", "web", "computer", "video", "text messag",
                                  "telehealth", "remote", "wearable", "sensor", "platform", "program"),
              condition_terms=("disorder", "disease", "syndrome", "pain", "health", "patients", "adults", "children"))


@pytest.fixture(scope="module")
def dbfile(tmp_path_factory, prebuilt):
    def build(folder):
        db = open_db(folder / "litwatch.db")
        import_file(db, SUBSET, topic=DEFAULT_TOPIC.name)
        import_file(db, FIXTURES / "ctg-studies_dtx_psychiatric.json", topic=DEFAULT_TOPIC.name)
        import_file(db, FIXTURES / "ctg-studies_dtx_psychiatric.json", topic=BROAD.name)
        evidence.refresh(db, [DEFAULT_TOPIC, BROAD])
        db.close()
    return copy_store(prebuilt("browse", build), tmp_path_factory.mktemp("browse"))  # made once per test run


def test_metadata_describes_every_table_and_column(dbfile):
    meta = datasette_metadata(dbfile)
    tables = meta["databases"]["litwatch"]["tables"]
    db = sqlite_utils.Database(open_db(dbfile))
    for name in schema().tables:
        assert tables[name]["description"]
        assert set(tables[name]["columns"]) == set(db.table(name).columns_dict), name
    for name in schema().views:
        assert tables[name]["description"] and name in db.view_names()
    assert tables["articles"]["fts_table"] == "articles_fts" and tables["articles_fts"]["hidden"]
    for name, canned in meta["databases"]["litwatch"]["queries"].items():
        db.execute(canned["sql"], PARAMS).fetchall()  # every canned query runs


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get(url):
    with urllib.request.urlopen(url, timeout=10) as response:
        return json.loads(response.read())


@pytest.fixture(scope="module")
def datasette(dbfile, tmp_path_factory):
    meta = tmp_path_factory.mktemp("meta") / "metadata.json"
    meta.write_text(json.dumps(datasette_metadata(dbfile)))
    port = free_port()
    # Datasette as `litwatch serve` runs it (with litwatch's plugin), plus the tests' pinned today.
    proc = subprocess.Popen([sys.executable, "-m", "litwatch.datasette_plugin", "serve", str(dbfile), "-m", str(meta),
                             "--plugins-dir", str(PLUGINS), "--host", "127.0.0.1", "--port", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            env=dict(os.environ, LITWATCH_TEST_TODAY=TODAY))
    base = f"http://127.0.0.1:{port}/litwatch"
    for _ in range(100):
        try:
            get(f"{base}.json")
            break
        except OSError:
            time.sleep(0.1)
    yield base
    proc.terminate()
    proc.wait(10)


@pytest.mark.slow
def test_datasette_lists_tables_with_descriptions(datasette):
    tables = {t["name"]: t for t in get(f"{datasette}.json")["tables"]}
    assert {"articles", "trials", "paper_trial_links", "trial_changes"} <= set(tables)
    assert tables["articles_fts"]["hidden"]
    page = urllib.request.urlopen(f"{datasette}/trials", timeout=10).read().decode()
    assert "One row per ClinicalTrials.gov study." in page


def test_datasette_default_facets(datasette, dbfile):
    data = get(f"{datasette}/trials.json?_size=1")
    facets = data["facet_results"]
    assert {"overall_status", "phases", "design"} <= set(facets)
    completed = next(r for r in facets["overall_status"]["results"] if r["value"] == "COMPLETED")
    db = open_db(dbfile)
    completed_here = db.execute("SELECT count(*) FROM trials WHERE overall_status = 'COMPLETED'").fetchone()[0]
    assert completed["count"] == completed_here
    assert "country" in get(f"{datasette}/trial_locations.json?_size=1")["facet_results"]
    assert {"design", "pub_year"} <= set(get(f"{datasette}/articles.json?_size=1")["facet_results"])


def test_datasette_full_text_search(datasette):
    articles = get(f"{datasette}/articles.json?_search=ketamine+cognitive&_shape=array")
    assert 34092549 in [r["pmid"] for r in articles]
    trials = get(f"{datasette}/trials.json?_search=nightmares&_shape=array")
    assert "NCT04040387" in [r["nct_id"] for r in trials]


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(QUERIES))
def test_every_canned_query_answers(datasette, dbfile, name):
    """Datasette's answer is the query's rows, value for value (today pinned on both sides)."""
    rows = get(f"{datasette}/{name}.json?_shape=array&nct_id=")  # the other parameters left to their defaults
    db = open_db(dbfile)
    pin_today(db, TODAY)
    assert rows == query(db, QUERIES[name]["sql"], PARAMS)


def trials(dbfile) -> list[dict]:
    """The trials of the broad topic, whatever their relevance (the canned queries' relevance=all)."""
    return query(open_db(dbfile), "SELECT * FROM trials WHERE nct_id IN (SELECT nct_id FROM trial_topics "
                                  "WHERE topic = 'digital-health')")


def plus_a_year(day: str) -> str:
    return str(int(day[:4]) + 1) + day[4:]


def test_trials_completing_in_the_next_12_months_as_of_a_fixed_day(datasette, dbfile):
    """The canned query's trials, worked out here in Python from the stored values."""
    answer = get(f"{datasette}/trials_completing_next_12_months.json?_shape=array&topic=digital-health&relevance=all")
    in_progress = {"RECRUITING", "NOT_YET_RECRUITING", "ENROLLING_BY_INVITATION", "ACTIVE_NOT_RECRUITING"}
    expected = sorted((t["primary_completion_date"], t["nct_id"]) for t in trials(dbfile)
                      if t["overall_status"] in in_progress and t["primary_completion_date"]
                      and TODAY <= t["primary_completion_date"] <= plus_a_year(TODAY))
    assert [(r["primary_completion_date"], r["nct_id"]) for r in answer] == expected
    assert len(expected) == 17


def test_unreported_trials_as_of_a_fixed_day(datasette, dbfile):
    """Completed before a year ago, nothing posted, no paper reporting them (worked out here)."""
    answer = get(f"{datasette}/unreported_trials.json?_shape=array&topic=digital-health&relevance=all")
    db = open_db(dbfile)
    reported = {r["nct_id"] for r in query(db, "SELECT l.nct_id, l.reference_type, p.design, p.retracted "
                                                 "FROM paper_trial_links l LEFT JOIN papers p USING (paper_id)")
                if r["reference_type"] == "RESULT" or (not r["retracted"] and r["design"] in (
                    "randomized controlled trial", "non-randomized controlled trial",
                    "single-arm / open-label trial", "observational study", "case report / case series"))}
    year_ago = str(int(TODAY[:4]) - 1) + TODAY[4:]
    expected = sorted((t["primary_completion_date"] or t["completion_date"], t["nct_id"]) for t in trials(dbfile)
                      if t["overall_status"] == "COMPLETED" and not t["has_results"] and t["nct_id"] not in reported
                      and (t["primary_completion_date"] or t["completion_date"] or "9999") < year_ago)
    assert [(r["completed"], r["nct_id"]) for r in answer] == expected
    assert len(expected) == 38


def test_papers_linked_to_one_trial(datasette):
    rows = get(f"{datasette}/papers_linked_to_trial.json?_shape=array&nct_id=nct05305235")
    assert rows and {r["nct_id"] for r in rows} == {"NCT05305235"}


@pytest.mark.slow
def test_notebook_runs_top_to_bottom(dbfile, monkeypatch):
    import nbclient
    import nbformat

    monkeypatch.setenv("LITWATCH_DB", str(dbfile))
    nb = nbformat.read(ROOT / "notebooks" / "explore.ipynb", as_version=4)
    assert all(not c.get("outputs") for c in nb.cells if c.cell_type == "code")  # stored without outputs
    nbclient.NotebookClient(nb, timeout=180, kernel_name="python3",
                            resources={"metadata": {"path": str(ROOT / "notebooks")}}).execute()
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"]
    assert errors == []


def test_frames(dbfile):
    data = frames(dbfile)
    assert len(data["articles"]) == 304 and len(data["trials"]) == 128
    assert list(data["recruiting_trials"].columns)[:2] == ["nct_id", "brief_title"]


def export(dbfile, *args):
    result = CliRunner().invoke(cli, ["--db", str(dbfile), "export", *args], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def test_csv_and_json_exports_of_a_view_and_a_query(dbfile):
    rows = list(csv.DictReader(io.StringIO(export(dbfile, "recruiting_trials"))))
    db = open_db(dbfile)
    assert [r["nct_id"] for r in rows] == [r[0] for r in db.execute("SELECT nct_id FROM recruiting_trials")]
    sql = "select pmid, title from articles where pmid = 34092549"
    data = json.loads(export(dbfile, "--sql", sql, "--format", "json"))
    assert data == [{"pmid": 34092549, "title": row(db, "articles", 34092549)["title"]}]


def test_export_refuses_unknown_tables_and_writes(dbfile):
    assert "no table or view named" in CliRunner().invoke(cli, ["--db", str(dbfile), "export", "x; drop"]).output
    result = CliRunner().invoke(cli, ["--db", str(dbfile), "export", "--sql", "delete from runs"])
    assert result.exit_code == 1 and "the query does more than read" in result.output
    assert count(open_db(dbfile), "runs") == 3  # the fixture's three imports, none deleted


def test_ris_round_trip(dbfile):
    import rispy

    text = export(dbfile, "--format", "ris", "--design", "randomized controlled trial", "--year-from", "2020")
    entries = rispy.loads(text)
    db = open_db(dbfile)
    expected = {r["pmid"]: r for r in query(db,
        "SELECT * FROM articles WHERE design = 'randomized controlled trial' AND pub_year >= 2020 AND NOT retracted")}
    assert sorted(int(e["accession_number"]) for e in entries) == sorted(expected)
    for e in entries:
        row = expected[int(e["accession_number"])]
        assert (e["title"], e.get("doi"), e["year"]) == (row["title"], row["doi"], str(row["pub_year"]))
        authors = [r[0] for r in db.execute("SELECT last_name FROM article_authors "
                                            "WHERE pmid = ? AND last_name IS NOT NULL "
                                            "ORDER BY position", [row["pmid"]])]
        assert [a.split(",")[0] for a in e["authors"]][:len(authors)] == authors


def test_bibtex_round_trip(dbfile):
    import bibtexparser

    text = export(dbfile, "--format", "bibtex", "--topic", "ketamine-ptsd", "--relevance", "core")
    library = bibtexparser.parse_string(text)
    assert library.failed_blocks == []
    (entry,) = library.entries
    fields = {f.key: f.value for f in entry.fields}
    assert entry.key == "pmid34092549" and entry.entry_type == "article"
    assert (fields["doi"], fields["year"]) == ("10.2196/30334", "2021")
    assert fields["journal"] == "JMIR research protocols"
    assert fields["author"].split(" and ")[0] == "Philipp-Muller, Aaron Emile"


def test_serve_without_datasette_says_how_to_install(dbfile, monkeypatch):
    import importlib.util
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "datasette" else real(name, *a))
    result = CliRunner().invoke(cli, ["--db", str(dbfile), "serve"])
    assert result.exit_code == 1 and "-m pip install -e " in result.output and "[datasette]'" in result.output
