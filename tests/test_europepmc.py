"""Europe PMC: parsing real search results (core and lite), cursor walks, lookups by ID, errors."""

import collections
import itertools
import json
from datetime import date

import pytest
import requests
import responses
from responses import matchers

from litwatch.errors import BadRecord, HttpError, IncompleteFetch, UnknownFormat
from litwatch.http import HttpClient
from litwatch.sources.europepmc import client as epmc
from litwatch.sources.europepmc.client import EuropePmcClient, query_for
from litwatch.sources.europepmc.parse import (looks_like_europepmc, parse_error_bean, parse_result,
                                              results_from_json)
from litwatch.sources.base import Batch
from litwatch.sources.europepmc.schema import FAMILY, TABLES
from litwatch.sources.europepmc.source import SOURCE

from conftest import FIXTURES
from europepmc_standin import NO_RESULTS_QUERY, EuropePmcStandin, RecordedWalk, load, load_results

BASE = "https://epmc.test/europepmc/webservices/rest"


def client(base=BASE, attempts=3):
    return EuropePmcClient(HttpClient(per_second=0, sleep=lambda s: None, max_attempts=attempts), base)


def result(record_id, name="epmc_search_cancer_core.json.gz"):
    return next(r for r in load_results(name) if r["id"] == record_id)


# --- parsing ---------------------------------------------------------------------------------

def test_core_record_with_authors_mesh_keywords_chemicals_and_abstract():
    rec = parse_result(result("40511629"))
    r = rec["europepmc_records"]
    assert (r["epmc_id"], r["source"], r["ext_id"], r["pmid"], r["pmcid"]) == ("MED:40511629", "MED", "40511629",
                                                                                40511629, None)
    assert (r["journal"], r["journal_iso"], r["pub_year"], r["language"], r["is_preprint"]) == (
        "Fundamental & clinical pharmacology", "Fundam Clin Pharmacol", 2025, "eng", 0)
    assert r["abstract"].startswith("Background: Paclitaxel is a potent agent against ovarian cancer. "
                                    "Hydrogen sulfide (H2S) is of particular interest")
    assert r["abstract"].splitlines()[1].startswith("Objectives: We aimed to examine")
    assert "Paclitaxel" in json.loads(r["mesh"]) and "Ovarian Neoplasms" in json.loads(r["mesh"])
    assert json.loads(r["keywords"]) == ["Apoptosis", "Paclitaxel", "Ovarian cancer", "Hydrogen sulfide", "Id8 Cells"]
    assert {"name": "Paclitaxel", "registryNumber": "P88XT4IS4D"} in json.loads(r["chemicals"])
    assert r["url"] == "https://europepmc.org/article/MED/40511629"
    sent = result("40511629")
    assert json.loads(r["raw"]) == {k: v for k, v in sent.items() if k != "citedByCount"}  # all but a daily count
    orcids = [a for a in rec["europepmc_authors"] if a["orcid"]]
    assert ("Öztürk Fincan", "Gökçe Sevim", "0000-0003-4048-6781") in {
        (a["last_name"], a["first_name"], a["orcid"]) for a in orcids}
    assert [a["position"] for a in rec["europepmc_authors"]] == list(range(1, len(rec["europepmc_authors"]) + 1))


def test_core_record_without_abstract_keeps_journal_details():
    rec = parse_result(result("39709209"))
    r = rec["europepmc_records"]
    assert {k: r[k] for k in ("title", "abstract", "journal", "journal_iso", "issn", "volume", "issue", "pages",
                              "first_index_date", "date_of_creation", "publication_status", "pub_types",
                              "is_open_access", "in_pmc", "mesh")} == {
        "title": "Abscopal response in a patient with fibrolamellar hepatocellular carcinoma following radiotherapy.",
        "abstract": None, "journal": "Lancet (London, England)", "journal_iso": "Lancet", "issn": "0140-6736",
        "volume": "404", "issue": "10471", "pages": "2603-2604", "first_index_date": "2024-12-22",
        "date_of_creation": "2024-12-21", "publication_status": "ppublish", "pub_types": '["Journal Article"]',
        "is_open_access": 0, "in_pmc": 0, "mesh": None}
    assert [(a["full_name"], a["affiliation"][:32]) for a in rec["europepmc_authors"]] == [
        ("Schoenfeld JD", "Department of Radiation Oncology"), ("Haas-Kogan DA", "Department of Radiation Oncology"),
        ("O'Neill AF", "Department of Pediatric Oncology")]


def test_abstract_keeps_bare_angle_brackets_and_drops_markup():
    abstracts = [parse_result(r)["europepmc_records"]["abstract"] or "" for r in load_results()]
    assert any("<1" in a for a in abstracts)  # a real "<1" (a value, not a tag) survives
    assert not any(tag in a for a in abstracts for tag in ("<h4>", "<sub>", "<i>", "<b>"))


def test_lite_record_has_no_authors_and_reads_lite_field_names():
    rec = parse_result(result("20516115", "epmc_search_pmid_20516115.json"))
    r = rec["europepmc_records"]
    assert rec["europepmc_authors"] == [] and r["abstract"] is None
    assert (r["journal"], r["issn"], r["volume"], r["issue"], r["pages"], r["pmcid"]) == (
        "Cancer Res", "0008-5472", "70", "12", "4880-4890", "PMC3040717")
    assert "citedByCount" not in json.loads(r["raw"])  # a daily-changing count is no revision
    assert json.loads(r["pub_types"]) == ["research support, non-u.s. gov't", "research-article", "journal article",
                                          "research support, n.i.h., extramural"]
    assert (r["has_tm_accessions"], json.loads(r["tm_accession_types"])) == (1, ["pdb"])
    assert rec["europepmc_links"] == [{"epmc_id": "MED:20516115", "kind": "xref:PDB", "target": "PDB", "note": None}]


def test_agricola_record_without_pmid():
    r = parse_result(result("IND608974682", "epmc_search_immunotherapy_agr.json"))["europepmc_records"]
    assert (r["epmc_id"], r["pmid"], r["doi"], r["journal"], r["pages"]) == (
        "AGR:IND608974682", None, None, "Cell. Mol. Life Sci..", "48")
    assert r["url"] == "https://europepmc.org/article/AGR/IND608974682"


def test_the_1000_record_page_has_24_preprints_with_their_servers():
    records = [parse_result(r)["europepmc_records"] for r in load_results("epmc_search_1000results_cancer.json.gz")]
    assert len({r["epmc_id"] for r in records}) == 1000
    preprints = [r for r in records if r["is_preprint"]]
    assert len(preprints) == 24 and all(r["source"] == "PPR" and r["pmid"] is None for r in preprints)
    assert collections.Counter(r["preprint_server"] for r in preprints) == {
        "Research Square": 11, "bioRxiv": 6, "Preprints.org": 5, "medRxiv": 2}
    assert collections.Counter(r["preprint_version"] for r in preprints) == {1: 16, None: 8}
    # A GeneReviews chapter also names its publisher in bookOrReportDetails; it is no preprint.
    book = next(r for r in records if r["ext_id"] == "40440438")
    assert (book["is_preprint"], book["preprint_server"]) == (0, None)
    # Entity-escaped markup in lite titles is decoded and dropped.
    assert any("in an m6A-dependent manner" in r["title"] for r in records)
    assert collections.Counter(r["source"] for r in records) == {"MED": 923, "PMC": 53, "PPR": 24}


def test_links_from_comments_nct_ids_and_preprint_relations_derived():
    journal, preprint_of_it = None, None
    for raw in load("epmc_records_links_derived.json"):
        rec = parse_result(raw)
        links = {(link["kind"], link["target"]): link["note"] for link in rec["europepmc_links"]}
        epmc_id = rec["europepmc_records"]["epmc_id"]
        if epmc_id == "MED:39212676":  # a trial registration sentence added to a real abstract
            assert links == {("nct_text", "NCT06341426"): None, ("nct_text", "NCT04267848"): None}
        elif epmc_id == "MED:40468710":
            journal = links
        else:
            preprint_of_it = (epmc_id, links, rec["europepmc_records"])
    assert journal == {("preprint", "PPR:PPR1037166"): "CrossRef Pre-print loader"}
    epmc_id, links, record = preprint_of_it
    assert epmc_id == "PPR:PPR1037166" and links == {
        ("published_as", "MED:40468710"): "Link created based on a title-first author match"}
    assert (record["is_preprint"], record["preprint_server"], record["pub_types"]) == (
        1, "Research Square", '["Preprint"]')


def test_comment_corrections_become_links():
    links = parse_result(result("39709208"))["europepmc_links"]
    assert links == [{"epmc_id": "MED:39709208", "kind": "comment:Erratum for", "target": "MED:39293462", "note": None}]


def test_no_nct_link_without_an_nct_id_in_the_text():
    # 39212676 cites a PROSPERO registration and Europe PMC text-mined "nct" from its full text,
    # but its title and abstract name no NCT ID.
    rec = parse_result(result("39212676"))
    assert json.loads(rec["europepmc_records"]["tm_accession_types"]) == ["nct"]
    assert not [link for link in rec["europepmc_links"] if link["kind"] == "nct_text"]


def test_tables_declare_exactly_what_the_parser_writes():
    content = {name: TABLES[name].names for name in FAMILY.children}
    content[FAMILY.table] = FAMILY.content()  # the store adds hashes, run numbers, derived columns
    seen = {name: set() for name in content}
    for raw in load_results() + load_results("epmc_search_1000results_cancer.json.gz"):
        for name, rows in parse_result(raw).items():
            for row in rows if isinstance(rows, list) else [rows]:
                seen[name].add(tuple(row))
    for name, keys in seen.items():
        assert keys == {tuple(content[name])}, name
    assert TABLES["europepmc_records"].pk == "epmc_id"


def test_rows_load_into_the_store_under_their_keys(db):
    raws = load_results() + load_results("epmc_search_1000results_cancer.json.gz") + load(
        "epmc_records_links_derived.json")[:1]
    counts = SOURCE.save(db, Batch([parse_result(raw) for raw in raws]), run_id=None, topic=None, origin="import")
    # The core page's 25 records are the first 25 of the 1,000 (same query), and the derived
    # record is one of them with links added: each is stored once.
    assert (counts.received, counts.new, counts.repeated) == (1000, 1000, 26)
    assert db.execute("SELECT count(*) FROM europepmc_records").fetchone() == (1000,)
    assert db.execute("SELECT count(*) FROM europepmc_records WHERE is_preprint").fetchone() == (24,)
    assert db.execute("SELECT target FROM europepmc_links WHERE kind = 'nct_text' ORDER BY 1").fetchall() == [
        ("NCT04267848",), ("NCT06341426",)]


@pytest.mark.parametrize("value", [None, "", "   ", {"id": "1"}, {"id": "1", "source": "medline"}, {"source": "MED"}])
def test_not_a_result(value):
    with pytest.raises(BadRecord):
        parse_result(value)


# --- saved files -----------------------------------------------------------------------------

def test_saved_multi_page_walk_reads_as_one_result_list():
    results, envelope = results_from_json(load("epmc_fetch_10pages_cancer.json.gz"))
    assert len(results) == 1000 and len({(r["source"], r["id"]) for r in results}) == 1000
    assert (envelope["pages"], envelope["hitCount"], envelope["nextCursorMark"]) == (
        10, 5059039, "AoIIP4HN8ig1MzEwOTI4OQ==")
    assert envelope["request"]["cursorMark"] == "%2A"
    # The ten cursor pages of 100 are the single page of 1,000, id for id.
    single, single_envelope = results_from_json(load("epmc_search_1000results_cancer.json.gz"))
    assert [r["id"] for r in results] == [r["id"] for r in single]
    assert single_envelope["nextCursorMark"] == envelope["nextCursorMark"]


def test_every_saved_shape():
    page = load("epmc_search_pmid_20516115.json")
    (one,) = page["resultList"]["result"]
    assert results_from_json(page)[0] == [one] and results_from_json(page)[1]["hitCount"] == 1
    assert results_from_json(one) == ([one], {})
    assert results_from_json([one, one])[0] == [one, one]
    empty, envelope = results_from_json(load("epmc_search_no_results.json"))
    assert empty == [] and envelope["hitCount"] == 0 and "nextCursorMark" not in envelope


@pytest.mark.parametrize("name, expected", [
    ("epmc_search_pmid_20516115.json", True), ("epmc_search_no_results.json", True),
    ("epmc_fetch_10pages_cancer.json.gz", True), ("epmc_records_links_derived.json", True),
    ("page1_phelan.json", False), ("page_single_NCT06341426.json", False),
    ("ctg-studies_field_limited.json", False), ("study_NCT04267848_many_locations.json", False),
    ("eutils_rate_limit_error.json", False)])
def test_format_is_told_from_the_content(name, expected):
    data = load(name)
    assert looks_like_europepmc(data) is expected
    if not expected:
        with pytest.raises(UnknownFormat):
            results_from_json(data)


def test_single_result_object_is_europepmc_but_a_ctgov_study_is_not():
    assert looks_like_europepmc(load("epmc_search_pmid_20516115.json")["resultList"]["result"][0])
    assert not looks_like_europepmc(load("study_NCT04267848_many_locations.json"))
    assert not looks_like_europepmc([]) and not looks_like_europepmc({"hitCount": 0})


# --- error bodies ----------------------------------------------------------------------------

def test_error_bean_message():
    body = (FIXTURES / "epmc_errorbean_not_open_access.xml").read_bytes()
    assert parse_error_bean(body) == "Article with id PMC3040717 is not open access one"


@pytest.mark.parametrize("body", [
    b"", b'{"hitCount": 0}', b"<html><body>Bad gateway</body></html>", b"<errorBean><errMsg>cut sho",
    b'<?xml version="1.0"?><!DOCTYPE errorBean [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
    b"<errorBean><errMsg>&x;</errMsg></errorBean>"])
def test_not_an_error_bean_or_not_expanded(body):
    message = parse_error_bean(body)
    assert message is None or "root:" not in message


# --- the client --------------------------------------------------------------------------------

@responses.activate
def test_recorded_ten_page_cursor_walk_replays_exactly():
    pages = load("epmc_fetch_10pages_cancer.json.gz")
    walk = RecordedWalk(pages)
    walk.add_to(responses, BASE)
    got = list(itertools.islice(client().search_pages("cancer"), 10))
    sent = [r["cursorMark"] for r in walk.requests]
    assert sent[0] == "*" and sent[1:] == [p["nextCursorMark"] for p in pages[:9]]
    assert all(p["hitCount"] == 5059039 and len(p["results"]) == 100 for p in got)
    assert len({(r["source"], r["id"]) for p in got for r in p["results"]}) == 1000
    assert walk.requests[0] == {"query": "cancer", "format": "json", "resultType": "core", "pageSize": "1000",
                                "cursorMark": "*"}


@responses.activate
def test_walk_pages_by_the_services_own_page_size_and_stops_without_next_cursor():
    standin = EuropePmcStandin(load_results(), page_size=10)
    standin.add_to(responses, BASE)
    pages = list(client().search_pages("cancer"))
    assert [len(p["results"]) for p in pages] == [10, 10, 5]
    assert [p["hitCount"] for p in pages] == [25, 25, 25] and "nextCursorMark" not in pages[-1]
    assert len({r["id"] for p in pages for r in p["results"]}) == 25
    assert [r["cursorMark"] for r in standin.requests][1:] == [p["nextCursorMark"] for p in pages[:-1]]


@responses.activate
def test_empty_result():
    EuropePmcStandin(load_results()).add_to(responses, BASE)
    (page,) = client().search_pages(NO_RESULTS_QUERY)
    assert (page["hitCount"], page["results"]) == (0, [])


@pytest.mark.parametrize("status", [200, 400])
def test_error_bean_is_not_retried(status):
    standin = EuropePmcStandin(load_results(), error_status=status)
    with responses.RequestsMock() as rsps:
        standin.add_to(rsps, BASE)
        with pytest.raises(HttpError, match="^Europe PMC refused the search: Article with id PMC3040717 is not "
                                            "open access one$") as e:
            list(client().search_pages('ketamine AND (PTSD'))
    assert len(standin.requests) == 1 and e.value.status == status


@responses.activate
def test_malformed_page_is_retried():
    good = (FIXTURES / "epmc_search_pmid_20516115.json").read_bytes()
    responses.add(responses.GET, f"{BASE}/search", body=good[: len(good) // 2])
    responses.add(responses.GET, f"{BASE}/search", body=b"<html>Service Temporarily Unavailable</html>")
    responses.add(responses.GET, f"{BASE}/search", body=good)
    c = client(attempts=3)
    (page,) = c.search_pages("EXT_ID:20516115 AND SRC:MED")
    assert page["results"][0]["id"] == "20516115" and c.http.stats.retries == 2


@responses.activate
def test_a_cursor_that_comes_back_is_a_loop_not_an_endless_walk():
    # Three real pages; the third's next cursor is edited to the one the first page gave.
    pages = load("epmc_fetch_10pages_cancer.json.gz")[:3]
    pages[2] = dict(pages[2], nextCursorMark=pages[0]["nextCursorMark"])
    for page in pages:
        responses.add(responses.GET, f"{BASE}/search", json=page)
    walk = client().search_pages("cancer")
    assert [len(next(walk)["results"]) for _ in range(3)] == [100, 100, 100]
    with pytest.raises(IncompleteFetch, match=r"^Europe PMC repeated a cursor: \S+ \(after 3 pages, 300 of "
                                              r"5059039 records\); stopped instead of looping$"):
        next(walk)
    assert len(responses.calls) == 3


@responses.activate
def test_an_echoed_cursor_ends_the_walk():
    # API 5.2.1 signalled the end by echoing the cursor it was sent.
    page = load("epmc_search_pmid_20516115.json")
    responses.add(responses.GET, f"{BASE}/search", json=dict(page, nextCursorMark="*"))
    assert len(list(client().search_pages("EXT_ID:20516115 AND SRC:MED"))) == 1


@responses.activate
def test_records_by_id_in_batched_queries(monkeypatch):
    standin = EuropePmcStandin(load_results("epmc_search_1000results_cancer.json.gz"))
    standin.add_to(responses, BASE)
    monkeypatch.setattr(epmc, "MAX_IDS_PER_QUERY", 3)
    got = client().search_ids(["MED:39709209", "PPR:PPR1036674", "39212676", "PMC:PMC12175493", "MED:39709209",
                               "MED:99999999"])
    assert sorted((r["source"], r["id"]) for r in got) == [
        ("MED", "39212676"), ("MED", "39709209"), ("PMC", "PMC12175493"), ("PPR", "PPR1036674")]
    assert [r["query"] for r in standin.requests] == [
        "(EXT_ID:39709209 AND SRC:MED) OR (EXT_ID:PPR1036674 AND SRC:PPR) OR (EXT_ID:39212676 AND SRC:MED)",
        "(EXT_ID:PMC12175493 AND SRC:PMC) OR (EXT_ID:99999999 AND SRC:MED)"]


@responses.activate
def test_single_record_search_as_recorded():
    # The raw body Europe PMC sent for PMID 20516115: hitCount 1 and no nextCursorMark.
    responses.add(responses.GET, f"{BASE}/search", body=(FIXTURES / "epmc_search_pmid_20516115.json").read_bytes(),
                  match=[matchers.query_param_matcher({
                      "query": "(EXT_ID:20516115 AND SRC:MED)", "format": "json", "resultType": "core",
                      "pageSize": "1000", "cursorMark": "*"})])
    (record,) = client().search_ids(["20516115"])
    assert (record["pmcid"], record["doi"]) == ("PMC3040717", "10.1158/0008-5472.can-09-4563")
    assert len(responses.calls) == 1


def test_batches_stay_under_the_url_budget():
    clauses = [f"(EXT_ID:PPR{1000000 + i} AND SRC:PPR)" for i in range(450)]
    batches = list(epmc._batches(clauses))
    assert sum(b.count("EXT_ID") for b in batches) == 450
    assert all(len(requests.utils.quote(b)) <= epmc.MAX_QUERY_CHARS for b in batches)
    assert all(b.count("EXT_ID") <= epmc.MAX_IDS_PER_QUERY for b in batches)


@pytest.mark.parametrize("bad", ["MED:PPR1", "MED:1 OR 1", "PMC12175493) OR (x", "medline:1", ""])
@responses.activate
def test_bad_record_ids_are_not_asked_for(bad, caplog):
    standin = EuropePmcStandin(load_results("epmc_search_1000results_cancer.json.gz"))
    standin.add_to(responses, BASE)
    got = client().search_ids([bad, "MED:39709209"])  # a link target read from a record
    assert [r["id"] for r in got] == ["39709209"]
    assert [r["query"] for r in standin.requests] == ["(EXT_ID:39709209 AND SRC:MED)"]
    assert "not a Europe PMC record ID" in caplog.text


def test_query_for_a_date_window():
    assert query_for("ketamine AND PTSD") == "ketamine AND PTSD"
    assert query_for("ketamine AND PTSD", date(2025, 6, 15)) == (
        "(ketamine AND PTSD) AND (FIRST_IDATE:[2025-06-15 TO *] OR UPDATE_DATE:[2025-06-15 TO *])")


def test_since_over_real_http():
    standin = EuropePmcStandin(load_results(), page_size=4)
    with standin.serve() as base:
        c = EuropePmcClient(HttpClient(per_second=0, sleep=lambda s: None), base)
        pages = list(c.search_pages("cancer", since=date(2025, 6, 18)))
        one = c.search_ids(["MED:40536727"])
    got = {r["id"] for p in pages for r in p["results"]}
    assert got == {"40527231", "40528292", "40530674", "40530769", "40524053", "40536077", "40536418",
                   "40536727", "40245290"}  # 40245290: indexed 2025-04-18, revised 2025-06-19
    assert [len(p["results"]) for p in pages] == [4, 4, 1] and pages[0]["hitCount"] == 9
    assert standin.requests[1]["cursorMark"] == pages[0]["nextCursorMark"]  # "=" survives the URL
    assert [r["id"] for r in one] == ["40536727"]
