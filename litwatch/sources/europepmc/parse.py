"""Parse Europe PMC search results (JSON) into rows, and read its error bodies.

A result is one object of ``resultList.result`` from ``GET /search`` (API 6.9). The
``core`` result type carries the abstract, authors, MeSH, keywords and comments; ``lite``
carries bibliographic essentials only, with some fields under other names
(``journalTitle``, ``journalVolume``, a ``"; "``-joined ``pubType``). Both load; what a
lite result lacks is NULL. Dates stay ISO strings. The result's own JSON is kept in
``raw``.

Preprint <-> published links come from ``commentCorrectionList``, where Europe PMC names
both directions from the record's side: a journal article lists its preprint as
``"Preprint in"`` (source PPR), a preprint lists its journal version as ``"Preprint of"``.
"""

from __future__ import annotations

import html
import json
import re
from typing import Any

from lxml import etree

from ...errors import BadRecord, UnknownFormat
from ..checks import NCT_IN_TEXT, check_record, kind, pmid, require_pmid, shown

Row = dict[str, Any]
Record = dict[str, Any]

RECORD_URL = "https://europepmc.org/article/{}/{}"
_SOURCE = re.compile(r"[A-Z]{3}")
_EXT_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")  # what the client can ask for again by ID
# Markup Europe PMC leaves in titles and abstracts (sometimes entity-escaped): HTML, and the
# JATS of preprint servers (Research Square: "<jats:sec><jats:title>Methods</jats:title>
# <jats:p>..."). Only these tags are dropped: abstracts also hold bare "<" and ">" ("p <0.05")
# that must stay.
_JATS = "(?:jats:)?"
_INLINE_TAG = re.compile(rf"</?(?:i|b|u|em|strong|sub|sup|sc|span|p|br|a|{_JATS}(?:italic|bold|underline|sc|sub|sup|p|"
                         rf"sec|abstract|list|list-item|xref|ext-link|named-content|styled-content|inline-formula|"
                         rf"break|title)|jats:[a-z-]+)\b[^<>]*/?>", re.IGNORECASE)
_HEADING = re.compile(rf"<h\d\b[^<>]*>(.*?)</h\d>|<{_JATS}title\b[^<>]*>(.*?)</{_JATS}title>",
                      re.IGNORECASE | re.DOTALL)
_BREAK = re.compile(rf"<br\s*/?>|</{_JATS}p>|</{_JATS}sec>", re.IGNORECASE)
# A heading that only names the text it heads ("Abstract") is no section of it.
_BARE_HEADINGS = {"abstract", "summary"}
_PREPRINT_LINKS = {"preprint in": "preprint", "preprint of": "published_as"}
# Counts that change from day to day without the record changing: not stored, so that a
# record fetched again compares equal and no false "updated" is counted.
VOLATILE = {"citedByCount"}
# What kind of search result a copy is, by what it carries: an ID list result carries IDs only;
# a core one carries what only core results do (the journal as an object, the author list, the
# abstract, the record's dates); anything else is a lite result.
_ID_KEYS = {"id", "source", "pmid", "pmcid", "doi", "fullTextIdList"}
_CORE_KEYS = {"journalInfo", "authorList", "abstractText", "dateOfRevision", "dateOfCreation", "pubTypeList",
              "meshHeadingList", "keywordList"}


def result_type(result: dict[str, Any]) -> str:
    """idlist, lite or core: which kind of result a copy is."""
    if result.keys() <= _ID_KEYS:
        return "idlist"
    return "core" if result.keys() & _CORE_KEYS else "lite"


def parse_result(result: dict[str, Any]) -> Record:
    """Turn one search result into table rows: ``{"europepmc_records": row, "europepmc_authors":
    [rows], "europepmc_links": [rows]}``.

    :raises BadRecord: the result is malformed: not an object, an ``id`` or ``source`` missing
        or of another shape (surrounding spaces and a lower-case source are repaired; a MED
        id must be a PMID), an object of another JSON type, a value no column can take.
    """
    if not isinstance(result, dict):
        raise BadRecord(f"{kind(result)}, not a result object")
    source, ext_id = _key(result)
    epmc_id = f"{source}:{ext_id}"
    try:
        rec = _rows(result, source, ext_id, epmc_id)
        check_record(rec)
    except BadRecord as e:
        raise BadRecord(f"{epmc_id}: {e}") from None
    return rec


def _key(result: dict[str, Any]) -> tuple[str, str]:
    """The result's source and id, checked: they make its key and its URL."""
    source, ext_id = result.get("source"), result.get("id")
    if not isinstance(source, str) or not _SOURCE.fullmatch(source.strip().upper()):
        raise BadRecord(f"source {shown(source)} is not a three-letter source code (MED, PMC, PPR...)")
    if not isinstance(ext_id, str) or not _EXT_ID.fullmatch(ext_id.strip()):
        raise BadRecord(f"id {shown(ext_id)} is not a Europe PMC record ID")
    source, ext_id = source.strip().upper(), ext_id.strip()
    if source == "MED":
        ext_id = str(require_pmid(ext_id))
    return source, ext_id


def _rows(result: dict[str, Any], source: str, ext_id: str, epmc_id: str) -> Record:
    journal_info = _obj(result, "journalInfo")
    journal = _obj(journal_info, "journal")
    pub_types = _pub_types(result)
    is_preprint = source == "PPR" or any(t.lower() == "preprint" for t in pub_types)
    title = _markup_text(result.get("title"))
    abstract = _markup_text(result.get("abstractText"))
    record = {
        "epmc_id": epmc_id,
        "source": source,
        "ext_id": ext_id,
        "pmid": pmid(result.get("pmid")),
        "pmcid": _clean(result.get("pmcid")),
        "doi": _clean(result.get("doi")),
        "title": title,
        "abstract": abstract,
        "author_string": _clean(result.get("authorString")),
        "journal": _clean(journal.get("title") or result.get("journalTitle")),
        "journal_iso": _clean(journal.get("isoabbreviation")),
        "issn": _issn(journal, result.get("journalIssn")),
        "volume": _clean(journal_info.get("volume") or result.get("journalVolume")),
        "issue": _clean(journal_info.get("issue") or result.get("issue")),
        "pages": _clean(result.get("pageInfo")),
        "pub_year": _int(result.get("pubYear")),
        "first_publication_date": _clean(result.get("firstPublicationDate")),
        "first_index_date": _clean(result.get("firstIndexDate")),
        "date_of_creation": _clean(result.get("dateOfCreation")),
        "date_of_revision": _clean(result.get("dateOfRevision")),
        "electronic_publication_date": _clean(result.get("electronicPublicationDate")),
        "language": _clean(result.get("language")),
        "publication_status": _clean(result.get("publicationStatus")),
        "pub_types": _json(pub_types) if pub_types else None,
        "is_preprint": int(is_preprint),
        "preprint_server": _clean(_obj(result, "bookOrReportDetails").get("publisher")) if is_preprint else None,
        "preprint_version": _int(result.get("versionNumber")),
        "keywords": _json_list(_listed(result, "keywordList", "keyword")),
        "mesh": _json_list([m["descriptorName"] for m in _listed(result, "meshHeadingList", "meshHeading")
                            if isinstance(m, dict) and _clean(m.get("descriptorName"))]),
        "chemicals": _json_list(_listed(result, "chemicalList", "chemical")),
        "is_open_access": _yes(result.get("isOpenAccess")),
        "in_pmc": _yes(result.get("inPMC")),
        "has_tm_accessions": _yes(result.get("hasTMAccessionNumbers")),
        "tm_accession_types": _json_list(_listed(result, "tmAccessionTypeList", "accessionType")),
        "url": RECORD_URL.format(source, ext_id),
        "result_type": result_type(result),
        "cited_by_count": _int(result.get("citedByCount")),
        # Keys sorted: the same result sent with its keys in another order is the same copy.
        "raw": json.dumps({k: v for k, v in result.items() if k not in VOLATILE}, ensure_ascii=False,
                          separators=(",", ":"), sort_keys=True),
    }
    authors = [_author(epmc_id, position, a)
               for position, a in enumerate(_listed(result, "authorList", "author"), 1) if isinstance(a, dict)]
    return {"europepmc_records": record, "europepmc_authors": authors,
            "europepmc_links": _links(epmc_id, result, title, abstract)}


def _author(epmc_id: str, position: int, a: dict[str, Any]) -> Row:
    author_id = _obj(a, "authorId")
    affiliations = _obj(a, "authorAffiliationDetailsList").get("authorAffiliation") or []
    return {
        "epmc_id": epmc_id,
        "position": position,
        "full_name": _clean(a.get("fullName")),
        "first_name": _clean(a.get("firstName")),
        "last_name": _clean(a.get("lastName")),
        "initials": _clean(a.get("initials")),
        "collective_name": _clean(a.get("collectiveName")),
        "orcid": _clean(author_id.get("value")) if str(author_id.get("type", "")).upper() == "ORCID" else None,
        "affiliation": _clean(affiliations[0].get("affiliation"))
        if affiliations and isinstance(affiliations[0], dict) else _clean(a.get("affiliation")),
    }


def _links(epmc_id: str, result: dict[str, Any], title: str | None, abstract: str | None) -> list[Row]:
    links: dict[tuple[str, str], str | None] = {}
    for m in NCT_IN_TEXT.finditer(f"{title or ''}\n{abstract or ''}"):
        links.setdefault(("nct_text", f"NCT{m.group(1)}"), None)
    for name in _listed(result, "dbCrossReferenceList", "dbName"):
        if isinstance(name, str) and name.strip():
            links.setdefault((f"xref:{name.strip().upper()}", name.strip().upper()), None)
    for c in _listed(result, "commentCorrectionList", "commentCorrection"):
        if not isinstance(c, dict) or not _text(c.get("type")):
            continue
        kind_of = c["type"].strip()
        link = _PREPRINT_LINKS.get(kind_of.lower(), f"comment:{kind_of}")
        source, ext_id = _text(c.get("source")), _text(c.get("id"))
        target = f"{source}:{ext_id}" if source and ext_id else _text(c.get("reference"))
        if target:
            links.setdefault((link, target), _text(c.get("note")))
    return [{"epmc_id": epmc_id, "kind": link, "target": target, "note": note}
            for (link, target), note in links.items()]


def _pub_types(result: dict[str, Any]) -> list[str]:
    listed = _listed(result, "pubTypeList", "pubType")
    if listed:
        return [t.strip() for t in listed if isinstance(t, str) and t.strip()]
    lite = result.get("pubType")  # lite: "review; journal article"
    return [t.strip() for t in lite.split(";") if t.strip()] if isinstance(lite, str) else []


def _issn(journal: dict[str, Any], lite_issns: Any) -> str | None:
    if journal:
        return _clean(journal.get("issn")) or _clean(journal.get("essn"))
    if isinstance(lite_issns, str):  # lite: "0008-5472; 1538-7445; "
        return next((i.strip() for i in lite_issns.split(";") if i.strip()), None)
    return None


def _listed(result: dict[str, Any], outer: str, inner: str) -> list[Any]:
    """The list Europe PMC wraps in an object (``{"keywordList": {"keyword": [...]}}``)."""
    container = result.get(outer)
    items = container.get(inner) if isinstance(container, dict) else None
    return items if isinstance(items, list) else []


def _markup_text(value: Any) -> str | None:
    """Title or abstract text: entities decoded, headings as 'Label: ' lines, inline tags dropped."""
    text = _clean(value)
    if text is None:
        return None
    if not isinstance(text, str):
        raise BadRecord(f"a title or abstract is {kind(text)}, not text")
    text = html.unescape(text)
    text = _HEADING.sub(_heading, text)
    text = _BREAK.sub("\n", text)
    text = _INLINE_TAG.sub("", text)
    lines = (" ".join(line.split()) for line in text.splitlines())
    return "\n".join(line for line in lines if line) or None


def _heading(match: re.Match[str]) -> str:
    """A heading as the start of a 'Label: ' line (a bare "Abstract" heading dropped)."""
    label = " ".join((match.group(1) or match.group(2) or "").split())
    label = re.sub(r"<[^<>]*>", "", label).strip()
    return "\n" if not label or label.lower().rstrip(":") in _BARE_HEADINGS else f"\n{label.rstrip(':')}: "


def _obj(parent: dict[str, Any], key: str) -> dict[str, Any]:
    """The object under ``key`` ({} when absent or empty); a value of another type is malformed."""
    value = parent.get(key)
    if not value:
        return {}
    if not isinstance(value, dict):
        raise BadRecord(f"{key} is {kind(value)}, not an object")
    return value


def _text(value: Any) -> str | None:
    """A string stripped; an empty one, or a value of another type, is no text."""
    return value.strip() or None if isinstance(value, str) else None


def _clean(value: Any) -> Any:
    """Strings stripped, empty ones None; other values unchanged."""
    if isinstance(value, str):
        value = value.strip()
        return value or None
    return value


def _int(value: Any) -> int | None:
    value = _clean(value)
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if abs(value) < 10 ** 18 else None
    return int(value) if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) < 19 else None


def _yes(value: Any) -> int | None:
    value = _clean(value)
    return None if value is None else int(str(value).upper() in ("Y", "YES", "TRUE"))


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


def _json_list(items: list[Any] | None) -> str | None:
    return _json(items) if items else None


def _is_result(value: Any) -> bool:
    return (isinstance(value, dict) and "protocolSection" not in value and isinstance(value.get("id"), str)
            and bool(value["id"].strip()) and isinstance(value.get("source"), str)
            and bool(_SOURCE.fullmatch(value["source"])))


def _is_page(value: Any) -> bool:
    return (isinstance(value, dict) and isinstance(value.get("resultList"), dict)
            and isinstance(value["resultList"].get("result", []), list))


def looks_like_europepmc(data: Any) -> bool:
    """True for JSON that :func:`results_from_json` reads: a search page, a JSON array of pages
    or of results, or one result. ClinicalTrials.gov JSON (``studies``, ``protocolSection``) is not."""
    if isinstance(data, list):
        return bool(data) and (all(_is_page(p) for p in data) or _is_result_list(data))
    return _is_page(data) or _is_result(data)


def _is_result_list(data: list[Any]) -> bool:
    """A JSON array of results: some entries are results, and none is a page or a
    ClinicalTrials.gov study (the others are malformed results, skipped one by one)."""
    return any(_is_result(r) for r in data) and not any(
        isinstance(r, dict) and ("protocolSection" in r or "resultList" in r) for r in data)


def results_from_json(data: Any) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """The results in any saved shape, and the envelope (hitCount, nextCursorMark, request, version).

    A JSON array of pages (a saved cursor walk) gives every page's results in order, the first
    page's ``hitCount``, ``request`` and ``version``, the last page's ``nextCursorMark`` (where
    the walk would go on) and ``pages``, the number of pages read.
    """
    if _is_page(data):
        return list(data["resultList"].get("result", [])), {k: v for k, v in data.items() if k != "resultList"}
    if _is_result(data):
        return [data], {}
    if isinstance(data, list) and all(_is_page(p) for p in data):
        results = [r for page in data for r in page["resultList"].get("result", [])]
        if not data:
            return results, {}
        envelope = {k: v for k, v in data[0].items() if k not in ("resultList", "nextCursorMark", "nextPageUrl")}
        for key in ("nextCursorMark", "nextPageUrl"):
            if key in data[-1]:
                envelope[key] = data[-1][key]
        return results, {**envelope, "pages": len(data)}
    if isinstance(data, list) and _is_result_list(data):
        return list(data), {}
    raise UnknownFormat("JSON, but not Europe PMC search results (no 'resultList', or results "
                        "without 'id' and 'source')")


# An error body is small; anything bigger is not one.
_MAX_ERROR_BYTES = 64 << 10


def parse_error_bean(body: bytes) -> str | None:
    """The message of an XML ``<errorBean>`` body (``errMsg``, else its ``errCode``), or None when
    the body is not one. Entities, DTDs and network access are off."""
    if not body or len(body) > _MAX_ERROR_BYTES or b"errorBean" not in body:
        return None
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False)
    try:
        root = etree.fromstring(body.strip(), parser)
    except etree.XMLSyntaxError:
        return None
    if root is None or etree.QName(root).localname != "errorBean":
        return None
    message = " ".join((root.findtext("errMsg") or "").split())
    if message:
        return message
    code = (root.findtext("errCode") or "").strip()
    return f"error code {code}" if code else "an error without a message"
