"""A hostile world: one bad record never blocks a run, and every failure is one line.

Each hostile input is a real record with one edit (a PMID that is not one, a module of the
wrong JSON type, a 12 MiB title...), made here from the fixtures. The bad record is skipped,
counted as received and skipped, named in one warning line, and kept out of the store; the
records around it are stored, and the other sources of a fetch still run.
"""

import copy
import gzip
import json
import logging

import pytest
from click.testing import CliRunner

from litwatch import api
from litwatch.cli import cli
from litwatch.config import Config, Topic
from litwatch.errors import BadRecord
from litwatch.sources import get
from litwatch.sources.checks import MAX_TEXT, nct_id, pmid
from litwatch.sources.ctgov.parse import parse_study
from litwatch.sources.europepmc.parse import parse_result
from litwatch.sources.pubmed.parse import parse_xml_bytes
from litwatch.sync import fetch_topic, import_file

from conftest import FIXTURES, count
from ctgov_standin import CtgovStandin, load_studies
from europepmc_standin import EuropePmcStandin, load_results
from eutils_standin import EutilsStandin, StoredRecord

WORDING = FIXTURES / "pubmed_design_wording_examples.xml"  # 15 real PubmedArticle records
FIRST_PMID = b">33974993</PMID>"
NBIB = FIXTURES / "pubmed_export_blachlylab.nbib"  # 2 real MEDLINE records, 30501481 first
TOPIC = Topic(name="ketamine-ptsd", queries={"pubmed": "ketamine AND PTSD", "ctgov": {"condition": "PTSD"},
                                            "europepmc": "ketamine AND PTSD"})
# The clients' pacing (ClinicalTrials.gov: one request a second) is recorded, not waited out.
pytestmark = pytest.mark.usefixtures("no_sleep")
BAD_PMIDS = [("abc", "'abc'"), ("-5", "'-5'"), ("0", "'0'"), ("12345678901234567890", "'12345678901234567890'"),
             ("", "(none)"), ("1\n2", r"'1\n2'"), ("²", "'²'")]


def warnings(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]


def one_line(message: str) -> bool:
    return "\n" not in message and "\r" not in message


# --- PubMed -------------------------------------------------------------------------------------

def test_what_a_pmid_and_an_nct_id_are():
    # NLM: "a 1 to 8-digit accession number with no leading zeros"; one digit of headroom.
    assert [pmid(v) for v in ("33974993", " 1 ", 999999999, "007")] == [33974993, 1, 999999999, 7]
    assert [pmid(v) for v in ("abc", "-5", "0", "1000000000", "", None, "²", True, 1.5)] == [None] * 9
    assert [nct_id(v) for v in ("NCT05305235", " nct05305235 ", "NCT123", "NCT053052350", "NCT 05305235", 5)] == [
        "NCT05305235", "NCT05305235", None, None, None, None]


@pytest.mark.parametrize("bad,shown", BAD_PMIDS)
def test_a_pubmed_xml_record_whose_pmid_is_not_one_is_skipped(db, tmp_path, caplog, bad, shown):
    path = tmp_path / "edited.xml"
    path.write_bytes(WORDING.read_bytes().replace(FIRST_PMID, f">{bad}</PMID>".encode(), 1))
    result = import_file(db, path)
    c = result.counts
    assert (c.received, c.new, c.skipped) == (15, 14, 1)
    assert count(db, "articles") == 14 and not db.execute("SELECT 1 FROM articles WHERE pmid <= 0").fetchall()
    (line,) = [w for w in warnings(caplog) if "skipped" in w]
    assert line == (f"skipped {path}: record 1: PMID {shown} is not a PubMed ID "
                    f"(a whole number from 1 to 999999999)") and one_line(line)


@pytest.mark.parametrize("bad,shown", BAD_PMIDS[:4] + [("", "''")])  # MEDLINE gives an empty PMID as ''
def test_a_medline_record_whose_pmid_is_not_one_is_skipped(db, tmp_path, caplog, bad, shown):
    path = tmp_path / "edited.nbib"
    path.write_text(NBIB.read_text().replace("PMID- 30501481", f"PMID- {bad}", 1))
    c = import_file(db, path).counts
    assert (c.received, c.new, c.skipped) == (2, 1, 1)
    assert [r[0] for r in db.execute("SELECT pmid FROM articles")] == [28418267]
    assert f"skipped {path}: record 1: PMID {shown} is not a PubMed ID" in warnings(caplog)[0]


def test_a_medline_record_without_a_pmid_line_is_skipped(db, tmp_path, caplog):
    path = tmp_path / "edited.nbib"
    path.write_text(NBIB.read_text().replace("PMID- 28418267\n", "", 1))
    c = import_file(db, path).counts
    assert (c.received, c.new, c.skipped) == (2, 1, 1)
    assert warnings(caplog) == [f"skipped {path}: record 2: no PMID line"]


def test_a_deletion_naming_a_bad_pmid_deletes_the_others(db, caplog):
    body = (FIXTURES / "delete_citation_synthetic.xml").read_bytes()
    (event,) = [e for e in parse_xml_bytes(body.replace(b"<PMID", b"<PMID>abc</PMID><PMID", 1)) if e.kind == "delete"]
    assert event.pmids == [e for e in parse_xml_bytes(body) if e.kind == "delete"][0].pmids
    assert any("PMID 'abc' is not a PubMed ID; ignored" in w for w in warnings(caplog))


def test_digits_python_reads_but_int_refuses_do_not_break_a_record():
    record = WORDING.read_bytes().split(b"<PubmedArticle>")[1].split(b"</PubmedArticle>")[0]
    edited = record.replace(b"<Day>", b"<Day>\xc2\xb2", 1).replace(b"<Month>", b"<Month>\xc2\xb2", 1)
    (event,) = parse_xml_bytes(b"<PubmedArticleSet><PubmedArticle>" + edited + b"</PubmedArticle></PubmedArticleSet>")
    assert event.kind == "article" and event.record.key == 33974993


# --- oversized fields ---------------------------------------------------------------------------

@pytest.mark.slow
def test_a_12_mib_title_in_an_efetch_answer_is_skipped_and_the_batch_stored(db, real_records, caplog):
    records = copy.deepcopy(real_records)
    big = records[0]
    big.xml = big.xml.replace(b"<ArticleTitle>", b"<ArticleTitle>" + b"x" * (12 << 20), 1)
    standin = EutilsStandin(records)
    source = get("pubmed")
    with standin.serve() as url:
        config = Config(urls={"pubmed": url})
        result = fetch_topic(db, config, source, TOPIC)
    c = result.counts
    assert result.status == "success" and (c.expected, c.received, c.new, c.skipped) == (304, 304, 303, 1)
    assert not db.execute("SELECT 1 FROM articles WHERE pmid = ?", [big.pmid]).fetchall()
    (line,) = [w for w in warnings(caplog) if "skipped" in w]
    assert line.startswith("skipped PubMed efetch: record ") and (
        f"PMID {big.pmid}: articles.title is 12,5" in line and "more than the 1,048,576" in line)


def test_oversized_fields_are_skipped_by_every_parser(db, tmp_path):
    long = "x" * (MAX_TEXT + 1)
    nbib = tmp_path / "long.nbib"
    nbib.write_text(NBIB.read_text().replace("TI  - ", f"TI  - {long} ", 1))
    assert import_file(db, nbib).counts.skipped == 1
    study = load_studies()[0]
    study["protocolSection"]["descriptionModule"]["briefSummary"] = long
    with pytest.raises(BadRecord, match=r"NCT\d{8}: trials.brief_summary is 1,048,577 characters long"):
        parse_study(study)
    result = load_results()[0]
    result["abstractText"] = long
    with pytest.raises(BadRecord, match="europepmc_records.abstract is 1,048,577 characters long"):
        parse_result(result)
    just_fits = load_studies()[0]
    just_fits["protocolSection"]["descriptionModule"]["briefSummary"] = long[:-1]
    assert parse_study(just_fits)["trials"]["brief_summary"] == long[:-1]


# --- ClinicalTrials.gov -------------------------------------------------------------------------

def _status_string(s):
    s["protocolSection"]["statusModule"] = "COMPLETED"


def _design_list(s):
    s["protocolSection"]["designModule"] = [s["protocolSection"]["designModule"]]


def _no_nct_id(s):
    del s["protocolSection"]["identificationModule"]["nctId"]


def _short_nct_id(s):
    s["protocolSection"]["identificationModule"]["nctId"] = "NCT123"


def _locations_strings(s):
    s["protocolSection"]["contactsLocationsModule"] = {"locations": ["Boston"]}


def _title_object(s):
    s["protocolSection"]["identificationModule"]["briefTitle"] = {"text": "a title"}


def _huge_enrollment(s):
    s["protocolSection"]["designModule"]["enrollmentInfo"] = {"count": 10 ** 20}


@pytest.mark.slow
@pytest.mark.parametrize("edit,reason", [
    (_status_string, "NCT04770285: statusModule is a string, not an object"),
    (_design_list, "NCT04770285: designModule is a list, not an object"),
    (_no_nct_id, "NCT ID (none) is not NCT followed by 8 digits"),
    (_short_nct_id, "NCT ID 'NCT123' is not NCT followed by 8 digits"),
    (_locations_strings, "NCT04770285: locations holds a string, not an object"),
    (_title_object, "NCT04770285: trials.brief_title is an object, not text or a number"),
    (_huge_enrollment, "NCT04770285: trials.enrollment is a 21-digit number, too large to store"),
])
def test_a_malformed_study_is_skipped_and_the_others_stored_on_every_page(db, caplog, edit, reason):
    studies = load_studies()
    edit(studies[5])  # NCT04770285, on the first page of 60
    standin = CtgovStandin(studies, page_size=60)
    with standin.serve() as url:
        result = fetch_topic(db, Config(urls={"ctgov": url}), get("ctgov"), TOPIC)
    c = result.counts
    assert result.status == "success" and (c.expected, c.received, c.new, c.skipped) == (128, 128, 127, 1)
    assert count(db, "trials") == 127
    (line,) = [w for w in warnings(caplog) if w.startswith("skipped")]
    assert line == f"skipped ClinicalTrials.gov page 1, study 6: {reason}"


def test_an_nct_id_with_spaces_or_lower_case_is_repaired(db):
    studies = load_studies()
    studies[5]["protocolSection"]["identificationModule"]["nctId"] = " nct04770285 "
    standin = CtgovStandin(studies, page_size=60)
    with standin.serve() as url:
        result = fetch_topic(db, Config(urls={"ctgov": url}), get("ctgov"), TOPIC)
    assert (result.counts.new, result.counts.skipped) == (128, 0)
    assert db.execute("SELECT url FROM trials WHERE nct_id = 'NCT04770285'").fetchone() == (
        "https://clinicaltrials.gov/study/NCT04770285",)


@pytest.mark.slow
@pytest.mark.parametrize("total,expected", [("128", 128), (" 128 ", 128), ("lots", None), (-1, None), ([128], None)])
def test_total_count_as_a_string_or_garbage(db, caplog, total, expected):
    class Odd(CtgovStandin):
        def handle(self, params):
            status, headers, body = super().handle(params)
            page = json.loads(body)
            if "totalCount" in page:
                page["totalCount"] = total
            return status, headers, json.dumps(page).encode()

    with Odd(load_studies(), page_size=60).serve() as url:
        result = fetch_topic(db, Config(urls={"ctgov": url}), get("ctgov"), TOPIC)
    assert result.status == "success" and (result.counts.expected, result.counts.received) == (expected, 128)
    said = [w for w in warnings(caplog) if "totalCount" in w]
    assert len(said) == (expected is None) and all(one_line(w) for w in said)


def test_a_file_of_studies_with_a_malformed_one_loads_the_rest(db, tmp_path, caplog):
    studies = load_studies()
    studies[2] = "not a study"
    path = tmp_path / "ctg-studies.json"
    path.write_text(json.dumps(studies))
    c = import_file(db, path).counts
    assert (c.received, c.new, c.skipped) == (128, 127, 1)
    assert f"skipped {path}: study 3: a string, not a study object" in warnings(caplog)


def test_follow_up_requests_leave_out_ids_of_another_shape(caplog):
    standin = CtgovStandin(load_studies())
    with standin.serve() as url:
        client = get("ctgov").client(Config(urls={"ctgov": url}).settings(get("ctgov")))
        got = client.studies_by_id(["NCT123", "nct04770285", "NCT04770285\nX"])
    assert [s["protocolSection"]["identificationModule"]["nctId"] for s in got] == ["NCT04770285"]
    assert standin.requests[0]["filter.ids"] == "NCT04770285"
    assert sum("not an NCT ID" in w for w in warnings(caplog)) == 2 and all(one_line(w) for w in warnings(caplog))


# --- Europe PMC ---------------------------------------------------------------------------------

@pytest.mark.parametrize("edit,reason", [
    (lambda r: "garbage", "a string, not a result object"),
    (lambda r: {k: v for k, v in r.items() if k != "id"}, "id (none) is not a Europe PMC record ID"),
    (lambda r: dict(r, source="M D"), "source 'M D' is not a three-letter source code (MED, PMC, PPR...)"),
    (lambda r: dict(r, id="abc"), "PMID 'abc' is not a PubMed ID (a whole number from 1 to 999999999)"),
    (lambda r: dict(r, id="1 OR 1"), "id '1 OR 1' is not a Europe PMC record ID"),
    (lambda r: dict(r, journalInfo="Cancer Res"), "MED:40464630: journalInfo is a string, not an object"),
    (lambda r: dict(r, title=["a", "list"]), "MED:40464630: a title or abstract is a list, not text"),
])
def test_a_malformed_europepmc_result_is_skipped(db, caplog, edit, reason):
    results = load_results()
    assert results[3]["id"] == "40464630"
    results[3] = edit(results[3])
    standin = EuropePmcStandin(results)
    with standin.serve() as url:
        result = fetch_topic(db, Config(urls={"europepmc": url}), get("europepmc"), TOPIC)
    c = result.counts
    assert result.status == "success" and (c.expected, c.received, c.new, c.skipped) == (25, 25, 24, 1)
    (line,) = [w for w in warnings(caplog) if w.startswith("skipped")]
    assert line == f"skipped Europe PMC page 1, result 4: {reason}"


def test_a_lower_case_source_and_padded_id_are_repaired():
    raw = dict(load_results()[3], source=" med ", id=" 40464630 ")
    assert parse_result(raw)["europepmc_records"]["epmc_id"] == "MED:40464630"


def test_a_saved_array_with_a_malformed_result_loads_the_rest(db, tmp_path, caplog):
    results = load_results()
    results.insert(1, {"id": "1"})
    path = tmp_path / "saved.json"
    path.write_text(json.dumps(results))
    c = import_file(db, path).counts
    assert (c.received, c.new, c.skipped) == (26, 25, 1)
    assert (f"skipped {path}: result 2: source (none) is not a three-letter source code (MED, PMC, PPR...)"
            in warnings(caplog))


# --- books are read and skipped, so a search holding one adds up ------------------------------

def test_a_book_in_a_full_pubmed_fetch_is_counted_and_the_run_succeeds(db, real_records):
    book = (FIXTURES / "efetch.pubmedbook.xml").read_bytes()
    xml = b"<PubmedBookArticle>" + book.split(b"<PubmedBookArticle>")[1].split(b"</PubmedBookArticle>")[0] \
        + b"</PubmedBookArticle>"
    standin = EutilsStandin(real_records + [StoredRecord(20301295, "2010/03/20", "2010/03/20", "2010/03/20", xml)])
    with standin.serve() as url:
        result = fetch_topic(db, Config(urls={"pubmed": url}), get("pubmed"), TOPIC)
    c = result.counts
    assert result.status == "success" and (c.expected, c.received, c.new, c.skipped) == (305, 305, 304, 1)


# --- every failure is one line ------------------------------------------------------------------

@pytest.fixture
def servers(real_records):
    eutils, ctgov, europepmc = EutilsStandin(real_records), CtgovStandin(load_studies(), page_size=60), \
        EuropePmcStandin(load_results())
    with eutils.serve() as e, ctgov.serve() as c, europepmc.serve() as p:
        yield {"LITWATCH_EUTILS_URL": e, "LITWATCH_CTGOV_URL": c, "LITWATCH_EUROPEPMC_URL": p}


@pytest.fixture
def run(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for var in ("NCBI_API_KEY", "NCBI_EMAIL", "LITWATCH_DB"):
        monkeypatch.delenv(var, raising=False)

    def invoke(*args, env=None):
        return CliRunner().invoke(cli, list(args), env=env)
    return invoke


def boom(*args, **kwargs):
    raise RuntimeError("boom\nError: all is well")


def test_an_unexpected_error_in_one_source_is_one_line_and_the_others_still_run(run, servers, monkeypatch):
    monkeypatch.delenv("LITWATCH_DEBUG")
    monkeypatch.setattr(get("ctgov"), "search", boom)
    result = run("fetch", "--no-follow", env=servers)
    assert result.exit_code == 3  # partial: one source failed
    errors = [line for line in result.stderr.splitlines() if "Error" in line]
    assert errors == ["Error: ctgov ketamine-ptsd: unexpected RuntimeError: boom\\nError: all is well "
                      "(run with -v for the traceback)"]
    assert "Traceback" not in result.stderr + result.stdout
    assert "europepmc ketamine-ptsd: 25 of 25 records fetched" in result.stdout
    runs = {r["source"]: r for r in api.list_runs("data/litwatch.db")}
    assert runs["ctgov"]["status"] == "failed" and "RuntimeError: boom" in runs["ctgov"]["error"]
    assert runs["pubmed"]["status"] == runs["europepmc"]["status"] == "success"

    as_json = run("fetch", "--no-follow", "--json", env=servers)
    summary = json.loads(as_json.stdout)
    assert as_json.exit_code == 3 and summary["status"] == "partial"
    assert [e["what"] for e in summary["errors"]] == ["ctgov ketamine-ptsd"]
    assert summary["errors"][0]["error"].startswith("unexpected RuntimeError: boom\\nError: all is well")
    assert [r["source"] for r in summary["runs"] if r["status"] == "success"] == ["pubmed", "europepmc"]


@pytest.mark.slow
def test_with_litwatch_debug_set_a_bug_propagates(db, servers, monkeypatch):
    monkeypatch.setattr(get("ctgov"), "search", boom)
    config = Config(urls={"pubmed": servers["LITWATCH_EUTILS_URL"], "ctgov": servers["LITWATCH_CTGOV_URL"],
                          "europepmc": servers["LITWATCH_EUROPEPMC_URL"]}, topics=(TOPIC,))
    with pytest.raises(RuntimeError, match="boom"):
        api.fetch(db, config, follow=False)


def test_the_traceback_of_an_unexpected_error_is_logged_at_debug_level(run, servers, monkeypatch, caplog):
    monkeypatch.delenv("LITWATCH_DEBUG")
    monkeypatch.setattr(get("ctgov"), "search", boom)
    caplog.set_level(logging.DEBUG, logger="litwatch")
    run("-v", "fetch", "--no-follow", "--source", "ctgov", env=servers)
    (record,) = [r for r in caplog.records if r.levelno == logging.DEBUG and r.exc_info]
    assert record.getMessage() == "ctgov ketamine-ptsd failed" and record.exc_info[0] is RuntimeError


@pytest.mark.slow
def test_import_and_update_print_their_json_summary_with_the_error(run, servers, monkeypatch, tmp_path):
    monkeypatch.delenv("LITWATCH_DEBUG")
    broken = tmp_path / "broken.json"
    broken.write_text(json.dumps(load_studies()[:2]))
    monkeypatch.setattr("litwatch.sources.ctgov.source.CtgovSource.read", boom)
    imported = run("import", str(broken), str(FIXTURES / "pubmed-29768149.xml"), "--json")
    summary = json.loads(imported.stdout)
    assert imported.exit_code == 3 and summary["status"] == "partial"
    assert summary["errors"] == [{"what": str(broken), "error": "unexpected RuntimeError: boom\\nError: all is well "
                                                                "(run with -v for the traceback)"}]
    assert [(r["source"], r["status"]) for r in summary["runs"]] == [("ctgov", "failed"), ("pubmed", "success")]

    monkeypatch.setattr("litwatch.api.write_report", boom)
    updated = run("update", "--json", env=servers)
    summary = json.loads(updated.stdout)
    assert updated.exit_code == 3 and summary["report"] is None
    assert [e["what"] for e in summary["errors"]] == ["report"]
    assert {r["status"] for r in summary["runs"]} == {"success"}


def test_a_command_that_fails_whole_prints_one_line_and_its_json(run, monkeypatch):
    monkeypatch.delenv("LITWATCH_DEBUG")
    monkeypatch.setattr("litwatch.api.writing", boom)
    result = run("fetch", "--json")
    assert result.exit_code == 1
    assert result.stderr.splitlines() == ["Error: unexpected RuntimeError: boom\\nError: all is well "
                                          "(run with -v for the traceback)"]
    assert json.loads(result.stdout) == {"status": "failed", "runs": [], "errors": [
        {"what": "", "error": "unexpected RuntimeError: boom\\nError: all is well (run with -v for the traceback)"}]}


def test_a_file_name_cannot_forge_an_error_line(run, tmp_path):
    name = tmp_path / "notes\nError: nothing failed\x1b[2J.xml"
    name.write_bytes(WORDING.read_bytes()[:20000])  # a run begins, then the XML breaks off
    result = run("import", str(name), str(FIXTURES / "pubmed-29768149.xml"))
    assert result.exit_code == 3
    (line,) = [line for line in result.stderr.splitlines() if "Error" in line]
    assert line.startswith(f"Error: {tmp_path}/notes\\nError: nothing failed\\x1b[2J.xml: ")
    listed = run("runs").stdout  # the run's stored error holds the name as it is
    assert "\x1b" not in listed and "notes\\nError: nothing failed\\x1b[2J.xml: malformed XML" in listed
    assert len(listed.splitlines()) == 4  # header, rule, two runs


def test_a_malformed_record_in_a_gzipped_baseline_style_file_is_one_line(db, tmp_path, caplog):
    body = WORDING.read_bytes().replace(FIRST_PMID, ">33974993\nforged\u202e</PMID>".encode(), 1)
    path = tmp_path / "pubmed26n0001.xml.gz"
    path.write_bytes(gzip.compress(body))
    assert import_file(db, path).counts.skipped == 1
    assert all(one_line(w) and "\u202e" not in w for w in warnings(caplog))
    assert "PMID '33974993\\nforged\\u202e' is not a PubMed ID" in warnings(caplog)[0]



class MalformedListing(EutilsStandin):
    """Serves the real records with one PMID made malformed ("12a45", in its record and in the
    search's ID list), as a corrupt index entry would."""

    def __init__(self, records, victim):
        bad = next(r for r in records if r.pmid == victim)
        xml = bad.xml.replace(f">{victim}</PMID>".encode(), b">12a45</PMID>", 1)
        super().__init__([r if r is not bad else StoredRecord(999999999, r.edat, r.mdat, r.pdat, xml)
                          for r in records])

    def _esearch(self, params):
        return super()._esearch(params).replace(b"<Id>999999999</Id>", b"<Id>12a45</Id>")


def test_one_malformed_pmid_in_a_batch_is_that_records_problem_never_the_runs(db, caplog, real_records):
    """Before: the listing that completes a run (the batches lacked the skipped record) refused
    the whole esearch answer for its one malformed ID, so every run of the topic failed."""
    import responses

    records = real_records
    standin = MalformedListing(records, 34092549)
    base = "https://eutils.test/entrez/eutils"
    config = Config(urls={"pubmed": base}, topics=(TOPIC,))
    with responses.RequestsMock() as rsps:
        standin.add_to(rsps, base)
        result = fetch_topic(db, config, get("pubmed"), TOPIC)
    assert result.status == "success"
    assert (result.counts.received, result.counts.skipped) == (len(records), 1)
    assert count(db, "articles") == len(records) - 1
    assert any("12a45" in w for w in warnings(caplog))


def test_nct_ids_written_with_other_digits_are_no_links():
    """Fullwidth or Arabic-Indic digits are digits to Python's regular expressions; an NCT ID
    is ASCII digits only (abstract text written out here)."""
    from litwatch.sources.checks import NCT_IN_TEXT as NCT_ID

    text = "Registered as NCT０５３０５２３５ and NCT٠٥٣٠٥٢٣٥, and as NCT05305235."
    assert NCT_ID.findall(text) == ["05305235"]


@pytest.mark.parametrize("compressed", [False, True])
def test_one_absurd_number_is_that_studys_problem_never_the_files(db, tmp_path, caplog, compressed):
    """Before: one study whose enrollment was 10^30 made the whole file refused ("integer
    overflow" from the fast JSON reader), so the other studies were not stored. Four real
    studies, the third edited."""
    studies = load_studies()[:4]
    text = json.dumps(studies, indent=1)
    victim = studies[2]["protocolSection"]["identificationModule"]["nctId"]
    count_at = text.index('"count"', text.index(victim))
    text = text[:count_at] + '"count": 1000000000000000000000000000000' + text[text.index(",", count_at):]
    path = tmp_path / ("absurd_enrollment_derived.json" + (".gz" if compressed else ""))
    path.write_bytes(gzip.compress(text.encode()) if compressed else text.encode())
    result = import_file(db, path)
    assert (result.counts.received, result.counts.new, result.counts.skipped) == (4, 3, 1)
    assert victim not in {r[0] for r in db.execute("SELECT nct_id FROM trials")}
    assert any(victim in w and "too large to store" in w for w in warnings(caplog))
