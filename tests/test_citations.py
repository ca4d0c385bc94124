"""Citation exports read back by parsers litwatch does not use to write them: pybtex parses
the BibTeX and formats it with its standard styles, rispy parses the RIS, and the RIS tags
are checked against the fields Zotero's RIS import (RIS.js) maps them to.

Papers come from real records: PubMed (the ketamine/PTSD update-file subset and the 1979
baseline examples with two retracted papers), Europe PMC preprints and a ClinicalTrials.gov
study, turned into the paper dicts documented in :mod:`litwatch.citations`.
"""

import gzip
import json
import re

import pytest
import rispy
from click.testing import CliRunner
from pybtex.database import BibliographyData, parse_string
from pybtex.plugin import find_plugin

from litwatch.citations import to_bibtex, to_ris
from litwatch.cli import cli
from litwatch.errors import LitwatchError
from litwatch.sources.ctgov.parse import parse_study
from litwatch.sources.pubmed.parse import as_dict, iter_xml
from litwatch.store import db_path
from litwatch.sync import import_file

from conftest import FIXTURES, SUBSET

PEMPHIX = 34097368        # NEJM 2021, last author the group "PEMPHIX Study Group"
CROSSWALK = 34091976      # "A Conversion Crosswalk for the UCLA PTSD Reaction Index..."
APPROACH = 32739453       # group author "APPROACH-IS Consortium and the International Society..."
SAGE = 34089739           # group author "SAGE Investigators, on behalf of SCCM Discovery"
KETAMINE_ISOMERS = 33813054  # "(S)-ketamine and racemic (R/S)-ketamine"; Włodarczyk, Cubała
MALTREATMENT = 34058480   # "post-traumatic stress & depression" in Child abuse & neglect
KETAMINE_PTSD = 34092549  # the ketamine + internet CBT for PTSD protocol
INSULIN = 400712          # retracted (J Clin Endocrinol Metab 1978), pages "216-9"
MAGNETIC = 423962         # retracted (Nature 1979)

# Zotero's RIS import (zotero/translators RIS.js): the field each tag fills, by item type.
ZOTERO_JOURNAL_ARTICLE = {
    "TI": "title", "AU": "creators/author", "T2": "publicationTitle", "J2": "journalAbbreviation",
    "DA": "date", "PY": "date", "VL": "volume", "IS": "issue", "SP": "pages", "EP": "pages",
    "SN": "ISSN", "DO": "DOI", "AB": "abstractNote", "KW": "tags", "LA": "language",
    "AN": "archiveLocation", "UR": "url", "N1": "notes"}
ZOTERO_REPORT = {
    "TI": "title", "AU": "creators/author", "PB": "institution", "SN": "reportNumber",
    "M3": "reportType", "DA": "date", "PY": "date", "AB": "abstractNote", "UR": "url"}
RIS_LINE = re.compile(r"^([A-Z][A-Z0-9])  -(?: (.*))?$")      # RIS.js risFormat
ZOTERO_DATE = re.compile(r"\d+(?:/(\d{0,2})(?:/(\d{0,2})(?:/[^/]*)?)?)?")  # dateRIStoZotero


def paper_from_pubmed(record):
    """A paper dict from parsed PubMed rows, group authors marked as such."""
    a = record["articles"]
    authors = [{"collective": x["collective_name"]} if x["collective_name"]
               else ", ".join(filter(None, [x["last_name"], x["fore_name"]]))
               for x in record["article_authors"]]
    retracted = any(t["name"] == "Retracted Publication" for t in record["article_publication_types"])
    return {**a, "authors": authors, "keywords": [m["descriptor_name"] for m in record["article_mesh"]],
            "retracted": retracted, "design": "randomized controlled trial"}


def paper_from_europepmc(result):
    """A preprint dict from a Europe PMC lite result ("Mendez JS" -> "Mendez, J S")."""
    authors = []
    for name in result["authorString"].rstrip(".").split(", "):
        last, initials = name.rsplit(" ", 1)
        authors.append(f"{last}, {' '.join(initials) if initials.isupper() else initials}")
    return {"kind": "preprint", "title": result["title"], "authors": authors,
            "server": result["bookOrReportDetails"]["publisher"], "version": result.get("versionNumber"),
            "doi": result["doi"], "posted_date": result["firstPublicationDate"]}


@pytest.fixture(scope="module")
def articles():
    papers = {}
    with gzip.open(SUBSET) as f:
        papers.update((e.record.key, paper_from_pubmed(as_dict(e.record)))
                      for e in iter_xml(f) if e.kind == "article")
    with open(FIXTURES / "pubmed20n0014_design_examples.xml", "rb") as f:
        papers.update((e.record.key, paper_from_pubmed(as_dict(e.record)))
                      for e in iter_xml(f) if e.kind == "article")
    return papers


@pytest.fixture(scope="module")
def preprints():
    results = json.loads((FIXTURES / "europepmc_search_cancer_preprints_subset.json").read_text())
    return {r["id"]: paper_from_europepmc(r) for r in results}


@pytest.fixture(scope="module")
def trial():
    studies = json.loads((FIXTURES / "ctg-studies_dtx_psychiatric.json").read_text())
    study = next(s for s in studies if s["protocolSection"]["identificationModule"]["nctId"] == "NCT05305235")
    row = parse_study(study)["trials"]
    return {"kind": "trial", **{k: row[k] for k in ("nct_id", "brief_title", "lead_sponsor", "first_posted", "url")}}


def formatted(bibtex, style="unsrt", keys=None):
    """Each entry (or those of ``keys``) as pybtex formats it to plain text (names
    abbreviated, titles lowercased)."""
    data = parse_string(bibtex, "bibtex")
    if keys is not None:
        data = BibliographyData({key: data.entries[key] for key in keys})
    formatter = find_plugin("pybtex.style.formatting", style)(abbreviate_names=True)
    backend = find_plugin("pybtex.backends", "text")()
    return {e.key: e.text.render(backend) for e in formatter.format_bibliography(data).entries}


def ris_records(text):
    """The tag-value lines of each record, in order, as Zotero's RIS reader splits them."""
    records, current = [], []
    for line in text.split("\n"):
        if not line:
            continue
        m = RIS_LINE.match(line)
        assert m, f"not a RIS line: {line!r}"
        if m.group(1) == "ER":
            records.append(current)
            current = []
        else:
            current.append((m.group(1), m.group(2)))
    assert not current
    return records


# ------------------------------------------------------------------ BibTeX ---

def test_group_authors_stay_whole_in_formatted_references(articles):
    papers = [articles[PEMPHIX], articles[APPROACH], articles[SAGE]]
    bibtex = to_bibtex(papers)
    assert "{PEMPHIX Study Group}" in bibtex
    entries = parse_string(bibtex, "bibtex").entries
    for p in papers:
        assert len(entries[f"pmid{p['pmid']}"].persons["author"]) == len(p["authors"])  # no split at "and"
    text = formatted(bibtex)
    assert text[f"pmid{PEMPHIX}"].startswith(
        "V. P. Werth, P. Joly, D. Mimouni, E. Maverakis, F. Caux, P. Lehane, L. Gearhart, A. Kapre, "
        "P. Pordeli, D. M. Chen, and PEMPHIX Study Group. Rituximab versus mycophenolate mofetil")
    assert ", and APPROACH-IS Consortium and the International Society for Adult Congenital Heart " \
           "Disease (ISACHD). Physical functioning" in text[f"pmid{APPROACH}"]
    assert ", and SAGE Investigators, on behalf of SCCM Discovery. Variation in early" in text[f"pmid{SAGE}"]
    assert "Group, P" not in " ".join(text.values())


def test_titles_keep_acronyms_when_a_style_lowercases_them(articles):
    bibtex = to_bibtex([articles[CROSSWALK], articles[KETAMINE_ISOMERS]])
    fields = parse_string(bibtex, "bibtex").entries
    # Words are braced one by one, never the whole title.
    assert fields[f"pmid{CROSSWALK}"].fields["title"] == (
        "A Conversion Crosswalk for the {UCLA} {PTSD} Reaction Index: Translating {DSM-IV} to {DSM-5}.")
    text = formatted(bibtex)
    assert "A conversion crosswalk for the UCLA PTSD reaction index: translating DSM-IV to DSM-5." \
        in text[f"pmid{CROSSWALK}"]
    assert "comparative effects of (S)-ketamine and racemic (R/S)-ketamine on psychopathology" \
        in text[f"pmid{KETAMINE_ISOMERS}"]


def test_non_ascii_names_are_written_as_utf8(articles):
    bibtex = to_bibtex([articles[KETAMINE_ISOMERS]])
    assert "author = {Włodarczyk, Adam and Cubała, Wiesław J and Gąsior, Magdalena}" in bibtex
    assert formatted(bibtex)[f"pmid{KETAMINE_ISOMERS}"].startswith("A. Włodarczyk, W. J. Cubała, and M. Gąsior.")


def test_ampersands_are_escaped_and_print_as_ampersands(articles):
    bibtex = to_bibtex([articles[MALTREATMENT]])
    entry = parse_string(bibtex, "bibtex").entries[f"pmid{MALTREATMENT}"]
    assert entry.fields["title"].endswith(r"post-traumatic stress \& depression.")
    assert entry.fields["journal"] == r"Child abuse \& neglect"
    assert formatted(bibtex)[f"pmid{MALTREATMENT}"] == (
        "C. C. Katz, M. Lalayants, and V. Lushin. The longitudinal effects of maltreatment class "
        "membership on post-traumatic stress & depression. Child abuse & neglect, 118:105103, May 2021. "
        "doi:10.1016/j.chiabu.2021.105103.")


@pytest.mark.parametrize("title, escaped", [
    ("50% of #1 cost $5 in a_b", r"50\% of \#1 cost \$5 in a\_b"),
    ("paired {braces} stay", r"paired \{braces\} stay"),
    # BibTeX counts "\}" as a brace: a lone one must not close the field early.
    ("a lone } brace", r"a lone {\textbraceright} brace"),
    ("x ~ y ^ z \\ w", r"x {\textasciitilde} y {\textasciicircum} z {\textbackslash} w"),
])
def test_bibtex_special_characters_are_escaped(articles, title, escaped):
    paper = {**articles[KETAMINE_PTSD], "title": title}
    entry = parse_string(to_bibtex([paper]), "bibtex").entries[f"pmid{KETAMINE_PTSD}"]
    assert entry.fields["title"] == escaped
    assert entry.fields["journal"] == "JMIR research protocols"  # the next field is intact


def test_pages_in_full_with_en_dash_month_and_retraction_in_the_reference(articles):
    bibtex = to_bibtex([articles[INSULIN], articles[MAGNETIC]])
    assert "pages = {216--219},\n  doi" in bibtex and "month = jul," in bibtex  # PubMed gives "216-9"
    text = formatted(bibtex)
    assert text[f"pmid{INSULIN}"] == (
        "V. R. Soman, V. A. Koivisto, P. Grantham, and P. Felig. Increased insulin binding to monocytes "
        "after acute exercise in normal man. The Journal of clinical endocrinology and metabolism, "
        "47(1):216–219, July 1978. Retracted publication. doi:10.1210/jcem-47-1-216.")
    assert "Nature, 277(5698):646–648, February 1979. Retracted publication." in text[f"pmid{MAGNETIC}"]


def test_litwatch_design_stays_out_of_every_formatted_reference(articles):
    papers = [articles[pmid] for pmid in (PEMPHIX, CROSSWALK, KETAMINE_PTSD, INSULIN)]
    bibtex = to_bibtex(papers)
    assert bibtex.count("litwatch-design = {randomized controlled trial}") == 4
    for style in ("unsrt", "plain", "alpha"):
        for reference in formatted(bibtex, style).values():
            assert "randomized controlled trial" not in reference and "litwatch" not in reference
    notes = {int(e["accession_number"]): e.get("notes") for e in rispy.loads(to_ris(papers))}
    assert notes == {PEMPHIX: None, CROSSWALK: None, KETAMINE_PTSD: None, INSULIN: ["Retracted publication"]}
    assert "litwatch" not in to_ris(papers)


def test_preprint_is_an_article_in_its_server_marked_as_a_preprint(preprints):
    bibtex = to_bibtex(preprints.values())
    entry = parse_string(bibtex, "bibtex").entries["doi_10.1101_2025.06.13.25329599"]
    assert entry.type == "article" and entry.fields["journal"] == "medRxiv"
    assert entry.fields["title"].startswith("Red meat intake interacts with a {TGF-β-pathway-based} polygenic")
    text = formatted(bibtex)
    reference = text["doi_10.1101_2025.06.13.25329599"]
    assert reference.startswith("J. S. Mendez, B. Queme, Y. Fu, J. Morrison, J. P. Lewinger")
    assert "M. Obón-Santacana" in reference
    assert reference.endswith("construction. medRxiv, June 2025. Preprint, not peer reviewed. "
                              "doi:10.1101/2025.06.13.25329599.")
    assert text["doi_10.21203_rs.3.rs_6664819_v1"].endswith(
        "Association of red blood cell distribution width to albumin ratio (RAR) with cancer incidence "
        "and prognosis in american adults: NHANES 2005-2016. Research Square, June 2025. "
        "Preprint (version 1), not peer reviewed. doi:10.21203/rs.3.rs-6664819/v1.")


def test_trial_is_misc_with_registry_identifier_and_sponsor_as_author(trial):
    bibtex = to_bibtex([trial])
    entry = parse_string(bibtex, "bibtex").entries["NCT05305235"]
    assert entry.type == "misc"
    assert [str(p) for p in entry.persons["author"]] == ["{University of North Carolina, Chapel Hill}"]
    assert formatted(bibtex)["NCT05305235"] == (
        "University of North Carolina, Chapel Hill. RCT for innovating stress-related eHealth. "
        "ClinicalTrials.gov identifier: NCT05305235, March 2022. "
        "URL: https://clinicaltrials.gov/study/NCT05305235.")


def test_keys_are_stable_and_unique(articles, preprints, trial):
    papers = [articles[PEMPHIX], trial, preprints["PPR1032307"], preprints["PPR1032307"], articles[PEMPHIX]]
    keys = list(parse_string(to_bibtex(papers), "bibtex").entries.keys())
    assert keys == [f"pmid{PEMPHIX}", "NCT05305235", "doi_10.1101_2025.06.05.25329031",
                    "doi_10.1101_2025.06.05.25329031_2", f"pmid{PEMPHIX}_2"]
    assert to_bibtex(papers) == to_bibtex(papers)


@pytest.mark.slow
def test_every_real_record_round_trips_through_both_formats(articles, preprints, trial):
    papers = [*articles.values(), *preprints.values(), trial]
    bibtex = to_bibtex(papers)
    assert len(parse_string(bibtex, "bibtex").entries) == len(papers) == 317
    # pybtex's styles need an author; the anonymous "Editorial announcement" (PMID 400955) has none.
    authored = [p for p in papers if p.get("authors") or p.get("lead_sponsor")]
    assert len(authored) == 316 and all(formatted(to_bibtex(authored)).values())
    ris = rispy.loads(to_ris(papers))
    assert [e.get("title") for e in ris] == [p.get("title") or p.get("brief_title") for p in papers]
    assert [e.get("doi") for e in ris] == [p.get("doi") for p in papers]


# --------------------------------------------------------------------- RIS ---

def test_ris_article_uses_only_tags_zotero_maps_to_journal_article_fields(articles):
    papers = [articles[pmid] for pmid in (PEMPHIX, SAGE, CROSSWALK, KETAMINE_ISOMERS, INSULIN, MAGNETIC)]
    text = to_ris(papers)
    for record in ris_records(text):
        assert record[0] == ("TY", "JOUR")
        assert {tag for tag, _ in record[1:]} <= set(ZOTERO_JOURNAL_ARTICLE)
    entries = {int(e["accession_number"]): e for e in rispy.loads(text)}
    pemphix = entries[PEMPHIX]
    assert pemphix["secondary_title"] == "The New England journal of medicine"     # T2: publicationTitle
    assert pemphix["alternate_title1"] == "N Engl J Med"                            # J2: journalAbbreviation
    assert pemphix["date"] == "2021/05/19/" and ZOTERO_DATE.fullmatch(pemphix["date"])
    assert pemphix["authors"][0] == "Werth, Victoria P"
    assert pemphix["authors"][-1] == "PEMPHIX Study Group"  # no comma: one single-field name in Zotero
    assert "notes" not in pemphix                           # N1 would become a Zotero note
    assert entries[SAGE]["authors"][-1] == "SAGE Investigators on behalf of SCCM Discovery"
    assert entries[KETAMINE_ISOMERS]["authors"] == ["Włodarczyk, Adam", "Cubała, Wiesław J", "Gąsior, Magdalena"]
    assert (entries[INSULIN]["start_page"], entries[INSULIN]["end_page"]) == ("216", "219")
    assert entries[MAGNETIC]["notes"] == ["Retracted publication"]
    assert entries[MAGNETIC]["keywords"][-1] == "Retracted Publication"
    assert entries[MAGNETIC]["urls"] == [f"https://pubmed.ncbi.nlm.nih.gov/{MAGNETIC}/"]


def test_ris_preprint_is_a_journal_article_in_its_server_with_a_preprint_note(preprints):
    text = to_ris(preprints.values())
    entry = rispy.loads(text)[0]
    assert {tag for record in ris_records(text) for tag, _ in record} <= set(ZOTERO_JOURNAL_ARTICLE) | {"TY"}
    assert entry["type_of_reference"] == "JOUR" and entry["secondary_title"] == "medRxiv"
    assert entry["doi"] == "10.1101/2025.06.13.25329599" and entry["date"] == "2025/06/16/"
    assert entry["authors"][:2] == ["Mendez, J S", "Queme, B"]
    assert entry["notes"] == ["Preprint, not peer reviewed"]


def test_ris_trial_is_the_report_zotero_saves_from_clinicaltrials_gov(trial):
    text = to_ris([trial])
    (record,) = ris_records(text)
    assert record[0] == ("TY", "RPRT") and {tag for tag, _ in record[1:]} <= set(ZOTERO_REPORT)
    (entry,) = rispy.loads(text)
    assert entry["title"] == "RCT for Innovating Stress-related eHealth"
    assert entry["authors"] == ["University of North Carolina Chapel Hill"]  # a comma would split it
    assert (entry["publisher"], entry["issn"], entry["type_of_work"]) == (
        "ClinicalTrials.gov", "NCT05305235", "Clinical trial registration")
    assert entry["date"] == "2022/03/31/" and entry["urls"] == ["https://clinicaltrials.gov/study/NCT05305235"]


def test_unknown_kind_is_a_one_line_error(trial):
    with pytest.raises(LitwatchError, match="unknown citation kind 'dataset'"):
        to_ris([{**trial, "kind": "dataset"}])


# ------------------------------------------------------------ the CLI path ---

@pytest.mark.slow
def test_export_keeps_a_group_name_with_a_comma_one_author(db):
    import_file(db, SUBSET)
    authors = db.execute("SELECT count(*) FROM article_authors WHERE pmid = ?", [SAGE]).fetchone()[0]

    def export(fmt):
        result = CliRunner().invoke(cli, ["--db", db_path(db), "export", "--format", fmt, "--year-from", "2021"])
        assert result.exit_code == 0, result.output
        return result.stdout

    bibtex = export("bibtex")
    persons = [str(p) for p in parse_string(bibtex, "bibtex").entries[f"pmid{SAGE}"].persons["author"]]
    assert len(persons) == authors == 37
    assert persons[-1] == "{SAGE Investigators, on behalf of SCCM Discovery}"
    reference = formatted(bibtex, keys=[f"pmid{SAGE}"])[f"pmid{SAGE}"]
    assert ", and SAGE Investigators, on behalf of SCCM Discovery. Variation in early" in reference
    (entry,) = [e for e in rispy.loads(export("ris")) if e["accession_number"] == str(SAGE)]
    assert len(entry["authors"]) == authors
    assert entry["authors"][-1] == "SAGE Investigators on behalf of SCCM Discovery"


def test_trials_export_as_the_report_zotero_saves_and_read_back(db):
    """`litwatch export trials`: every trial of the topic as the RIS report (TY RPRT) Zotero's
    ClinicalTrials.gov translator saves, and as a BibTeX @misc, read back by rispy and pybtex."""
    import_file(db, FIXTURES / "ctg-studies_dtx_psychiatric.json", topic="ketamine-ptsd")
    trials = {r[0]: r[1:] for r in db.execute("SELECT nct_id, brief_title, lead_sponsor, first_posted FROM trials")}
    assert len(trials) > 1

    def export(fmt, *args):
        result = CliRunner().invoke(cli, ["--db", db_path(db), "export", "trials", "--format", fmt, *args])
        assert result.exit_code == 0, result.output
        return result.stdout

    text = export("ris", "--topic", "ketamine-ptsd")
    records = ris_records(text)
    assert len(records) == len(trials)
    assert all(r[0] == ("TY", "RPRT") and {tag for tag, _ in r[1:]} <= set(ZOTERO_REPORT) for r in records)
    entries = {e["issn"]: e for e in rispy.loads(text)}  # SN: the report number, the NCT number
    assert set(entries) == set(trials)
    for nct_id, (title, sponsor, posted) in trials.items():
        e = entries[nct_id]
        assert (e["type_of_reference"], e["title"], e["publisher"], e["type_of_work"]) == (
            "RPRT", title, "ClinicalTrials.gov", "Clinical trial registration")
        assert e["authors"] == [re.sub(r"\s*,\s*", " ", sponsor)]
        assert e["date"] == posted.replace("-", "/") + "/" and e["urls"] == [f"https://clinicaltrials.gov/study/{nct_id}"]
    bibtex = parse_string(export("bibtex"), "bibtex")
    assert set(bibtex.entries) == set(trials) and {e.type for e in bibtex.entries.values()} == {"misc"}
    assert all(e.fields["howpublished"] == f"ClinicalTrials.gov identifier: {key}" for key, e in bibtex.entries.items())
    # --year-from/--year-to select by the year a trial was first posted, as its citation is dated.
    latest = max(posted[:4] for _, _, posted in trials.values())
    recent = {e["issn"] for e in rispy.loads(export("ris", "--year-from", latest))}
    assert recent == {n for n, (_, _, posted) in trials.items() if posted[:4] == latest} != set(trials)
    assert export("ris", "--topic", "another-topic") == ""
