"""Parse PubMed records (efetch XML, baseline/update files, MEDLINE text) into rows.

Every parser yields :class:`Event` objects in file order: an article (a dict of table
name -> rows, ready for :func:`litwatch.store.save_articles`), a deletion (PMIDs from a
``DeleteCitation`` block), or a skipped book record. XML is streamed with lxml's
``iterparse`` and each record is freed once read, so memory stays flat whatever the
file size. Entity expansion, DTD loading and network access are all off.
"""

from __future__ import annotations

import io
import json
import re
from dataclasses import dataclass, field
from typing import IO, Any, Iterator

from lxml import etree

from ...errors import ParseError

Row = dict[str, Any]
Record = dict[str, Any]  # {"articles": Row, "article_authors": [Row], ...}

MONTHS = {m: i for i, m in enumerate(
    ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"], 1)}
_YEAR_MONTH = re.compile(r"(\d{4})(?:[\s/-]+([A-Za-z]{3}|\d{1,2})\b)?(?:[\s/-]+(\d{1,2})\b)?")
_ORCID = re.compile(r"(\d{4}-?\d{4}-?\d{4}-?\d{3}[\dXx])")
_TOP_TAGS = ("PubmedArticle", "PubmedBookArticle", "DeleteCitation", "MedlineCitation")


@dataclass
class Event:
    """One item read from a PubMed file: ``kind`` is article, delete or book."""

    kind: str
    record: Record | None = None
    pmids: list[int] = field(default_factory=list)


# ---------------------------------------------------------------- XML ----------

def iter_xml(source: IO[bytes]) -> Iterator[Event]:
    """Stream events from a PubmedArticleSet (or legacy MedlineCitationSet) document.

    :raises ParseError: on malformed XML or a document of another kind.
    """
    context = etree.iterparse(source, events=("end",), tag=_TOP_TAGS, resolve_entities=False,
                              no_network=True, load_dtd=False, huge_tree=False)
    checked = False
    try:
        for _, elem in context:
            if not checked:
                reject_entities(elem.getroottree())
                checked = True
            tag = elem.tag
            if tag == "MedlineCitation":
                parent = elem.getparent()
                if parent is not None and parent.tag == "PubmedArticle":
                    continue  # read with its PubmedArticle
                yield Event("article", parse_citation(elem, None))
            elif tag == "PubmedArticle":
                yield Event("article", parse_citation(elem.find("MedlineCitation"),
                                                      elem.find("PubmedData")))
            elif tag == "DeleteCitation":
                yield Event("delete", pmids=[int(p.text) for p in elem.iterfind("PMID")])
            else:
                pmid = elem.findtext("BookDocument/PMID")
                yield Event("book", pmids=[int(pmid)] if pmid else [])
            _free(elem)
        root = context.root
    except etree.XMLSyntaxError as e:
        raise ParseError(f"malformed XML: {e}") from None
    if root is not None and not checked:
        reject_entities(root.getroottree())
    if root is None or root.tag not in ("PubmedArticleSet", "MedlineCitationSet"):
        found = "nothing" if root is None else f"<{root.tag}>"
        raise ParseError(f"expected a PubmedArticleSet document, found {found}")


def reject_entities(tree: etree._ElementTree) -> None:
    """Refuse documents that declare entities: PubMed never does, and entity tricks
    (billion laughs, external entities) are how XML attacks a parser."""
    dtd = tree.docinfo.internalDTD
    if dtd is not None and any(True for _ in dtd.iterentities()):
        raise ParseError("the document declares XML entities, which PubMed files never do; refused")


def parse_xml_bytes(body: bytes) -> list[Event]:
    """Parse a whole efetch response body (small enough to hold) into events."""
    return list(iter_xml(io.BytesIO(body)))


_ROOT_START = re.compile(rb"<(PubmedArticleSet|MedlineCitationSet)(?:\s[^>]*)?>")
_RECORD_ENDS = {b"PubmedArticleSet": (b"</PubmedArticle>", b"</PubmedBookArticle>"),
                b"MedlineCitationSet": (b"</MedlineCitation>",)}
_DELETE_END = b"</DeleteCitation>"


def split_xml(stream: IO[bytes], chunk_bytes: int = 4 << 20) -> Iterator[bytes]:
    """Cut a large PubmedArticleSet into standalone documents of whole records.

    Used to parse one file in several processes. The cut falls just after a record's
    closing tag, and each piece is re-wrapped in the root element, so every piece is
    still parsed (and validated) by lxml in full; a bad cut can only make a piece fail
    to parse, never lose a record silently. A ``DeleteCitation`` block always ends a
    piece, so deletions apply after the records before them and before those after.
    """
    buf = stream.read(chunk_bytes)
    m = _ROOT_START.search(buf)
    if not m:
        raise ParseError("expected a PubmedArticleSet document")
    if b"<!ENTITY" in buf[:m.start()]:
        raise ParseError("the document declares XML entities, which PubMed files never do; refused")
    root = m.group(1)
    open_tag, close_tag = b"<" + root + b">", b"</" + root + b">"
    ends = _RECORD_ENDS[root]
    buf = buf[m.end():]
    eof = False
    while buf or not eof:
        if not eof:
            more = stream.read(chunk_bytes)
            if more:
                buf += more
            else:
                eof = True
                i = buf.rfind(close_tag)
                if i < 0 or buf[i + len(close_tag):].strip():
                    raise ParseError("truncated document: no closing </%s>" % root.decode())
                buf = buf[:i]
        cut = max(buf.rfind(end) + len(end) if buf.rfind(end) >= 0 else 0 for end in ends)
        deleted = buf.find(_DELETE_END)
        if deleted >= 0 and (deleted + len(_DELETE_END) <= cut or cut == 0):
            cut = deleted + len(_DELETE_END)
        if eof and cut == 0:
            cut = len(buf)  # only whitespace (or a fragment lxml will reject) is left
        if cut:
            piece, buf = buf[:cut], buf[cut:]
            if piece.strip():
                yield open_tag + piece + close_tag


def _free(elem: etree._Element) -> None:
    """Release a finished record and every sibling before it."""
    elem.clear(keep_tail=False)
    parent = elem.getparent()
    if parent is not None:
        while elem.getprevious() is not None:
            del parent[0]


def parse_citation(mc: etree._Element, pd: etree._Element | None) -> Record:
    """Turn a MedlineCitation (and its PubmedData, when present) into table rows.

    Each element is visited once, dispatching on child tags: ElementPath look-ups per
    field cost several times more on 30,000-record files.
    """
    pmid = 0
    a: Row = dict.fromkeys(ARTICLE_FIELDS)
    rec: Record = {"articles": a, "article_authors": [], "article_mesh": [],
                   "article_publication_types": [], "article_keywords": [],
                   "article_chemicals": [], "article_grants": [], "article_databanks": [],
                   "article_ids": [], "article_comments": [], "article_history": []}
    languages: list[str] = []
    elocation_doi = None
    a["medline_status"] = mc.get("Status")
    for child in mc:
        tag = child.tag
        if tag == "PMID":
            pmid = int(child.text)
        elif tag == "Article":
            elocation_doi = _read_article(child, a, rec, languages)
        elif tag == "MeshHeadingList":
            rec["article_mesh"] = _mesh(child)
        elif tag == "MedlineJournalInfo":
            _texts_into(child, a, _JOURNAL_INFO_FIELDS)
        elif tag == "ChemicalList":
            rec["article_chemicals"] = _chemicals(child)
        elif tag == "DateCompleted":
            a["date_completed"] = _date(child)
        elif tag == "DateRevised":
            a["date_revised"] = _date(child)
        elif tag == "KeywordList":
            owner = child.get("Owner")
            rec["article_keywords"] += [
                {"keyword": _text(k), "owner": owner, "major_topic": k.get("MajorTopicYN") == "Y"}
                for k in child if k.tag == "Keyword" and _text(k)]
        elif tag == "CommentsCorrectionsList":
            rec["article_comments"] = [
                {"position": i, "ref_type": c.get("RefType"), "ref_pmid": _int(c.findtext("PMID")),
                 "ref_source": c.findtext("RefSource"), "note": c.findtext("Note")}
                for i, c in enumerate(child, 1)]
    if pd is not None:
        _read_pubmed_data(pd, rec)
    ids = rec["article_ids"]
    first_id: dict[str, str] = {}
    for row in ids:
        first_id.setdefault(row["id_type"], row["value"])
    hist = {row["status"]: row["date"] for row in rec["article_history"]}
    a["pmid"] = pmid
    a["journal_iso"] = a["journal_iso"] or a.pop("medline_ta", None)
    a.pop("medline_ta", None)
    a["doi"] = first_id.get("doi") or elocation_doi
    a["pmc_id"] = first_id.get("pmc")
    a["pii"] = first_id.get("pii")
    a["language"] = languages[0] if languages else None
    a["languages"] = json.dumps(languages)
    a["entrez_date"] = hist.get("entrez")
    a["pubmed_date"] = hist.get("pubmed")
    a["pub_year"] = int(a["pub_date"][:4]) if a["pub_date"] else None
    for name, rows in rec.items():
        if name != "articles":
            for row in rows:
                row["pmid"] = pmid
    rec["article_keywords"] = _unique(rec["article_keywords"], ("keyword",))
    return rec


ARTICLE_FIELDS = (
    "pmid", "title", "abstract", "abstract_copyright", "journal", "journal_iso", "issn",
    "issn_linking", "nlm_unique_id", "journal_country", "volume", "issue", "pages", "pub_date",
    "pub_year", "medline_date", "article_date", "doi", "pmc_id", "pii", "language", "languages",
    "publication_status", "medline_status", "date_completed", "date_revised", "entrez_date",
    "pubmed_date")


def _read_article(art: etree._Element, a: Row, rec: Record, languages: list[str]) -> str | None:
    """Fill article fields and child rows from an <Article>; return its ELocationID DOI."""
    doi = None
    for child in art:
        tag = child.tag
        if tag == "Journal":
            _read_journal(child, a)
        elif tag == "ArticleTitle":
            a["title"] = _text(child)
        elif tag == "Abstract":
            a["abstract"], a["abstract_copyright"] = _abstract(child)
        elif tag == "AuthorList":
            rec["article_authors"] = _authors(child)
        elif tag == "Pagination":
            a["pages"] = _pages(child)
        elif tag == "ELocationID":
            if doi is None and child.get("EIdType") == "doi" and child.text:
                doi = child.text.strip()
        elif tag == "Language":
            if child.text:
                languages.append(child.text)
        elif tag == "PublicationTypeList":
            rec["article_publication_types"] = _unique(
                [{"ui": p.get("UI"), "name": _text(p)} for p in child], ("name",))
        elif tag == "ArticleDate":
            a["article_date"] = a["article_date"] or _date(child)
        elif tag == "DataBankList":
            rec["article_databanks"] = _unique([
                {"databank": bank.findtext("DataBankName"), "accession": acc.text.strip()}
                for bank in child for acc in bank.iterfind("AccessionNumberList/AccessionNumber")
                if acc.text], ("databank", "accession"))
        elif tag == "GrantList":
            rec["article_grants"] = [
                {"position": i, "grant_id": g.findtext("GrantID"), "acronym": g.findtext("Acronym"),
                 "agency": g.findtext("Agency"), "country": g.findtext("Country")}
                for i, g in enumerate(child, 1)]
    return doi


_JOURNAL_INFO_FIELDS = {"MedlineTA": "medline_ta", "NlmUniqueID": "nlm_unique_id",
                        "ISSNLinking": "issn_linking", "Country": "journal_country"}
_JOURNAL_FIELDS = {"Title": "journal", "ISOAbbreviation": "journal_iso", "ISSN": "issn"}
_ISSUE_FIELDS = {"Volume": "volume", "Issue": "issue"}
_AUTHOR_FIELDS = {"LastName": "last_name", "ForeName": "fore_name", "Initials": "initials",
                  "Suffix": "suffix"}


def _texts_into(elem: etree._Element, row: Row, fields: dict[str, str]) -> list[etree._Element]:
    """Copy the text of the children named in ``fields`` into ``row``; return the others."""
    rest = []
    for child in elem:
        key = fields.get(child.tag)
        if key:
            row[key] = child.text
        else:
            rest.append(child)
    return rest


def _read_journal(journal: etree._Element, a: Row) -> None:
    for child in _texts_into(journal, a, _JOURNAL_FIELDS):
        if child.tag == "JournalIssue":
            for c in _texts_into(child, a, _ISSUE_FIELDS):
                if c.tag == "PubDate":
                    a["pub_date"], a["medline_date"] = _pub_date(c)


def _read_pubmed_data(pd: etree._Element, rec: Record) -> None:
    a = rec["articles"]
    for child in pd:
        tag = child.tag
        if tag == "History":
            history: dict[str, Row] = {}
            for e in child:
                date = _date(e)
                status = e.get("PubStatus")
                if date and status not in history:
                    history[status] = {"status": status, "date": date}
            rec["article_history"] = list(history.values())
        elif tag == "PublicationStatus":
            a["publication_status"] = child.text
        elif tag == "ArticleIdList":
            # Only this list: ReferenceList entries carry ArticleIds of *other* papers.
            rec["article_ids"] = _unique([{"id_type": e.get("IdType"), "value": e.text.strip()}
                                          for e in child if e.text], ("id_type", "value"))


def _authors(author_list: etree._Element) -> list[Row]:
    rows = []
    for a in author_list:
        if a.get("ValidYN") == "N":
            continue  # an erroneous author NLM keeps only for the record
        row = {"position": len(rows) + 1, "last_name": None, "fore_name": None, "initials": None,
               "suffix": None, "collective_name": None, "orcid": None,
               "equal_contrib": a.get("EqualContrib") == "Y"}
        affiliations = []
        for c in _texts_into(a, row, _AUTHOR_FIELDS):
            tag = c.tag
            if tag == "CollectiveName":
                row["collective_name"] = _text(c)
            elif tag == "AffiliationInfo":
                affiliations.append(_text(c.find("Affiliation")))
            elif tag == "Identifier" and (c.get("Source") or "").upper() == "ORCID":
                row["orcid"] = normalize_orcid(c.text)
        row["affiliation"] = affiliations[0] if affiliations else None
        row["affiliations"] = json.dumps(affiliations, ensure_ascii=False) if affiliations else "[]"
        rows.append(row)
    return rows


def _mesh(heading_list: etree._Element) -> list[Row]:
    rows = []
    for i, h in enumerate(heading_list, 1):
        descriptor, major, qualifiers = None, False, []
        for c in h:
            if c.tag == "DescriptorName":
                descriptor = c
                major = c.get("MajorTopicYN") == "Y"
            else:
                q_major = c.get("MajorTopicYN") == "Y"
                major = major or q_major
                qualifiers.append({"ui": c.get("UI"), "name": c.text, "major_topic": q_major})
        if descriptor is None:
            continue
        rows.append({"position": i, "descriptor_ui": descriptor.get("UI"),
                     "descriptor_name": descriptor.text, "major_topic": major,
                     "qualifiers": json.dumps(qualifiers) if qualifiers else "[]"})
    return rows


def _chemicals(chemical_list: etree._Element) -> list[Row]:
    rows = []
    for c in chemical_list:
        row = {"registry_number": None, "ui": None, "name": None}
        for x in c:
            if x.tag == "RegistryNumber":
                row["registry_number"] = x.text
            elif x.tag == "NameOfSubstance":
                row["ui"], row["name"] = x.get("UI"), x.text
        rows.append(row)
    return _unique(rows, ("name",))


def _abstract(ab: etree._Element) -> tuple[str | None, str | None]:
    parts, copyright_ = [], None
    for t in ab:
        if t.tag == "AbstractText":
            text = _text(t)
            label = t.get("Label")
            if text or label:
                parts.append(f"{label}: {text or ''}" if label else text)
        elif t.tag == "CopyrightInformation":
            copyright_ = t.text
    return "\n".join(parts) or None, copyright_


def _pages(pg: etree._Element) -> str | None:
    medline = pg.findtext("MedlinePgn")
    if medline:
        return medline
    start, end = pg.findtext("StartPage"), pg.findtext("EndPage")
    return f"{start}-{end}" if start and end else start


def _pub_date(pd: etree._Element) -> tuple[str | None, str | None]:
    """ISO date as precise as the source gives, plus the raw MedlineDate if any."""
    first = pd[0] if len(pd) else None
    if first is not None and first.tag == "MedlineDate":
        return iso_from_text(first.text or ""), first.text
    return _date(pd), None


def _date(e: etree._Element) -> str | None:
    """ISO string from a Year/Month/Day element; partial dates stay partial."""
    year = month = day = None
    for c in e:
        tag = c.tag
        if tag == "Year":
            year = c.text
        elif tag == "Month":
            month = c.text
        elif tag == "Day":
            day = c.text
    return iso_date(year, month, day)


def iso_date(year: str | None, month: str | None = None, day: str | None = None) -> str | None:
    """``iso_date("2021", "Jun", "1") == "2021-06-01"``; seasons and junk are dropped."""
    if not year or not year.strip()[:4].isdigit():
        return None
    out = year.strip()[:4]
    m = _month(month)
    if m:
        out += f"-{m:02d}"
        if day and day.strip().isdigit() and 1 <= int(day) <= 31:
            out += f"-{int(day):02d}"
    return out


def iso_from_text(text: str) -> str | None:
    """ISO date from free text such as a MedlineDate ("1998 Dec-1999 Jan" -> "1998-12")."""
    m = _YEAR_MONTH.search(text)
    if not m:
        return None
    return iso_date(m.group(1), m.group(2), m.group(3) if m.group(2) else None)


def _month(value: str | None) -> int | None:
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        n = int(value)
        return n if 1 <= n <= 12 else None
    return MONTHS.get(value[:3].lower())


def normalize_orcid(value: str | None) -> str | None:
    """Bare ORCID iD (0000-0002-1825-0097) from any of the forms PubMed carries."""
    if not value:
        return None
    m = _ORCID.search(value.replace(" ", ""))
    if not m:
        return None
    digits = m.group(1).replace("-", "").upper()
    return "-".join(digits[i:i + 4] for i in range(0, 16, 4))


def _text(e: etree._Element | None) -> str | None:
    """All text inside an element, inline markup (<i>, <sup>...) kept as its text."""
    if e is None:
        return None
    if len(e) == 0:
        text = e.text
    else:
        text = "".join(e.itertext())
    return text.strip() if text else None


def _int(value: str | None) -> int | None:
    return int(value) if value and value.strip().isdigit() else None


def _unique(rows: list[Row], keys: tuple[str, ...]) -> list[Row]:
    """Drop rows repeating an earlier row's key (PubMed occasionally repeats an entry)."""
    seen, out = set(), []
    for row in rows:
        k = tuple(row[x] for x in keys)
        if k not in seen:
            seen.add(k)
            out.append(row)
    return out


# ------------------------------------------------------------ MEDLINE text ----

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
_REF_PMID = re.compile(r"^(.*?)\.?\s*PMID:\s*(\d+)\s*$")


def iter_medline(handle: IO[str]) -> Iterator[Event]:
    """Stream events from a MEDLINE ("PubMed format", .nbib/.txt) export via Bio.Medline."""
    from Bio import Medline

    for rec in Medline.parse(handle):
        if "PMID" not in rec:
            raise ParseError("MEDLINE record without a PMID line")
        yield Event("article", medline_record(rec))


def medline_record(rec: dict[str, Any]) -> Record:
    """Map one Bio.Medline record onto the same rows the XML parser produces."""
    pmid = int(rec["PMID"])
    ids = [{"pmid": pmid, "id_type": "pubmed", "value": str(pmid)}]
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
    history = []
    for h in rec.get("PHST", []):
        m = _BRACKETED.match(h)
        if m:
            history.append({"pmid": pmid, "status": m.group(2), "date": iso_from_text(m.group(1))})
    history = _unique(history, ("status",))
    hist = {row["status"]: row["date"] for row in history}
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
        "languages": json.dumps(languages),
        "publication_status": rec.get("PST"),
        "medline_status": rec.get("STAT"),
        "date_completed": _compact_date(rec.get("DCOM")),
        "date_revised": _compact_date(rec.get("LR")),
        "entrez_date": hist.get("entrez"),
        "pubmed_date": hist.get("pubmed"),
    }
    comments = []
    for tag, ref_type in MEDLINE_COMMENT_TAGS.items():
        for value in rec.get(tag, []):
            m = _REF_PMID.match(value)
            comments.append({"pmid": pmid, "position": len(comments) + 1, "ref_type": ref_type,
                             "ref_pmid": int(m.group(2)) if m else None,
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
                     "affiliations": json.dumps([ads[i]] if ads[i] else [], ensure_ascii=False),
                     "orcid": auids[i], "equal_contrib": False})
    for cn in rec.get("CN", []):
        rows.append({"pmid": pmid, "position": len(rows) + 1, "last_name": None, "fore_name": None,
                     "initials": None, "suffix": None, "collective_name": cn, "affiliation": None,
                     "affiliations": "[]", "orcid": None, "equal_contrib": False})
    return rows


def _medline_mesh(pmid: int, position: int, term: str) -> Row:
    parts = term.split("/")
    descriptor = parts[0]
    qualifiers = [{"ui": None, "name": q.lstrip("*"), "major_topic": q.startswith("*")} for q in parts[1:]]
    major = descriptor.startswith("*")
    return {"pmid": pmid, "position": position, "descriptor_ui": None,
            "descriptor_name": descriptor.lstrip("*"),
            "major_topic": major or any(q["major_topic"] for q in qualifiers),
            "qualifiers": json.dumps(qualifiers)}


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
