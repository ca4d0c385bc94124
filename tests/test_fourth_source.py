"""A source is a folder plus one registry line. A fourth source (Crossref, in tests/crossref_source/,
reading a real recorded response of Crossref's REST API) is registered here and nothing outside
its folder names it; its works reach the papers view, the brief, the events and the feed, the
exports and ``litwatch.frames()`` as a user runs them, from the command line."""

import csv
import io
import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from standin_server import serve

from litwatch import sources
from litwatch.catalog import EVENT_COLUMNS
from litwatch.cli import cli

FIXTURES = Path(__file__).parent / "fixtures"
WORKS = (FIXTURES / "crossref_works_query_ecology.json").read_bytes()
DOIS = ["10.1093/obo/9780199830060-0023", "10.1093/obo/9780199830060-0238"]
CONFIG = """
[services]
crossref_url = "{url}"

[sources.crossref]
rows = "2"  # the recorded response is a page of two (its search holds 586,628 works)

[[topics]]
name = "chemical-ecology"
title = "Ecology of chemicals and communication"
intervention_terms = ["chemical", "communication"]
condition_terms = ["ecology", "ecological"]
[topics.crossref]
query = "ecology"
"""


@pytest.fixture
def crossref(monkeypatch):
    """The registry with the fourth source, as its one line would add it."""
    monkeypatch.setitem(sources.REGISTRY, "crossref", "crossref_source")
    asked = []

    def handle(path, params):
        asked.append((path, params))
        return 200, {"Content-Type": "application/json"}, WORKS
    with serve(handle, "") as url:
        yield url, asked


@pytest.fixture
def run(crossref, tmp_path, monkeypatch):
    url, _ = crossref
    monkeypatch.chdir(tmp_path)
    (tmp_path / "litwatch.toml").write_text(CONFIG.format(url=url))

    def invoke(*args):
        result = CliRunner().invoke(cli, ["--db", str(tmp_path / "litwatch.db"), *args])
        assert result.exit_code == 0, result.output
        return result.output
    return invoke


def test_a_fourth_source_reaches_papers_brief_events_feed_exports_and_frames(run, crossref, tmp_path):
    url, asked = crossref
    said = run("update", "--format", "json", "-o", "brief.json")
    assert ("/works", {"query": "ecology", "rows": "2"}) in asked  # its own client, its own option
    assert "crossref chemical-ecology: 2 of 2 works fetched (2 new" in said

    import sqlite3
    db = sqlite3.connect(tmp_path / "litwatch.db")
    papers = db.execute("SELECT paper_id, source, record_key, title, journal, pub_year, url FROM papers "
                        "ORDER BY paper_id").fetchall()
    assert papers == [
        ("DOI:10.1093/obo/9780199830060-0023", "crossref", DOIS[0], "Chemical Ecology", "Ecology", 2012,
         "https://doi.org/10.1093/obo/9780199830060-0023"),
        ("DOI:10.1093/obo/9780199830060-0238", "crossref", DOIS[1], "Communicating Ecology", "Ecology", 2022,
         "https://doi.org/10.1093/obo/9780199830060-0238")]
    assert db.execute("SELECT paper_id, relevance FROM paper_topics ORDER BY 1").fetchall() == \
        [(p[0], "core") for p in papers]

    # The brief counts and lists them, names where they were searched, cites them with their authors.
    brief = json.loads((tmp_path / "brief.json").read_text())
    assert brief["counts"]["publications"] == 2
    listed = {p["paper_id"]: p for p in brief["newest_publications"]}
    chemical = listed["DOI:10.1093/obo/9780199830060-0023"]
    assert chemical["link_label"] == "Crossref" and chemical["authors"] == ["Kessler A"]
    assert chemical["citation"] == "Kessler A. Chemical Ecology. Ecology. 2012. doi:10.1093/obo/9780199830060-0023."
    assert "Crossref" in json.dumps(brief["searched"])

    # Events and the feed: two new papers, each linking to its DOI.
    events = db.execute("SELECT kind, record_id FROM events ORDER BY record_id").fetchall()
    assert events == [("new_paper", p[0]) for p in papers]
    assert tuple(c[1] for c in db.execute("PRAGMA table_info(events)")) == EVENT_COLUMNS  # every arm's columns
    feed = run("feed")
    assert "Chemical Ecology" in feed and "https://doi.org/10.1093/obo/9780199830060-0238" in feed

    # Exports: citations for reference managers and the papers as CSV.
    ris = run("export", "--format", "ris")
    assert "TI  - Chemical Ecology" in ris and "DO  - 10.1093/obo/9780199830060-0023" in ris and "AU  - Kessler" in ris
    rows = list(csv.DictReader(io.StringIO(run("export", "papers", "--format", "csv"))))
    assert sorted(r["paper_id"] for r in rows) == [p[0] for p in papers]

    # Fetched again: the same works, unchanged, counted as papers whichever source holds them.
    again = run("fetch")
    assert "2 of 2 works fetched (0 new, 0 updated, 2 unchanged" in again and "core to a topic: 2 papers" in again

    # Notebooks: its tables and the views that hold its works.
    import litwatch
    frames = litwatch.frames(tmp_path / "litwatch.db")
    assert len(frames["crossref_works"]) == 2 and set(frames["papers"]["source"]) == {"crossref"}

    # Datasette: its tables described, its full-text index searchable.
    from litwatch.browse import datasette_metadata
    tables = datasette_metadata(tmp_path / "litwatch.db")["databases"]["litwatch"]["tables"]
    assert tables["crossref_works"]["description"] == "One row per Crossref work."
    assert tables["crossref_works"]["fts_table"] == "crossref_works_fts"


def test_nothing_outside_its_folder_names_the_fourth_source():
    """The package never names it: every part it reached above came from its folder."""
    import re

    root = Path(__file__).resolve().parents[1]
    naming = re.compile(r"crossref_(source|works|authors|topics)|[\"']crossref[\"']", re.IGNORECASE)
    assert [p for p in (root / "litwatch").rglob("*.py") if naming.search(p.read_text())] == []
