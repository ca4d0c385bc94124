"""Parse MEDLINE text exports ("PubMed format", ``.nbib``/``.txt``) with Biopython's
``Bio.Medline`` into the same rows the XML parser produces."""

from __future__ import annotations

import json
import re
from typing import IO, Any, Iterator

from ...errors import BadRecord, ParseError
from ..base import Skipped
from ..checks import pmid as checked_pmid, require_pmid
from .parse import Event, iso_from_text, normalize_orcid, parsed_from_dict

Row = dict[str, Any]
Record = dict[str, Any]


def _unique(rows: list[Row], keys: tuple[str, ...]) -> list[Row]:
    """Drop rows repeating an earlier row's key."""
    seen, out = set(), []
    for row in rows:
        k = tuple(row[x] for x in keys)
        if k not in seen:
            seen.add(k)
            out.append(row)
    return out


# MEDLINE tags of comments/corrections, mapped to the XML RefType names.
MEDLINE_COMMENT_TAGS = {
    "CON": "CommentOn", "CIN": "CommentIn", "EIN": "ErratumIn", "EFR": "ErratumFor",
    "CRI": "CorrectedandRepublishedIn", "CRF": "CorrectedandRepublishedFrom",
    "PRIN": "PartialRetractionIn", "PROF": "PartialRetractionOf", "RPI": "RepublishedIn",
    "RPF": "RepublishedFrom", "RIN": "RetractionIn", "ROF": "RetractionOf", "UIN": "UpdateIn",
    "UOF": "UpdateOf", "SPIN": "SummaryForPatientsIn", "ORI": "OriginalReportIn",
    "ECI": "ExpressionOfConcernIn", "ECF": "ExpressionOfConcernFor",
}
_BRACKETED = re.compile(r"^(.*?)\s*\[([^\]]+)\]\s*$")
_ISSN = re.compile(r"(\d{4}-\d{3}[\dXx])\s*\((\w+)\)")
_REF_PMID = re.compile(r"^(.*?)\.?\s*PMID:\s*([0-9]+)\s*$")


def iter_medline(handle: IO[str]) -> Iterator[Event]:
    """Stream events from a MEDLINE ("PubMed format", .nbib/.txt) export via Bio.Medline; a
    malformed record (no PMID line, a PMID that is not one, a field too large) is a skipped
    event and the records after it are still read."""
    from Bio import Medline

    for position, rec in enumerate(Medline.parse(_lines(handle)), 1):
        try:
            yield Event("article", parsed_from_dict(medline_record(rec)))
        except BadRecord as e:
            yield Event("skipped", skipped=Skipped(f"record {position}", str(e)))


# A MEDLINE line holds one field or a 6-column continuation of one; no real line nears this.
# It is far above the field bound (checks.MAX_TEXT), so an oversized field skips its record
# (counted and named) while a line without end is refused before it fills memory.
MAX_LINE_CHARS = 64 << 20


def _lines(handle: IO[str]) -> Iterator[str]:
    """The lines of a MEDLINE file, each read within a bound: one that never ends (a damaged
    or hostile file of gigabytes without a newline) is refused at its line number instead of
    being read into memory whole."""
    number = 0
    while True:
        line = handle.readline(MAX_LINE_CHARS + 1)
        if not line:
            return
        number += 1
        if len(line) > MAX_LINE_CHARS:
            raise ParseError(f"line {number} is longer than {MAX_LINE_CHARS:,} characters, longer than any "
                             f"MEDLINE line; refused as damaged or hostile")
        yield line


def medline_record(rec: dict[str, Any]) -> Record:
    """Map one Bio.Medline record onto the same rows the XML parser produces.

    :raises BadRecord: the record has no PMID line, or one that is not a PMID.
    """
    if "PMID" not in rec:
        raise BadRecord("no PMID line")
    pmid = require_pmid(rec["PMID"])
    ids: list[Row] = [{"pmid": pmid, "id_type": "pubmed", "value": str(pmid)}]
    for aid in rec.get("AID", []):
        m = _BRACKETED.match(aid)
        if m:
            ids.append({"pmid": pmid, "id_type": m.group(2), "value": m.group(1)})
    if rec.get("PMC"):
        ids.append({"pmid": pmid, "id_type": "pmc", "value": rec["PMC"]})
    ids = _unique(ids, ("id_type", "value"))
    first_id: dict[str, str] = {}
    for row in ids:
        first_id.setdefault(row["id_type"], row["value"])
    lid_doi = _BRACKETED.match(rec.get("LID", ""))
    history: list[Row] = []
    for h in rec.get("PHST", []):
        m = _BRACKETED.match(h)
        if m:
            history.append({"pmid": pmid, "position": len(history) + 1, "status": m.group(2),
                            "date": iso_from_text(m.group(1))})
    hist: dict[str, str | None] = {}
    for row in history:
        hist.setdefault(row["status"], row["date"])
    issns = dict((kind.lower(), number) for number, kind in _ISSN.findall(rec.get("IS", "")))
    languages = rec.get("LA", [])
    pub_date = iso_from_text(rec.get("DP", ""))
    article = {
        "pmid": pmid,
        "title": rec.get("TI"),
        "abstract": rec.get("AB"),
        "abstract_copyright": " ".join(rec["CI"]) if rec.get("CI") else None,
        "journal": rec.get("JT"),
        "journal_iso": rec.get("TA"),
        "issn": issns.get("electronic") or issns.get("print"),
        "issn_linking": issns.get("linking"),
        "nlm_unique_id": rec.get("JID"),
        "journal_country": rec.get("PL"),
        "volume": rec.get("VI"),
        "issue": rec.get("IP"),
        "pages": rec.get("PG"),
        "pub_date": pub_date,
        "pub_year": int(pub_date[:4]) if pub_date else None,
        "medline_date": None,
        "article_date": _compact_date(rec.get("DEP")),
        "doi": first_id.get("doi") or (lid_doi.group(1) if lid_doi and lid_doi.group(2) == "doi" else None),
        "pmc_id": first_id.get("pmc"),
        "pii": first_id.get("pii"),
        "language": languages[0] if languages else None,
        "languages": json.dumps(languages) if languages else None,
        "publication_status": rec.get("PST"),
        "medline_status": rec.get("STAT"),
        "date_completed": _compact_date(rec.get("DCOM")),
        "date_revised": _compact_date(rec.get("LR")),
        "entrez_date": hist.get("entrez"),
        "pubmed_date": hist.get("pubmed"),
    }
    comments: list[Row] = []
    for tag, ref_type in MEDLINE_COMMENT_TAGS.items():
        for value in rec.get(tag, []):
            m = _REF_PMID.match(value)
            comments.append({"pmid": pmid, "position": len(comments) + 1, "ref_type": ref_type,
                             "ref_pmid": checked_pmid(m.group(2)) if m else None,
                             "ref_source": m.group(1) if m else value, "note": None})
    return {
        "articles": article,
        "article_authors": _medline_authors(rec, pmid),
        "article_mesh": [_medline_mesh(pmid, i, term) for i, term in enumerate(rec.get("MH", []), 1)],
        "article_publication_types": _unique(
            [{"pmid": pmid, "ui": None, "name": pt} for pt in rec.get("PT", [])], ("name",)),
        "article_keywords": [{"pmid": pmid, "keyword": k.strip("* "), "owner": rec.get("OTO", [None])[0],
                              "major_topic": k.startswith("*")} for k in rec.get("OT", [])],
        "article_chemicals": _unique([_medline_chemical(pmid, rn) for rn in rec.get("RN", [])],
                                     ("ui", "name")),
        "article_grants": [_medline_grant(pmid, i, g) for i, g in enumerate(rec.get("GR", []), 1)],
        "article_databanks": _unique([
            {"pmid": pmid, "databank": si.split("/", 1)[0], "accession": si.split("/", 1)[1]}
            for si in rec.get("SI", []) if "/" in si], ("databank", "accession")),
        "article_ids": ids,
        "article_comments": comments,
        "article_history": history,
    }


def _medline_authors(rec: dict[str, Any], pmid: int) -> list[Row]:
    names = rec.get("FAU") or rec.get("AU", [])
    short = rec.get("AU", [])
    # Bio.Medline keeps AD and AUID lines apart from the author they follow, so they are
    # only assigned when every author has exactly one (the common case); never guessed.
    ads = rec.get("AD", [])
    auids = [normalize_orcid(a) for a in rec.get("AUID", []) if "ORCID" in a.upper()]
    ads = ads if len(ads) == len(names) else [None] * len(names)
    auids = auids if len(auids) == len(names) else [None] * len(names)
    rows = []
    for i, name in enumerate(names):
        last, _, fore = name.partition(", ")
        initials = short[i].rpartition(" ")[2] if i < len(short) and " " in short[i] else None
        rows.append({"pmid": pmid, "position": i + 1, "last_name": last, "fore_name": fore or None,
                     "initials": initials, "suffix": None, "collective_name": None,
                     "affiliation": ads[i],
                     "affiliations": json.dumps([ads[i]], ensure_ascii=False) if ads[i] else None,
                     "orcid": auids[i], "equal_contrib": False})
    for cn in rec.get("CN", []):
        rows.append({"pmid": pmid, "position": len(rows) + 1, "last_name": None, "fore_name": None,
                     "initials": None, "suffix": None, "collective_name": cn, "affiliation": None,
                     "affiliations": None, "orcid": None, "equal_contrib": False})
    return rows


def _medline_mesh(pmid: int, position: int, term: str) -> Row:
    parts = term.split("/")
    descriptor = parts[0]
    qualifiers = [{"ui": None, "name": q.lstrip("*"), "major_topic": q.startswith("*")} for q in parts[1:]]
    major = descriptor.startswith("*")
    return {"pmid": pmid, "position": position, "descriptor_ui": None,
            "descriptor_name": descriptor.lstrip("*"),
            "major_topic": major or any(q["major_topic"] for q in qualifiers),
            "qualifiers": json.dumps(qualifiers) if qualifiers else None}


def _medline_chemical(pmid: int, rn: str) -> Row:
    number, _, name = rn.partition(" (")
    return {"pmid": pmid, "registry_number": number.strip(), "ui": None,
            "name": name[:-1] if name.endswith(")") else name or None}


def _medline_grant(pmid: int, position: int, gr: str) -> Row:
    parts = gr.split("/")
    country = parts.pop() if len(parts) > 1 else None
    agency = parts.pop() if len(parts) > 1 else None
    acronym = parts.pop() if len(parts) > 1 else None
    return {"pmid": pmid, "position": position, "grant_id": "/".join(parts) or None,
            "acronym": acronym, "agency": agency, "country": country}


def _compact_date(value: str | None) -> str | None:
    """"20181201" -> "2018-12-01"."""
    if not value or not value[:8].isdigit():
        return None
    value = value[:8]
    return f"{value[:4]}-{value[4:6]}-{value[6:8]}"
