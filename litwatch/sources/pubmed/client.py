"""PubMed through NCBI E-utilities: esearch on the history server, efetch in batches.

PubMed serves only the first 10,000 records of any one search (``retstart`` past 9,998
fails with "Search Backend failed ... out of acceptable range"), so a search that
matches more is split into date ranges that each fit, as NCBI's EDirect does, and the
slices' counts must add up to the whole. Errors that E-utilities delivers inside an
HTTP 200 body are recognised here: passing ones are retried by the HTTP layer,
real ones raise :class:`EutilsError`. A search's PMIDs can be listed (esearch with a
``retmax``) and fetched by PMID, so records an efetch batch failed to bring can be fetched
again in the same run.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Iterator, overload

import requests
from lxml import etree

from ...errors import EutilsError, ParseError, TransientResponse
from ...http import HttpClient
from ..checks import askable, count as checked_count, json_value, pmid as checked_pmid, shown
from .parse import Event, parse_xml_bytes, reject_entities

log = logging.getLogger(__name__)

# PubMed's retrieval window: records at positions >= 9,999 of one search cannot be fetched.
WINDOW = 9999
# 500 records per efetch: about 2-5 MB of XML, parsed whole in a few hundred ms and held
# in memory at once; small enough that a failed batch is cheap to retry and a slow one
# stays far inside the read timeout, large enough that a 10,000-record topic takes 20
# requests (7 s at the keyless 3 requests/s). NCBI allows up to 10,000 per request.
BATCH_SIZE = 500
MIN_DATE, MAX_DATE = date(1000, 1, 1), date(3000, 12, 31)
_SAFE_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
_TRANSIENT_MARKERS = ("unable to open connection", "temporarily unavailable", "timeout",
                      "empty response", "backend failed: database is not supported",
                      "please try again", "server is busy")


@dataclass
class SearchResult:
    """One esearch on the history server: how many records, and where to fetch them."""

    term: str
    count: int
    webenv: str | None
    query_key: str | None
    translation: str | None = None
    datetype: str | None = None
    mindate: date | None = None
    maxdate: date | None = None
    warnings: list[str] = field(default_factory=list)

    def describe(self) -> dict:
        """What was asked, for the run log."""
        return {"datetype": self.datetype, "mindate": _fmt(self.mindate),
                "maxdate": _fmt(self.maxdate), "count": self.count}


class PubMedClient:
    """E-utilities for PubMed. Identity (tool, email, api_key) goes on every request."""

    def __init__(self, http: HttpClient, base_url: str, *, api_key: str | None = None,
                 email: str | None = None, tool: str = "litwatch", batch_size: int = BATCH_SIZE):
        self.http = http
        self.base_url = base_url.rstrip("/")
        self.identity = {k: v for k, v in (("tool", tool), ("email", email), ("api_key", api_key)) if v}
        self.batch_size = batch_size

    def esearch(self, term: str, *, datetype: str | None = None, mindate: date | None = None,
                maxdate: date | None = None) -> SearchResult:
        """Run one search with ``usehistory=y`` and return its count and history keys."""
        params = {"db": "pubmed", "term": term, "usehistory": "y", "retmax": "0", **self.identity}
        if datetype:
            params.update(datetype=datetype, mindate=_fmt(mindate or MIN_DATE),
                          maxdate=_fmt(maxdate or MAX_DATE))
        result = self.http.post(f"{self.base_url}/esearch.fcgi", data=params, parse=parse_esearch)
        result.term, result.datetype = term, datetype
        if datetype:
            result.mindate, result.maxdate = mindate or MIN_DATE, maxdate or MAX_DATE
        window = f" ({datetype} {_fmt(result.mindate)} to {_fmt(result.maxdate)})" if datetype else ""
        log.info("PubMed esearch%s: %d records", window, result.count)
        for warning in result.warnings:
            log.warning("PubMed: %s", warning)
        return result

    def search(self, term: str, *, datetype: str | None = None, mindate: date | None = None,
               maxdate: date | None = None) -> list[SearchResult]:
        """Search, splitting by date until every slice fits PubMed's retrieval window.

        Without a ``datetype`` the split uses publication date (``pdat``).
        :raises EutilsError: if the slices do not add up to the whole, or a single day
            still holds more than the window.
        """
        whole = self.esearch(term, datetype=datetype, mindate=mindate, maxdate=maxdate)
        if whole.count <= WINDOW:
            return [whole]
        split_type = datetype or "pdat"
        slices = self._split(term, split_type, mindate or MIN_DATE, maxdate or MAX_DATE)
        total = sum(s.count for s in slices)
        if total < whole.count:
            raise EutilsError(
                f"PubMed search splits into date ranges holding {total} records, but the whole "
                f"search has {whole.count}; refusing to fetch an incomplete set")
        log.info("PubMed: %d records, fetched in %d date ranges", whole.count, len(slices))
        return slices

    def _split(self, term: str, datetype: str, lo: date, hi: date) -> list[SearchResult]:
        result = self.esearch(term, datetype=datetype, mindate=lo, maxdate=hi)
        if result.count <= WINDOW:
            return [result] if result.count else []
        if lo >= hi:
            raise EutilsError(
                f"PubMed holds {result.count} records for {datetype} {_fmt(lo)} alone, more than "
                f"the {WINDOW} one search can serve; narrow the query")
        mid = lo + (hi - lo) // 2
        return self._split(term, datetype, lo, mid) + self._split(term, datetype, mid + timedelta(days=1), hi)

    def efetch(self, result: SearchResult) -> Iterator[list[Event]]:
        """Yield the parsed records of a search, one batch (one request) at a time."""
        for start in range(0, result.count, self.batch_size):
            log.info("PubMed efetch: records %d-%d of %d", start + 1, min(start + self.batch_size, result.count),
                     result.count)
            params = {"db": "pubmed", "WebEnv": result.webenv, "query_key": result.query_key,
                      "retstart": str(start), "retmax": str(self.batch_size), "retmode": "xml",
                      **self.identity}
            yield self.http.post(f"{self.base_url}/efetch.fcgi", data=params, parse=parse_efetch)

    def listed_ids(self, result: SearchResult) -> tuple[list[int], int]:
        """The PMIDs a search (one date slice, within the retrieval window) holds now: the same
        esearch, asked for its ID list instead of history keys; and how many listed IDs were
        not PMIDs (each named in a warning, left out: one would otherwise fail every run)."""
        log.info("PubMed esearch: listing the PMIDs of %d records", result.count)
        params = {"db": "pubmed", "term": result.term, "retmax": str(WINDOW), **self.identity}
        if result.datetype:
            # the same range esearch asked for (it records MIN_DATE and MAX_DATE for open ends)
            params.update(datetype=result.datetype, mindate=_fmt(result.mindate or MIN_DATE),
                          maxdate=_fmt(result.maxdate or MAX_DATE))
        count, ids, bad = self.http.post(f"{self.base_url}/esearch.fcgi", data=params, parse=parse_id_list)
        for text in bad:
            log.warning("PubMed esearch listed %s, which is not a PMID: left out", shown(text))
        if count > len(ids) + len(bad):
            raise EutilsError(f"PubMed listed only {len(ids) + len(bad)} of the {count} PMIDs of a search; the "
                              f"records its batches missed cannot be told")
        return ids, len(bad)

    def efetch_ids(self, pmids: list[int]) -> list[Event]:
        """Fetch records by PMID in one POST request (no history server needed). A value that is
        not a PMID is left out with a warning (NCBI would refuse the whole request)."""
        wanted = askable(pmids, checked_pmid, "PubMed", "a PMID")
        if not wanted:
            return []
        log.info("PubMed efetch: %d records by PMID", len(wanted))
        params = {"db": "pubmed", "id": ",".join(map(str, wanted)), "retmode": "xml", **self.identity}
        return self.http.post(f"{self.base_url}/efetch.fcgi", data=params, parse=parse_efetch)


def parse_esearch(response: requests.Response) -> SearchResult:
    """Read an esearch body; raise on an error inside it, retry on a passing one."""
    root = _xml_root(response, "esearch")
    if root.tag != "eSearchResult":
        raise TransientResponse(f"esearch answered <{root.tag}>, not <eSearchResult>")
    error = root.findtext("ERROR")
    if error:
        raise _eutils_error("esearch", error)
    warnings: list[str] = []
    fatal: list[str] = []
    for item in root.iterfind("ErrorList/*"):
        text = f"{item.tag} {item.text!r}"
        (warnings if item.tag == "PhraseNotFound" else fatal).append(text)
    if fatal:
        raise EutilsError(f"PubMed could not use the query: {'; '.join(fatal)}")
    for item in root.iterfind("WarningList/*"):
        if item.text and item.tag != "OutputMessage":
            warnings.append(f"{item.tag} {item.text!r}")
    count = checked_count(root.findtext("Count") or "")
    if count is None:
        raise TransientResponse("esearch body has no Count")
    return SearchResult(term="", count=count, webenv=root.findtext("WebEnv"),
                        query_key=root.findtext("QueryKey"),
                        translation=root.findtext("QueryTranslation"), warnings=warnings)


def parse_id_list(response: requests.Response) -> tuple[int, list[int], list[str]]:
    """An esearch body's Count, its IdList's PMIDs, and the listed IDs that are not PMIDs."""
    count = parse_esearch(response).count
    found = _xml_root(response, "esearch").xpath("IdList/Id/text()")  # a list of strings
    texts = [str(text).strip() for text in found] if isinstance(found, list) else []
    ids = [checked_pmid(text) for text in texts]
    return count, [i for i in ids if i is not None], [t for t, i in zip(texts, ids, strict=True) if i is None]


def parse_efetch(response: requests.Response) -> list[Event]:
    """Parse an efetch body into events; a truncated or foreign body is retried."""
    body = response.content
    _check_json_error(body, "efetch")
    head = body[:2000].lstrip()
    if b"<eFetchResult" in head or b"<ERROR>" in head:
        root = _xml_root(response, "efetch")
        raise _eutils_error("efetch", root.findtext(".//ERROR") or "unknown error")
    try:
        return parse_xml_bytes(body)
    except ParseError as e:
        raise TransientResponse(f"efetch returned unusable XML ({e})") from None


def _xml_root(response: requests.Response, what: str) -> etree._Element:
    body = response.content
    _check_json_error(body, what)
    try:
        root = etree.fromstring(body, _SAFE_PARSER)
    except etree.XMLSyntaxError as e:
        raise TransientResponse(f"{what} returned malformed XML ({e})") from None
    try:
        reject_entities(root.getroottree())
    except ParseError as e:
        raise EutilsError(f"{what}: {e}") from None
    return root


def _check_json_error(body: bytes, what: str) -> None:
    """NCBI answers some failures, the rate limit among them, with a JSON body."""
    if not body.lstrip().startswith(b"{"):
        return
    try:
        data = json_value(body)
    except ParseError:
        raise TransientResponse(f"{what} returned malformed JSON") from None
    message = data.get("error") or (data.get("esearchresult") or {}).get("ERROR")
    if message and "rate limit" in str(message).lower():
        raise TransientResponse(f"NCBI: {message}")
    raise EutilsError(f"NCBI {what} error: {message or 'unexpected JSON body'}")


def _eutils_error(what: str, message: str) -> Exception:
    text = " ".join(message.split())
    lowered = text.lower()
    if any(marker in lowered for marker in _TRANSIENT_MARKERS) and "out of acceptable range" not in lowered:
        return TransientResponse(f"NCBI {what}: {text}")
    return EutilsError(f"NCBI {what} error: {text}")


@overload
def _fmt(d: date) -> str: ...
@overload
def _fmt(d: None) -> None: ...
def _fmt(d: date | None) -> str | None:
    return d.strftime("%Y/%m/%d") if d else None
