"""Parse PubMed XML (efetch responses, baseline and update files) into store rows.

:func:`iter_xml` yields :class:`Event` objects in file order: an article (a
:class:`~litwatch.store.writes.Prepared` record: its ``articles`` row and child rows as tuples
in the column order of :mod:`litwatch.sources.pubmed.schema`, its fingerprint, and its own
XML as received), a deletion (PMIDs of a ``DeleteCitation`` block), a skipped book record, or
a skipped malformed record (a PMID that is not one, a field too large to be real: see
:mod:`litwatch.sources.checks`), which the source counts while the records around it load.

Speed and memory: the document is streamed with lxml's ``iterparse`` and each record is freed
once read, so memory stays flat whatever the file size; each element of a record is visited
once and rows are built as tuples, never as dicts. The record's XML is sliced from the bytes
iterparse has already read (re-serialising it would cost as much as parsing). Entity
expansion, DTD loading and network access are all off, and a document that declares
entities is refused.
"""

from __future__ import annotations

import io
import json
import re
from json.encoder import encode_basestring as _js  # a JSON string, in C
from dataclasses import dataclass, field
from typing import IO, Any, Callable, Iterator

from lxml import etree

import logging

from ...errors import BadRecord, ParseError
from ...files import MAX_RECORD_BYTES
from ...store.writes import Prepared, fingerprint, raw_fingerprint
from ..base import Skipped
from ..checks import MAX_TEXT, check_rows, pmid as checked_pmid, require_pmid, shown
from .schema import FAMILY, TABLES

log = logging.getLogger(__name__)

Row = dict[str, Any]
Record = dict[str, Any]

MONTHS = {m: i for i, m in enumerate(
    ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"], 1)}
# The spellings of months and days PubMed uses, to their two-digit forms (dates are read
# hundreds of thousands of times a file; anything else takes the careful path).
_MONTH_CODES = {**{str(n): f"{n:02d}" for n in range(1, 13)}, **{f"{n:02d}": f"{n:02d}" for n in range(1, 13)},
                **{m.capitalize(): f"{n:02d}" for m, n in MONTHS.items()}}
_DAY_CODES = {**{str(n): f"{n:02d}" for n in range(1, 32)}, **{f"{n:02d}": f"{n:02d}" for n in range(1, 32)}}
_YEAR_MONTH = re.compile(r"(\d{4})(?:[\s/-]+([A-Za-z]{3}|\d{1,2})\b)?(?:[\s/-]+(\d{1,2})\b)?")
_ORCID = re.compile(r"(\d{4}-?\d{4}-?\d{4}-?\d{3}[\dXx])")
_PMC = re.compile(r"^PMC\d+$")
_TOP_TAGS = ("PubmedArticle", "PubmedBookArticle", "DeleteCitation", "MedlineCitation")
CONTENT = FAMILY.content()  # the articles columns the parser fills, in order
CHILDREN = FAMILY.children
_NO_CHILDREN: dict[str, list[tuple]] = {name: [] for name in CHILDREN}


@dataclass
class Event:
    """One item read from a PubMed file: ``kind`` is article, delete, book or skipped (a
    malformed record, ``skipped`` saying which and why)."""

    kind: str
    record: Prepared | None = None
    pmids: list[int] = field(default_factory=list)
    skipped: Skipped | None = None


# ---------------------------------------------------------------- XML ----------

class _Tee(io.RawIOBase):
    """A stream that keeps what it has read, so a record's bytes can be sliced once lxml
    has parsed it (lxml reads ahead by tens of kilobytes at most).

    What it holds is one record and lxml's read-ahead, so it also bounds a record: past
    :data:`~litwatch.files.MAX_RECORD_BYTES`, or past :data:`MAX_RECORD_TAGS` tags (lxml
    keeps every element of a record until it ends, some hundred bytes each), it ends the
    stream there and sets ``refused``; libxml2 then fails at that point and names its line
    (lxml's own line numbers stop at 65,535). Tags are counted only once a record has grown
    past :data:`_WATCH`, which no ordinary record does, so reading costs nothing more.
    """

    def __init__(self, stream: IO[bytes]):
        self.stream = stream
        self.buf = bytearray()
        self.tags: int | None = None
        self.refused = False

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        if self.refused:
            return b""
        data = self.stream.read(size)
        buf = self.buf
        buf += data
        if len(buf) > _WATCH:
            self.tags = buf.count(b"<") if self.tags is None else self.tags + data.count(b"<")
            if len(buf) > MAX_RECORD_BYTES or self.tags > MAX_RECORD_TAGS:
                self.refused = True
                return b""
        return data

    def readinto(self, b: Any) -> int:  # pragma: no cover - lxml calls read()
        data = self.read(len(b))
        b[:len(data)] = data
        return len(data)

    def take(self, start_tag: bytes, end_tag: bytes) -> bytes | None:
        """Cut the next ``<start_tag ...>...</end_tag>`` span out of what was read."""
        buf = self.buf
        start = buf.find(start_tag)
        end = buf.find(end_tag, start)
        if start < 0 or end < 0:
            return None
        end += len(end_tag)
        raw = bytes(buf[start:end])
        del buf[:end]
        self.tags = None
        return raw


# Ten times the tags of the largest real records (some 100,000: thousands of authors, each
# with names and affiliations, or thousands of references); at most about 150 MB of lxml
# elements, however few bytes each tag takes.
MAX_RECORD_TAGS = 1_000_000
_WATCH = 1 << 20


def iter_xml(source: IO[bytes], *, keep_raw: bool = True) -> Iterator[Event]:
    """Stream events from a PubmedArticleSet (or legacy MedlineCitationSet) document.

    :param keep_raw: slice each record's own XML into its record (``raw``).
    :raises ParseError: on malformed XML (naming its line), a record too large to be real,
        or a document of another kind.
    """
    tee = _Tee(source)
    # huge_tree: libxml2 otherwise refuses the whole document at a text node over 10 MB, so
    # one oversized record would fail every efetch batch and file holding it. Such a record
    # is skipped by the field bound instead (checks.MAX_TEXT); the tee bounds a whole record,
    # entity expansion stays off and libxml2's amplification limit holds either way.
    context = etree.iterparse(tee, events=("end",), tag=_TOP_TAGS, resolve_entities=False,
                              no_network=True, load_dtd=False, huge_tree=True)
    checked = False
    position = 0  # of the record in the document, to name a malformed one
    try:
        for _, elem in context:
            if not checked:
                reject_entities(elem.getroottree())
                checked = True
            tag = elem.tag
            if tag == "PubmedArticle":
                position += 1
                raw = tee.take(b"<PubmedArticle>", b"</PubmedArticle>")
                yield _article(elem.find("MedlineCitation"), elem.find("PubmedData"), raw if keep_raw else None,
                               position)
            elif tag == "MedlineCitation":
                parent = elem.getparent()
                if parent is not None and parent.tag == "PubmedArticle":
                    continue  # read with its PubmedArticle
                position += 1
                raw = tee.take(b"<MedlineCitation ", b"</MedlineCitation>")
                yield _article(elem, None, raw if keep_raw else None, position)
            elif tag == "DeleteCitation":
                tee.take(b"<DeleteCitation>", b"</DeleteCitation>")
                yield Event("delete", pmids=_deleted(elem))
            else:
                position += 1
                tee.take(b"<PubmedBookArticle>", b"</PubmedBookArticle>")
                pmid = checked_pmid(elem.findtext("BookDocument/PMID"))
                yield Event("book", pmids=[pmid] if pmid else [])
            _free(elem)
        root = context.root
    except etree.XMLSyntaxError as e:
        raise ParseError(_too_large(e.lineno) if tee.refused else _syntax_error(e)) from None
    if tee.refused:
        raise ParseError(_too_large(None))
    if root is not None and not checked:
        reject_entities(root.getroottree())
    if root is None or root.tag not in ("PubmedArticleSet", "MedlineCitationSet"):
        found = "nothing" if root is None else f"<{root.tag}>"
        raise ParseError(f"expected a PubmedArticleSet document, found {found}")


def _article(mc: etree._Element | None, pd: etree._Element | None, raw: bytes | None, position: int) -> Event:
    """The event of one citation: its record, or a skipped one when it is malformed."""
    try:
        if mc is None:
            raise BadRecord("no MedlineCitation")
        return Event("article", parse_article(mc, pd, raw))
    except BadRecord as e:
        # Its PMID, when readable, says the record was served (and refused), not missed.
        pmid = checked_pmid(mc.findtext("PMID")) if mc is not None else None
        return Event("skipped", pmids=[pmid] if pmid else [], skipped=Skipped(f"record {position}", str(e)))


def _deleted(block: etree._Element) -> list[int]:
    """The PMIDs a DeleteCitation block names; one that is not a PMID is left out, and said."""
    pmids = []
    for element in block.iterfind("PMID"):
        pmid = checked_pmid(element.text)
        if pmid:
            pmids.append(pmid)
        else:
            log.warning("%s", Skipped("a deletion", f"PMID {shown(element.text)} is not a PubMed ID; ignored"))
    return pmids


def _too_large(line: int | None) -> str:
    where = f"at line {line}, " if line else ""
    return (f"{where}a record larger than any real record (over {MAX_RECORD_BYTES >> 20} MB or "
            f"{MAX_RECORD_TAGS:,} tags, or one that never ends); refused as damaged or hostile")


def _syntax_error(e: etree.XMLSyntaxError) -> str:
    """libxml2's message on one line, with the line and column in the file."""
    # lxml-stubs 0.5 lacks _ListErrorLog.last_error
    entry = e.error_log.last_error if e.error_log else None  # type: ignore[attr-defined]
    message = " ".join((entry.message if entry else e.msg or str(e)).split())
    line, column = (entry.line, entry.column) if entry else (e.lineno, e.offset)
    return f"malformed XML at line {line}, column {column}: {message}"


def reject_entities(tree: etree._ElementTree) -> None:
    """Refuse documents that declare entities: PubMed never does, and entity tricks
    (billion laughs, external entities) are how XML attacks a parser."""
    dtd = tree.docinfo.internalDTD
    # lxml-stubs 0.5 lacks DTD.iterentities
    if dtd is not None and any(True for _ in dtd.iterentities()):  # type: ignore[attr-defined]
        raise ParseError("the document declares XML entities, which PubMed files never do; refused")


def parse_xml_bytes(body: bytes) -> list[Event]:
    """Parse a whole efetch response body (small enough to hold) into events."""
    return list(iter_xml(io.BytesIO(body)))


def _free(elem: etree._Element) -> None:
    """Release a finished record and every sibling before it."""
    elem.clear(keep_tail=False)  # type: ignore[call-arg]  # lxml-stubs 0.5 lacks keep_tail
    parent = elem.getparent()
    if parent is not None:
        while elem.getprevious() is not None:
            del parent[0]


# ------------------------------------------------------------- one record ------

def parse_article(mc: etree._Element, pd: etree._Element | None, raw: bytes | None = None) -> Prepared:
    """Turn a MedlineCitation (and its PubmedData, when present) into store rows.

    Each element is visited once, dispatching on child tags: ElementPath look-ups per
    field cost several times more on 30,000-record files.

    :raises BadRecord: the record has no PMID, one that is not a PMID, or a field too large.
    """
    a: dict[str, Any] = dict.fromkeys(CONTENT)
    kids: dict[str, list[tuple]] = {name: [] for name in CHILDREN}
    a["medline_status"] = _clean(mc.get("Status"))
    found = _read_citation(mc, a, kids)
    if found.pmid is None:
        raise BadRecord("no PMID")
    if pd is not None:
        _read_pubmed_data(pd, a, kids)
    first_id = _first_ids(kids["article_ids"], found.other_ids)
    a["pmid"] = found.pmid
    _complete(a, kids, found, first_id)
    return _prepared(found.pmid, a, kids, raw)


@dataclass
class _Found:
    """What a MedlineCitation gives besides article fields and child rows, for the fields
    completed once the whole record is read."""

    pmid: int | None = None
    languages: list[str] = field(default_factory=list)
    subsets: list[str] = field(default_factory=list)
    other_ids: list[tuple[str, str]] = field(default_factory=list)  # (source, value)
    elocations: dict[str, str] = field(default_factory=dict)


_CITATION_DATES = {"DateCompleted": "date_completed", "DateRevised": "date_revised"}


def _read_citation(mc: etree._Element, a: dict[str, Any], kids: dict[str, list[tuple]]) -> _Found:
    """Fill article fields and child rows from the children of a MedlineCitation."""
    found = _Found()
    for child in mc:
        tag = child.tag
        listed = _CITATION_LISTS.get(tag)
        if listed is not None:
            kids[listed[0]] = listed[1](child)
        elif tag == "PMID":
            found.pmid = require_pmid(child.text)
            a["pmid_version"] = _int(child.get("Version")) or 1
        elif tag == "Article":
            found.elocations = _read_article(child, a, kids, found.languages)
        elif tag == "MedlineJournalInfo":
            _read_journal_info(child, a)
        elif tag in _CITATION_DATES:
            a[_CITATION_DATES[tag]] = _date(child)
        elif tag == "KeywordList":
            owner = child.get("Owner")
            kids["article_keywords"] += [(text, owner, int(k.get("MajorTopicYN") == "Y"))
                                         for k in child if (text := _text(k))]
        elif tag == "CitationSubset":
            if child.text and child.text.strip():
                found.subsets.append(child.text.strip())
        elif tag == "OtherAbstract":
            text, copyright_ = _abstract(child)
            kids["article_other_abstracts"].append(
                (len(kids["article_other_abstracts"]) + 1, child.get("Type"), child.get("Language"), copyright_, text))
        elif tag == "OtherID":
            if child.text and child.text.strip():
                found.other_ids.append((child.get("Source") or "", child.text.strip()))
        elif tag == "CoiStatement":
            a["coi_statement"] = _text(child)
    return found


def _read_journal_info(info: etree._Element, a: dict[str, Any]) -> None:
    for c in info:
        t = c.tag
        if t == "MedlineTA":
            a["journal_iso"] = a["journal_iso"] or _clean(c.text)
        elif t == "NlmUniqueID":
            a["nlm_unique_id"] = _clean(c.text)
        elif t == "ISSNLinking":
            a["issn_linking"] = _clean(c.text)
        elif t == "Country":
            a["journal_country"] = _clean(c.text)


def _supplementary_mesh(suppl_list: etree._Element) -> list[tuple]:
    return [(i, s.get("UI"), _clean(s.text), s.get("Type")) for i, s in enumerate(suppl_list, 1)]


def _comments(comments_list: etree._Element) -> list[tuple]:
    return [(i, c.get("RefType"), checked_pmid(c.findtext("PMID")), _clean(c.findtext("RefSource")),
             _clean(c.findtext("Note"))) for i, c in enumerate(comments_list, 1)]


def _investigators(investigator_list: etree._Element) -> list[tuple]:
    return _people(investigator_list, investigators=True)


def _first_ids(ids: list[tuple], other_ids: list[tuple[str, str]]) -> dict[str, str]:
    """The first ID of each type; the OtherIDs are appended to ``ids`` as ``other:<source>``."""
    first_id: dict[str, str] = {}
    for id_type, value in ids:
        first_id.setdefault(id_type, value)
    for source, value in other_ids:
        ids.append((f"other:{source}", value))
        # Older records give their PMC ID only here, while embargoed as
        # "PMC4691190 [Available on 03/03/16]".
        word = value.split(None, 1)[0]
        if source == "NLM" and _PMC.match(word):
            first_id.setdefault("pmc", word)
    return first_id


def _complete(a: dict[str, Any], kids: dict[str, list[tuple]], found: _Found, first_id: dict[str, str]) -> None:
    """The fields read from several places (or in place of a missing one), once all are read."""
    if a["title"] is None and a["vernacular_title"]:
        a["title"] = a["vernacular_title"]
    others = kids["article_other_abstracts"]
    if a["abstract"] is None and others:
        english = [o for o in others if (o[2] or "").lower() == "eng"]
        a["abstract"] = (english or others)[0][4]
    a["doi"] = first_id.get("doi") or found.elocations.get("doi")
    a["pmc_id"] = first_id.get("pmc")
    a["pii"] = first_id.get("pii") or found.elocations.get("pii")
    languages = found.languages
    a["language"] = languages[0] if languages else None
    a["languages"] = json.dumps(languages) if languages else None
    a["citation_subsets"] = json.dumps(found.subsets) if found.subsets else None
    a["pub_year"] = int(a["pub_date"][:4]) if a["pub_date"] else None


def _prepared(pmid: int, a: dict[str, Any], kids: dict[str, list[tuple]], raw: bytes | None) -> Prepared:
    """Rows with the record's key in front of each child row, deduplicated on each table's
    key (PubMed occasionally repeats an entry), fingerprinted.

    :raises BadRecord: a field is larger than :data:`~litwatch.sources.checks.MAX_TEXT`.
    """
    # Text is never longer in characters than the bytes of the XML that holds it, so a
    # record whose XML is within the bound needs no look at its fields.
    if raw is None or len(raw) > MAX_TEXT:
        try:
            check_rows("articles", CONTENT, [tuple(a.values())])
            for name in CHILDREN:
                check_rows(name, TABLES[name].names[1:], kids[name])
        except BadRecord as e:
            raise BadRecord(f"PMID {pmid}: {e}") from None
    kids["article_ids"] = _unique_on(kids["article_ids"], 2)
    kids["article_keywords"] = _unique_on(kids["article_keywords"], 1)
    kids["article_chemicals"] = _unique_on(kids["article_chemicals"], 3, key=2)
    kids["article_publication_types"] = _unique_on(kids["article_publication_types"], 2, key=1)
    kids["article_databanks"] = _unique_on(kids["article_databanks"], 2)
    row = tuple(a.values())
    children = {name: [(pmid, *r) for r in kids[name]] if kids[name] else [] for name in CHILDREN}
    return Prepared(pmid, row, children, raw_fingerprint(raw) if raw else fingerprint(row, children), raw)


def _unique_on(rows: list[tuple], width: int, key: int | None = None) -> list[tuple]:
    """Rows whose key (the first ``width`` values, or the value at ``key``) is new."""
    seen: set = set()
    out = []
    for r in rows:
        k = r[key] if key is not None else r[:width]
        if k not in seen:
            seen.add(k)
            out.append(r)
    return out


def _read_article(art: etree._Element, a: dict[str, Any], kids: dict[str, list[tuple]],
                  languages: list[str]) -> dict[str, str]:
    """Fill article fields and child rows from an <Article>; return its first ELocationID of
    each type ({"doi": ..., "pii": ...}), the fallback when the ArticleIdList lacks one."""
    elocations: dict[str, str] = {}
    for child in art:
        tag = child.tag
        if tag == "Journal":
            _read_journal(child, a)
        elif tag == "ArticleTitle":
            a["title"] = _text(child)
        elif tag == "VernacularTitle":
            a["vernacular_title"] = _text(child)
        elif tag == "Abstract":
            a["abstract"], a["abstract_copyright"] = _abstract(child)
        elif tag == "AuthorList":
            kids["article_authors"] = _people(child)
        elif tag == "Pagination":
            a["pages"] = _pages(child)
        elif tag == "ELocationID" and child.text and child.text.strip():
            elocations.setdefault(child.get("EIdType") or "", child.text.strip())
        elif tag == "Language" and child.text and child.text.strip():
            languages.append(child.text.strip())
        elif tag == "PublicationTypeList":
            kids["article_publication_types"] = [(p.get("UI"), _text(p)) for p in child]
        elif tag == "ArticleDate":
            a["article_date"] = a["article_date"] or _date(child)
        elif tag == "DataBankList":
            kids["article_databanks"] = _databanks(child)
        elif tag == "GrantList":
            kids["article_grants"] = _grants(child)
    return elocations


def _databanks(databank_list: etree._Element) -> list[tuple]:
    """(databank, accession number) of every accession number listed."""
    return [(_clean(bank.findtext("DataBankName")), acc.text.strip())
            for bank in databank_list for acc in bank.iterfind("AccessionNumberList/AccessionNumber")
            if acc.text and acc.text.strip()]


def _grants(grant_list: etree._Element) -> list[tuple]:
    return [(i, _clean(g.findtext("GrantID")), _clean(g.findtext("Acronym")), _clean(g.findtext("Agency")),
             _clean(g.findtext("Country"))) for i, g in enumerate(grant_list, 1)]


def _read_journal(journal: etree._Element, a: dict[str, Any]) -> None:
    for child in journal:
        tag = child.tag
        if tag == "Title":
            a["journal"] = _clean(child.text)
        elif tag == "ISOAbbreviation":
            a["journal_iso"] = _clean(child.text)
        elif tag == "ISSN":
            a["issn"] = _clean(child.text)
        elif tag == "JournalIssue":
            for c in child:
                t = c.tag
                if t == "Volume":
                    a["volume"] = _clean(c.text)
                elif t == "Issue":
                    a["issue"] = _clean(c.text)
                elif t == "PubDate":
                    _pub_date(c, a)


def _read_pubmed_data(pd: etree._Element, a: dict[str, Any], kids: dict[str, list[tuple]]) -> None:
    for child in pd:
        tag = child.tag
        if tag == "History":
            history = kids["article_history"]
            for e in child:
                date = _date(e)
                status = e.get("PubStatus")
                if date and status:
                    history.append((len(history) + 1, status, date))
                    if status == "entrez" and not a["entrez_date"]:
                        a["entrez_date"] = date
                    elif status == "pubmed" and not a["pubmed_date"]:
                        a["pubmed_date"] = date
        elif tag == "PublicationStatus":
            a["publication_status"] = _clean(child.text)
        elif tag == "ArticleIdList":
            # Only this list: ReferenceList entries carry ArticleIds of *other* papers.
            kids["article_ids"] = [(e.get("IdType"), e.text.strip()) for e in child if e.text and e.text.strip()]
        elif tag == "ReferenceList":
            _references(child, kids["article_references"])


def _references(reference_list: etree._Element, out: list[tuple]) -> None:
    for ref in reference_list:
        if ref.tag == "ReferenceList":  # lists may nest (titled sub-lists)
            _references(ref, out)
            continue
        if ref.tag != "Reference":
            continue
        citation = pmid = doi = pmc = None
        for c in ref:
            if c.tag == "Citation":
                citation = _text(c)
            elif c.tag == "ArticleIdList":
                for i in c:
                    value = i.text.strip() if i.text else None
                    kind = i.get("IdType")
                    if kind == "pubmed":
                        pmid = checked_pmid(value)
                    elif kind == "doi":
                        doi = value
                    elif kind in ("pmc", "pmcid") and value:  # 2021 files: "pmcid", bare digits
                        pmc = value if value.startswith("PMC") else f"PMC{value}"
        out.append((len(out) + 1, citation, pmid, doi, pmc))


def _people(people: etree._Element, investigators: bool = False) -> list[tuple]:
    """Authors (or investigators) in list order; a name NLM marks invalid is left out."""
    rows: list[tuple] = []
    for p in people:
        if p.get("ValidYN") == "N":
            continue  # an erroneous name NLM keeps only for the record
        last = fore = initials = suffix = collective = orcid = None
        affiliations: list[str] = []
        affiliation_ids: list[dict[str, str]] = []
        for c in p:
            tag = c.tag
            if tag == "LastName":
                last = _clean(c.text)
            elif tag == "ForeName":
                fore = _clean(c.text)
            elif tag == "Initials":
                initials = _clean(c.text)
            elif tag == "Suffix":
                suffix = _clean(c.text)
            elif tag == "CollectiveName":
                collective = _text(c)
            elif tag == "AffiliationInfo":
                _read_affiliation(c, affiliations, affiliation_ids)
            elif tag == "Identifier" and (c.get("Source") or "").upper() == "ORCID":
                orcid = normalize_orcid(c.text)
        first = affiliations[0] if affiliations else None
        listed = "[" + ", ".join(map(_js, affiliations)) + "]" if affiliations else None
        if investigators:
            rows.append((len(rows) + 1, last, fore, initials, suffix, first, listed, orcid))
        else:
            ids = json.dumps(affiliation_ids, ensure_ascii=False) if affiliation_ids else None
            rows.append((len(rows) + 1, last, fore, initials, suffix, collective, first, listed, ids, orcid,
                         int(p.get("EqualContrib") == "Y")))
    return rows


def _read_affiliation(info: etree._Element, affiliations: list[str], ids: list[dict[str, str]]) -> None:
    """Add an <AffiliationInfo>'s affiliation text and identifiers (ROR, GRID...) to the lists."""
    for x in info:
        if x.tag == "Affiliation":
            if (text := _text(x)):
                affiliations.append(text)
        elif x.tag == "Identifier" and x.text and x.text.strip():
            ids.append({"source": x.get("Source") or "", "id": x.text.strip()})


def _mesh(heading_list: etree._Element) -> list[tuple]:
    rows = []
    for i, h in enumerate(heading_list, 1):
        descriptor, major, qualifiers = None, False, []
        for c in h:
            if c.tag == "DescriptorName":
                descriptor = c
                major = major or c.get("MajorTopicYN") == "Y"
            else:
                q_major = c.get("MajorTopicYN") == "Y"
                major = major or q_major
                # json.dumps of {"ui", "name", "major_topic"}, written out: this runs 100,000
                # times a file, and the generic encoder costs more than the rest of a heading.
                ui = c.get("UI")
                qualifiers.append(f'{{"ui": {_js(ui) if ui is not None else "null"}, "name": '
                                  f'{_js(c.text) if c.text is not None else "null"}, '
                                  f'"major_topic": {"true" if q_major else "false"}}}')
        if descriptor is None:
            continue
        text = descriptor.text
        rows.append((i, descriptor.get("UI"), text.strip() or None if text else None, int(major),
                     "[" + ", ".join(qualifiers) + "]" if qualifiers else None))
    return rows


def _chemicals(chemical_list: etree._Element) -> list[tuple]:
    rows = []
    for c in chemical_list:
        number = ui = name = None
        for x in c:
            if x.tag == "RegistryNumber":
                number = _clean(x.text)
            elif x.tag == "NameOfSubstance":
                ui, name = x.get("UI"), _clean(x.text)
        rows.append((number, ui, name))
    return rows


# MedlineCitation children read whole into one child table: tag -> (table, reader).
_CITATION_LISTS: dict[str, tuple[str, Callable[[etree._Element], list[tuple]]]] = {
    "MeshHeadingList": ("article_mesh", _mesh),
    "ChemicalList": ("article_chemicals", _chemicals),
    "SupplMeshList": ("article_supplementary_mesh", _supplementary_mesh),
    "CommentsCorrectionsList": ("article_comments", _comments),
    "InvestigatorList": ("article_investigators", _investigators),
}


def _abstract(ab: etree._Element) -> tuple[str | None, str | None]:
    parts: list[str] = []
    copyright_ = None
    for t in ab:
        if t.tag == "AbstractText":
            text = _text(t)
            label = (t.get("Label") or "").strip()  # labels carry stray spaces, even em spaces
            if label:
                parts.append(f"{label}: {text}" if text else f"{label}:")
            elif text:
                parts.append(text)
        elif t.tag == "CopyrightInformation":
            copyright_ = _clean(t.text)
    return "\n".join(parts) or None, copyright_


def _pages(pg: etree._Element) -> str | None:
    medline = _clean(pg.findtext("MedlinePgn"))
    if medline:
        return medline
    start, end = _clean(pg.findtext("StartPage")), _clean(pg.findtext("EndPage"))
    return f"{start}-{end}" if start and end else start


def _pub_date(pd: etree._Element, a: dict[str, Any]) -> None:
    """ISO date as precise as the source gives, the raw MedlineDate, and a season if any."""
    year = month = day = None
    for c in pd:
        tag = c.tag
        if tag == "Year":
            year = c.text
        elif tag == "Month":
            month = c.text
        elif tag == "Day":
            day = c.text
        elif tag == "Season":
            a["pub_season"] = _clean(c.text)
        elif tag == "MedlineDate":
            a["medline_date"] = _clean(c.text)
            a["pub_date"] = iso_from_text(c.text or "")
            return
    a["pub_date"] = iso_date(year, month, day)


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
    if not year:
        return None
    y = year.strip()[:4]
    if len(y) != 4 or not _digits(y):
        return None
    if not month:
        return y
    m = _MONTH_CODES.get(month)
    if m is None:
        n = _month(month)
        if not n:
            return y
        m = f"{n:02d}"
    if not day:
        return f"{y}-{m}"
    d = _DAY_CODES.get(day)
    if d is None:
        d = f"{int(day):02d}" if _digits(day.strip()) and 1 <= int(day) <= 31 else None
    return f"{y}-{m}-{d}" if d else f"{y}-{m}"


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
    if _digits(value):
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
    # lxml-stubs 0.5 types itertext() as str or bytes; lxml yields str on Python 3
    text = e.text if len(e) == 0 else "".join(e.itertext())  # type: ignore[arg-type]
    if text:
        text = text.strip()
    return text or None


def _clean(value: str | None) -> str | None:
    """Text without surrounding whitespace; empty or whitespace-only text is no value."""
    if value:
        value = value.strip()
    return value or None


def _int(value: str | None) -> int | None:
    if not value:
        return None
    value = value.strip()
    return int(value) if _digits(value) and len(value) < 19 else None


def _digits(value: str) -> bool:
    """ASCII digits only: ``str.isdigit`` also accepts "²", which ``int`` refuses."""
    return value.isascii() and value.isdigit()


# ------------------------------------------------------- rows from dicts -------

def parsed_from_dict(record: Record, raw: bytes | None = None) -> Prepared:
    """A record given as dicts of named values (the MEDLINE text parser's output) as store
    rows; columns it does not give are empty.

    :raises BadRecord: a field is larger than :data:`~litwatch.sources.checks.MAX_TEXT`.
    """
    a = {c: record["articles"].get(c) for c in CONTENT}
    pmid = a["pmid"]
    children = {}
    for name in CHILDREN:
        columns = TABLES[name].names
        children[name] = [tuple(pmid if c == "pmid" else _value(row.get(c)) for c in columns)
                          for row in record.get(name, [])]
    row = tuple(_value(v) for v in a.values())
    try:
        check_rows("articles", CONTENT, [row])
        for name in CHILDREN:
            check_rows(name, TABLES[name].names, children[name])
    except BadRecord as e:
        raise BadRecord(f"PMID {pmid}: {e}") from None
    return Prepared(pmid, row, children, fingerprint(row, children), raw)


def _value(v: Any) -> Any:
    return int(v) if isinstance(v, bool) else v


def as_dict(p: Prepared) -> Record:
    """A parsed record as ``{"articles": {column: value}, "article_authors": [{...}], ...}``,
    for reading fields by name."""
    out: Record = {"articles": dict(zip(CONTENT, p.row, strict=True))}
    for name, rows in p.children.items():
        columns = TABLES[name].names
        out[name] = [dict(zip(columns, r, strict=True)) for r in rows]
    return out
