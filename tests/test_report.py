"""The report on real records: on topic by construction, honest about evidence, complete about
changes, readable, deterministic, self-contained.

Most tests use a topic the recorded data can fill: digital therapeutics for PTSD (eight real
ClinicalTrials.gov studies and three PubMed records mention both concepts). The built-in
ketamine-for-PTSD topic has one paper and no trial in the recorded data; tests of it are in
test_report_updates.py.
"""

import json
import re
from datetime import date
from html.parser import HTMLParser

import pytest
from click.testing import CliRunner

from litwatch import api
from litwatch.cli import cli
from litwatch.config import Claim, Config, Topic
from litwatch.labels import phase_label, status_label
from litwatch.report.build import build_report
from litwatch.catalog import open_db

from conftest import FIXTURES, copy_store

DTX = Topic(
    name="dtx-ptsd", title="Digital therapeutics for PTSD",
    queries={"pubmed": "digital therapeutic AND PTSD",
             "ctgov": {"condition": "PTSD", "intervention": "digital", "term": ""}},
    intervention_terms=("digital therapeutic", "NightWare", "smartphone", "mobile app", "eHealth", "virtual reality",
                        "app-based", "internet-based"),
    condition_terms=("PTSD", "posttraumatic stress", "post-traumatic stress", "post traumatic stress"),
    claims=(Claim("Fewer nightmares", ("nightmare",)), Claim("Works online", ("internet", "online"))))
CONFIG = Config(topics=(DTX,))
TOML = """
[[topics]]
name = "dtx-ptsd"
title = "Digital therapeutics for PTSD"
intervention_terms = ["digital therapeutic", "NightWare", "smartphone", "mobile app", "eHealth", "virtual reality",
                      "app-based", "internet-based"]
condition_terms = ["PTSD", "posttraumatic stress", "post-traumatic stress", "post traumatic stress"]
[topics.pubmed]
query = "digital therapeutic AND PTSD"
[topics.ctgov]
condition = "PTSD"
intervention = "digital"
[[topics.claims]]
name = "Fewer nightmares"
terms = ["nightmare"]
[[topics.claims]]
name = "Works online"
terms = ["internet", "online"]
"""
STUDIES = FIXTURES / "ctg-studies_dtx_psychiatric.json"
FIRST, SECOND = "2026-01-10", "2026-02-02"


def stamp(db, day: str) -> None:
    """Date the runs not yet dated (so reports are reproducible)."""
    db.execute("UPDATE runs SET started_at = ?, finished_at = ? WHERE started_at > '2026-06-01'",
               [f"{day}T00:00:00Z", f"{day}T00:01:00Z"])
    db.commit()


@pytest.fixture(scope="module")
def dbpath(tmp_path_factory, dtx_store):
    """Two imports: first every record (the run's shared store of that import, copied), then
    (a synthetic change of a real study) NCT05989841 completes."""
    path = copy_store(dtx_store, tmp_path_factory.mktemp("report"))
    with open_db(path) as db:
        stamp(db, FIRST)
    studies = json.loads(STUDIES.read_text())
    changed = next(s for s in studies if s["protocolSection"]["identificationModule"]["nctId"] == "NCT05989841")
    changed["protocolSection"]["statusModule"].update(
        overallStatus="COMPLETED", lastUpdatePostDateStruct={"date": "2026-02-01", "type": "ACTUAL"})
    second = path.parent / "second_run_synthetic.json"
    second.write_text(json.dumps([changed]))
    api.import_paths(path, [second], CONFIG, topic=DTX.name)
    with open_db(path) as db:
        stamp(db, SECOND)
    return path


@pytest.fixture
def db(dbpath):
    database = open_db(dbpath, readonly=True)
    yield database
    database.close()


@pytest.fixture(scope="module")
def data(dbpath):
    with open_db(dbpath, readonly=True) as db:
        return build_report(db, DTX)


def relevance(db, table, key_column, key):
    row = db.execute(f"SELECT relevance FROM [{table}] WHERE {key_column} = ? AND topic = ?",
                     [key, DTX.name]).fetchone()
    return row and row[0]


def tally(db, sql):
    return {k: v for k, v in db.execute(sql).fetchall()}


def report_text(dbpath, *args):
    config = dbpath.parent / "litwatch.toml"
    config.write_text(TOML)
    result = CliRunner().invoke(cli, ["--db", str(dbpath), "--config", str(config), "report", *args],
                                catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


@pytest.fixture(scope="module")
def rendered(dbpath):
    """The report as Markdown and HTML, from the library as the CLI renders it."""
    with open_db(dbpath, readonly=True) as db:
        data = build_report(db, DTX)
    return {fmt: api.render_report(data, fmt) for fmt in ("md", "html", "json")}


# ----------------------------------------------------------- on topic ------

def test_headline_figures_count_only_records_on_both_concepts(db, data):
    core = "FROM trial_topics x JOIN trials t USING (nct_id) WHERE x.topic = 'dtx-ptsd' AND x.relevance = 'core'"
    assert data["counts"]["trials"] == db.execute(f"SELECT count(*) {core}").fetchone()[0] == 8
    assert data["trials_by_status"] == {status_label(k): v for k, v in tally(
        db, f"SELECT t.overall_status, count(*) {core} GROUP BY 1").items()}
    assert data["counts"]["publications"] == db.execute(
        "SELECT count(*) FROM article_topics WHERE topic = 'dtx-ptsd' AND relevance = 'core'").fetchone()[0] == 3
    assert data["counts"]["related_trials"] == db.execute(
        "SELECT count(*) FROM trial_topics WHERE topic = 'dtx-ptsd' AND relevance IN ('intervention', 'condition')"
    ).fetchone()[0]


def test_every_listed_record_is_core_and_related_research_is_apart(db, data):
    headline = {k: v for k, v in data.items() if k not in ("related", "changes")}
    for pmid in re.findall(r'"pmid": (\d+)', json.dumps(headline)):
        assert relevance(db, "article_topics", "pmid", int(pmid)) == "core", pmid
    for nct in set(re.findall(r'"nct_id": "(NCT\d+)"', json.dumps(headline))):
        assert relevance(db, "trial_topics", "nct_id", nct) == "core", nct
    for concept, group in data["related"].items():
        assert group["trials"] == db.execute("SELECT count(*) FROM trial_topics WHERE topic = 'dtx-ptsd' "
                                             "AND relevance = ?", [concept]).fetchone()[0]
        for t in group["newest_trials"]:
            assert relevance(db, "trial_topics", "nct_id", t["nct_id"]) == concept
    assert data["related"]["intervention"]["label"] == "Digital therapeutic for other conditions"
    assert data["related"]["condition"]["label"] == "PTSD treated otherwise"


def test_records_on_neither_concept_never_appear(db, data):
    text = json.dumps(data)
    # imported with the topic: a blood-thinner app and a randomised rectal cancer trial
    assert db.execute("SELECT 1 FROM trials WHERE nct_id = 'NCT03968276'").fetchone()
    assert db.execute("SELECT 1 FROM articles WHERE pmid = 32043980").fetchone()
    assert relevance(db, "trial_topics", "nct_id", "NCT03968276") is None
    assert relevance(db, "article_topics", "pmid", 32043980) is None
    assert "NCT03968276" not in text and "32043980" not in text


# ------------------------------------------------------------ trials ------

def test_trials_in_progress_say_what_each_arm_gets_and_flag_stale_entries(data, rendered):
    trials = {t["nct_id"]: t for t in data["trials_in_progress"]}
    assert set(trials) == {"NCT04040387", "NCT06868446"}  # NCT05989841 completed in the second import
    nightware = trials["NCT04040387"]
    assert nightware["interventions"] == ["NightWare Therapeutic System (device)", "Sham NightWare (device)"]
    assert nightware["arms"] == 2 and nightware["last_update_posted"] == "2023-11-08"
    assert nightware["countries"] == ["United States"]
    # estimated primary completion 2024-08-24, no update since: 17 months before 2026-02-02
    assert (nightware["primary_completion_date"], nightware["overdue_months"]) == ("2024-08-24", 18)
    assert trials["NCT06868446"]["overdue_months"] is None  # estimated 2026-07: still ahead
    md = rendered["md"]
    row = next(line for line in md.splitlines() if line.startswith("| [NCT04040387]"))
    assert "Enrolling by invitation" in row and "NightWare Therapeutic System (device)" in row
    assert "**passed 18 months ago, no update since**" in row and "2023-11-08" in row
    assert "passed 18 months ago, no update since</span>" in rendered["html"]


def test_statuses_and_phases_are_readable_for_people_and_codes_in_json(data, rendered):
    for fmt in ("md", "html"):
        assert not re.search(r"\b(ENROLLING_BY_INVITATION|NOT_YET_RECRUITING|ACTIVE_NOT_RECRUITING|PHASE\d)\b",
                             rendered[fmt]), fmt
    assert json.loads(rendered["json"])["trials_in_progress"][0]["overall_status"] == "ENROLLING_BY_INVITATION"
    assert data["trials_by_phase"] == {"Not applicable": 7, "Phase 1": 1}
    assert "| Phase 1 | 1 |" in rendered["md"] and "| Unknown status | 1 |" in rendered["md"]


def test_phase_and_status_labels():
    assert phase_label('["PHASE2", "PHASE3"]') == "Phase 2/3"
    assert phase_label(["EARLY_PHASE1"]) == "Phase Early 1"
    assert phase_label('["NA"]') == "Not applicable" and phase_label(None) == "Phase not given"
    assert status_label("ACTIVE_NOT_RECRUITING") == "Active, not recruiting"


def test_csv_exports_show_labels_and_json_exports_codes(dbpath):
    import csv
    csv_text, _ = api.export(dbpath, table="trials", fmt="csv")
    statuses = {row["overall_status"] for row in csv.DictReader(csv_text.splitlines())}
    assert "Enrolling by invitation" in statuses and not any(s.isupper() for s in statuses)
    changes, _ = api.export(dbpath, sql="SELECT nct_id, field, old_value, new_value FROM trial_changes "
                                        "WHERE field = 'overall_status'", fmt="csv")
    assert changes.splitlines()[1] == "NCT05989841,overall_status,Recruiting,Completed"
    as_json, _ = api.export(dbpath, table="trials", fmt="json")
    assert "ENROLLING_BY_INVITATION" in as_json


# ---------------------------------------------------------- evidence ------

def test_each_design_says_whether_it_was_indexed_or_inferred(data, rendered):
    papers = {p["pmid"]: p for p in data["newest_publications"]}
    assert (papers[34092549]["design"], papers[34092549]["design_basis"]) == ("study protocol", "inferred")
    assert (papers[34097318]["design"], papers[34097318]["design_basis"]) == ("narrative review", "indexed")
    assert data["design_basis"]["study protocol"] == {"indexed": 0, "inferred": 2, "none": 0}
    assert "_(study protocol, inferred from wording)_" in rendered["md"]
    assert "| study protocol | 2 | 0 | 2 |" in rendered["md"]


def test_claims_list_only_records_whose_abstract_or_registered_outcomes_name_them(db, data):
    claims = {c["claim"]: c for c in data["claims"]}
    online = claims["Works online"]
    assert online["evidence"] == [] and [p["pmid"] for p in online["under_study"]] == [34092549]
    (protocol,) = online["under_study"]
    assert protocol["quote"] == {"section": "CONCLUSIONS", "term": "online", "text": (
        "If successful, this study will open online/asynchronous therapeutic options to patients with PTSD and will "
        "provide new insights into the functional role of glutamate in trauma-related disorders as well as in "
        "learning, memory, and fear-extinction.")}
    abstract = db.execute("SELECT abstract FROM articles WHERE pmid = 34092549").fetchone()[0]
    assert protocol["quote"]["text"] in abstract and protocol["size"] == "20 participants"
    assert online["statement"] == (
        "In the PubMed files imported (not a live search), no published study of digital therapeutics for PTSD "
        "names these outcomes in its abstract. 1 study protocol names them. In the ClinicalTrials.gov files "
        "imported (not a live search), no registered trial of digital therapeutics for PTSD measures them as a "
        "primary or secondary outcome.")
    # NightWare's trial is about nightmares, but no primary or secondary outcome it registered names them
    nightmares = claims["Fewer nightmares"]
    assert nightmares["registered_trials"] == [] and nightmares["evidence"] == []


# ----------------------------------------------------------- changes ------

def test_what_changed_counts_trials_changed_and_names_them(data, rendered):
    changes = data["changes"]
    assert changes["label"] == "In the update of 2 February 2026"
    assert changes["new_publications"] == [] and changes["new_trials"] == []
    assert [(c["nct_id"], c["title"], c["label"], c["old"], c["new"]) for c in changes["trial_changes"]] == [
        ("NCT05989841", "Mitigating PTSD-CUD After Sexual Assault", "status", "Recruiting", "Completed")]
    assert changes["trials_changed"] == 1
    assert ("| [NCT05989841](https://clinicaltrials.gov/study/NCT05989841) Mitigating PTSD-CUD After Sexual Assault "
            "| status | Recruiting | Completed | 2026-02-01 |") in rendered["md"]
    assert "1 registered trial with changes to its record (1 change)" in rendered["md"]
    assert data["summary"]["text"].endswith(
        "In the update of 2 February 2026: 1 registered trial with changes to its record [6].")


def test_records_only_files_hold_are_not_news_until_a_live_search_brings_them(dbpath):
    with open_db(dbpath, readonly=True) as db:
        first = build_report(db, DTX, as_of=date(2026, 1, 10))
    changes = first["changes"]
    assert changes["label"] == "In the first update (10 January 2026), which built this database"
    assert changes["new_publications"] == [] and changes["new_trials"] == []
    assert (changes["imported_publications"], changes["imported_trials"]) == (3, 8)
    assert changes["held_only"] == ("3 papers and 8 registered trials are so far held only in files or the bundled "
                                    "sample: they will count as new when a live search first brings them.")
    assert "What changed" not in first["summary"]["text"] and "first" not in first["summary"]["text"]


def test_as_of_gives_the_state_of_that_day(dbpath):
    with open_db(dbpath, readonly=True) as db:
        before = build_report(db, DTX, as_of=date(2026, 1, 10))
    assert "NCT05989841" in {t["nct_id"] for t in before["trials_in_progress"]}
    assert before["as_of"] == "2026-01-10T23:59:59Z"


def test_since_a_date_and_since_the_last_report(dbpath, tmp_path):
    with open_db(dbpath, readonly=True) as db:
        since = build_report(db, DTX, since=date(2026, 1, 1))
    assert since["changes"]["label"] == "Since 1 January 2026"
    assert since["changes"]["imported_trials"] == 8 and since["changes"]["trials_changed"] == 1
    copy = tmp_path / "copy.db"
    copy.write_bytes(dbpath.read_bytes())
    api.write_report(copy, CONFIG, fmt="md", record=True)
    after = api.build_report(copy, CONFIG, since_last_report=True)
    assert after["changes"]["label"] == f"Since the report of {date.today().day} {date.today():%B %Y}"
    assert after["changes"]["trial_changes"] == [] and after["changes"]["new_publications"] == []


# ----------------------------------------------------------- summary ------

def test_the_summary_says_what_the_searched_sources_hold_with_numbered_references(data):
    summary = data["summary"]
    assert summary["text"].startswith(
        "The ClinicalTrials.gov files imported (not a live search) hold 8 registered trials of digital therapeutics "
        "for PTSD; 2 are recruiting or about to, in the United States [1, 2]. The PubMed files imported (not a "
        "live search) hold no randomized controlled trial, meta-analysis or systematic review of digital "
        "therapeutics for PTSD; they hold 1 narrative review and 2 study protocols "
        "[3, 4, 5].")
    for internal in ("in this database", "inferred from wording", "in the last update", "has been published",
                     "have been published", "has not been published"):
        assert internal not in summary["text"]
    assert [r["url"] for r in summary["references"][:2]] == [
        "https://clinicaltrials.gov/study/NCT04040387", "https://clinicaltrials.gov/study/NCT06868446"]
    marks = sorted({int(n) for group in re.findall(r"\[([\d, ]+)\]", summary["text"]) for n in group.split(", ")})
    assert marks == list(range(1, len(summary["references"]) + 1))


def test_the_summary_alone_as_markdown_and_as_an_html_fragment(dbpath, data):
    md = report_text(dbpath, "--section", "summary")
    assert md.startswith(data["summary"]["text"][:60]) and "## " not in md
    assert "1. " in md and "<https://clinicaltrials.gov/study/NCT06868446>" in md
    fragment = report_text(dbpath, "--section", "summary", "--format", "html")
    assert fragment.startswith('<section class="litwatch-summary">') and "<html" not in fragment
    assert '<a href="#ref-1">1</a>' in fragment and '<li id="ref-1">' in fragment


# ------------------------------------------------------ presentation ------

@pytest.mark.slow
@pytest.mark.parametrize("fmt", ["md", "html", "json"])
def test_same_database_and_options_give_the_same_bytes(dbpath, tmp_path, fmt):
    outputs = []
    for i in range(2):
        out = tmp_path / f"r{i}.{fmt}"
        report_text(dbpath, "--format", fmt, "-o", str(out))
        outputs.append(out.read_bytes())
    assert outputs[0] == outputs[1]


class Links(HTMLParser):
    def __init__(self):
        super().__init__()
        self.resources, self.headings, self._in_h2 = [], [], False

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag in ("img", "script", "link", "iframe") or (tag == "source"):
            self.resources.append(attrs.get("src") or attrs.get("href"))
        self._in_h2 = tag == "h2"

    def handle_data(self, data):
        if self._in_h2:
            self.headings.append(data.strip())
            self._in_h2 = False


def test_html_is_self_contained_with_charts_and_every_section(rendered):
    page = Links()
    page.feed(rendered["html"])
    assert page.resources == []  # no external image, script or stylesheet
    assert page.headings == ["Summary", "At a glance", "Trials in progress", "Completed and stopped trials",
                             "Published evidence", "Evidence behind the article's claims", "What changed",
                             "Related research", "Sources and freshness"]
    assert rendered["html"].count("<svg") == 1  # trials by status and phase (two completion years: no chart)


def test_markdown_links_chart_files_that_exist(dbpath, tmp_path):
    out = tmp_path / "report.md"
    report_text(dbpath, "--charts-dir", str(tmp_path / "charts"), "-o", str(out))
    images = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", out.read_text())
    assert images and all((tmp_path / image).exists() for image in images)


def test_sources_section_names_queries_and_freshness(data):
    sources = {s["source"]: s for s in data["sources"]}
    assert set(sources) == {"pubmed", "ctgov"}  # the topic has no Europe PMC query
    assert sources["ctgov"]["records_core"] == 8 and sources["ctgov"]["last_fetch"] is None
    assert sources["ctgov"]["last_import"] == f"{SECOND}T00:01:00Z"


def test_a_topic_is_shown_by_its_title_and_chosen_by_its_name(dbpath, data, rendered):
    from litwatch.config import load_config
    config = dbpath.parent / "litwatch.toml"
    config.write_text(TOML)
    assert load_config(config, env={}).topics == (DTX,)  # the test's topic is what the TOML says
    assert data["title"] == "Ongoing research: Digital therapeutics for PTSD" and data["topic"] == "dtx-ptsd"
    assert rendered["md"].startswith("# Ongoing research: Digital therapeutics for PTSD\n")
    assert report_text(dbpath, "--topic", "dtx-ptsd").startswith("# Ongoing research: Digital therapeutics")


def test_missing_database_is_refused_in_one_line(tmp_path):
    result = CliRunner().invoke(cli, ["--db", str(tmp_path / "typo.db"), "report"])
    assert result.exit_code == 2 and result.output.startswith("Error: no database at ")
    assert len(result.output.splitlines()) == 1 and not (tmp_path / "typo.db").exists()


def test_empty_database_gives_a_helpful_report(tmp_path):
    open_db(tmp_path / "empty.db").close()
    result = CliRunner().invoke(cli, ["--db", str(tmp_path / "empty.db"), "report"])
    assert result.exit_code == 0
    assert '> The database is empty: run "litwatch update"' in result.output


def test_a_figure_table_with_no_row_is_left_out_not_shown_as_none(tmp_path, rendered):
    open_db(tmp_path / "empty.db").close()
    for fmt, marks in (("md", ("| Trial status |", "| Phase |", "| Year |")),
                       ("html", ("<th>Trial status</th>", "<th>Phase</th>", "<th>Year</th>"))):
        out = tmp_path / f"report.{fmt}"
        result = CliRunner().invoke(cli, ["--db", str(tmp_path / "empty.db"), "report", "-o", str(out)])
        assert result.exit_code == 0, result.output
        text = out.read_text()
        assert not any(mark in text for mark in marks) and ">none</td>" not in text and "| none |" not in text
        assert all(mark in rendered[fmt] for mark in marks)  # a store with trials and papers shows all three


def test_text_from_records_is_text_in_html_and_markdown(dbpath, tmp_path):
    copy = tmp_path / "copy.db"
    copy.write_bytes(dbpath.read_bytes())
    hostile = "<script>alert(1)</script> [click](javascript:alert(1)) | cell"  # synthetic title
    with open_db(copy) as db:
        db.execute("UPDATE articles SET title = ? WHERE pmid = 34092549", [hostile])
        db.execute("UPDATE trials SET brief_title = ? WHERE nct_id = 'NCT04040387'", [hostile])
        db.commit()
    data = api.build_report(copy, CONFIG)
    html, md = api.render_report(data, "html"), api.render_report(data, "md")
    assert "<script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<script>" not in md
    assert "&lt;script&gt;alert(1)&lt;/script&gt; \\[click\\](javascript:alert(1)) \\| cell" in md
    assert "](javascript:" not in md.replace("\\](javascript:", "")  # never a link
    row = next(line for line in md.splitlines() if line.startswith("| [NCT04040387]"))
    assert row.count(" | ") == 8  # the pipe in the title does not add a column


def test_topic_titles_queries_and_claims_from_the_configuration_are_text_too(dbpath, tmp_path):
    script = "<script>alert(1)</script>"
    topic = Topic(name="dtx-ptsd", title=f"Digital {script}",
                  queries={"pubmed": f"PTSD {script}", "ctgov": {"condition": script, "intervention": "x", "term": ""}},
                  intervention_terms=DTX.intervention_terms, condition_terms=DTX.condition_terms,
                  claims=(Claim(f"Claim {script}", ("nightmare",)),))
    data = api.build_report(dbpath, Config(topics=(topic,)))
    html, md = api.render_report(data, "html"), api.render_report(data, "md")
    assert script not in html and "&lt;script&gt;" in html
    # Markdown shows queries as code (where renderers keep every character as text; a backtick
    # in a query cannot end the span), everything else escaped
    assert script not in re.sub(r"`[^`\n]*`", "", md) and "&lt;script&gt;" in md
    fragment = api.render_report(data, "html", section="summary")
    assert script not in fragment and "&lt;script&gt;" in fragment


def test_a_date_before_the_first_run_says_so(dbpath):
    with open_db(dbpath, readonly=True) as db:
        data = build_report(db, DTX, as_of=date(2025, 12, 31))
    assert data["notices"] == [f"No run had ended by 2025-12-31: the first run of this database started on {FIRST}."]
    assert data["counts"]["trials"] == 0


def test_edited_terms_are_applied_before_the_report_never_mixed_with_old_counts(dbpath, tmp_path):
    copy = tmp_path / "copy.db"
    copy.write_bytes(dbpath.read_bytes())
    narrower = TOML.replace('"smartphone", "mobile app", "eHealth", "virtual reality",\n                      ', "")
    narrower = narrower.replace('intervention_terms = ["digital therapeutic", "NightWare", ',
                                'intervention_terms = ["NightWare", ')
    assert "digital therapeutic\"," not in narrower and "eHealth" not in narrower
    config = tmp_path / "narrower.toml"
    config.write_text(narrower)
    result = CliRunner().invoke(cli, ["--db", str(copy), "--config", str(config), "report", "--format", "json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["concepts"]["intervention"] == ["NightWare", "app-based", "internet-based"]
    with open_db(copy, readonly=True) as db:
        core = db.execute("SELECT count(*) FROM trial_topics WHERE topic = 'dtx-ptsd' AND relevance = 'core'")
        assert data["counts"]["trials"] == core.fetchone()[0] < 8
    # where the records cannot be placed again, the report is refused in one line saying how
    config.write_text(narrower.replace('"NightWare", ', ""))
    (tmp_path / "copy.db.lock").unlink(missing_ok=True)
    (tmp_path / "copy.db.lock").mkdir()
    refused = CliRunner().invoke(cli, ["--db", str(copy), "--config", str(config), "report"])
    assert refused.exit_code == 2 and len(refused.output.splitlines()) == 1
    assert "the terms of topic dtx-ptsd changed since its records were placed" in refused.output
    assert "run `litwatch migrate` where the database can be written" in refused.output
