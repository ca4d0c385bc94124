"""A stand-in for NCBI E-utilities (esearch + efetch on the history server) that serves
real PubMed records, for offline tests.

It answers like PubMed: ``usehistory=y`` searches return Count, QueryKey and WebEnv;
``datetype``/``mindate``/``maxdate`` filter on each record's own entry (edat),
modification (mdat) or publication (pdat) date; efetch pages with ``retstart``/``retmax``
and refuses positions past the retrieval window with the same ``<ERROR>`` NCBI sends; and,
when ``max_per_second`` is set, it answers a client that goes faster with HTTP 429 and
NCBI's real rate-limit JSON body. An esearch with ``retmax`` lists the PMIDs of the search
(``IdList``, from ``retstart``), as PubMed does. The query term itself is not interpreted:
every record served is taken to match it. The same object is reachable through
``responses`` or a real HTTP server on 127.0.0.1.

A hostile variant overrides :meth:`EutilsStandin.batch` (the records an efetch from the
history server gets).
"""

from __future__ import annotations

import functools
import gzip
import re
import threading
import time
import urllib.parse
from dataclasses import dataclass, replace
from pathlib import Path

from lxml import etree

from standin_server import serve

FIXTURES = Path(__file__).parent / "fixtures"
RATE_LIMIT_BODY = (FIXTURES / "eutils_rate_limit_error.json").read_bytes()
XML_HEAD = b'<?xml version="1.0" encoding="UTF-8" ?>\n'
SET_DOCTYPE = (b'<!DOCTYPE PubmedArticleSet PUBLIC "-//NLM//DTD PubMedArticle, 1st January 2019//EN" '
               b'"https://dtd.nlm.nih.gov/ncbi/pubmed/out/pubmed_190101.dtd">\n')


@dataclass
class StoredRecord:
    pmid: int
    edat: str
    mdat: str
    pdat: str
    xml: bytes


def load_records(path: Path = FIXTURES / "pubmed21n1298_subset_ketamine_ptsd_ctgov.xml.gz") -> list[StoredRecord]:
    """Real PubmedArticle elements of a fixture file, with the dates a search filters on, read
    here with XPath, independently of litwatch's parser (so a bug there cannot hide here).
    Fresh records each call (the file is read once)."""
    return [replace(record) for record in _read_records(path)]


@functools.cache
def _read_records(path: Path) -> tuple[StoredRecord, ...]:
    opener = gzip.open if path.suffix == ".gz" else open
    records = []
    with opener(path, "rb") as f:
        for _, elem in etree.iterparse(f, tag="PubmedArticle"):
            records.append(StoredRecord(
                int(elem.findtext("MedlineCitation/PMID")),
                _ymd(elem.find("PubmedData/History/PubMedPubDate[@PubStatus='entrez']")),
                _ymd(elem.find("MedlineCitation/DateRevised")),
                _ymd(elem.find("MedlineCitation/Article/Journal/JournalIssue/PubDate")),
                etree.tostring(elem)))
    return tuple(records)


_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def _ymd(elem) -> str:
    """YYYY/MM/DD of a Year/Month/Day element, a partial date taken at its first day, as
    PubMed's date filters compare them."""
    if elem is not None and not elem.findtext("Year") and elem.findtext("MedlineDate"):
        m = re.match(r"\s*(\d{4})(?:\s+([A-Za-z]{3}))?", elem.findtext("MedlineDate"))  # "2021 Apr-Jun"
        if m:
            month = _MONTHS.index(m.group(2)) + 1 if m.group(2) in _MONTHS else 1
            return f"{m.group(1)}/{month:02d}/01"
    if elem is None or not elem.findtext("Year"):
        return "0000/00/00"
    month = (elem.findtext("Month") or "01").strip()
    month = f"{_MONTHS.index(month[:3]) + 1:02d}" if month[:3] in _MONTHS else f"{int(month):02d}"
    day = f"{int(elem.findtext('Day') or 1):02d}"
    return f"{elem.findtext('Year').strip()}/{month}/{day}"


class EutilsStandin:
    def __init__(self, records: list[StoredRecord], *, window: int = 9999,
                 max_per_second: float | None = None):
        self.records = records
        self.window = window
        self.max_per_second = max_per_second
        self.searches: dict[str, list[StoredRecord]] = {}
        self.requests: list[tuple[str, dict[str, str]]] = []
        self.rate_limited = 0
        self._times: list[float] = []
        self._lock = threading.Lock()

    def handle(self, path: str, params: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
        with self._lock:
            self.requests.append((path.rsplit("/", 1)[-1], params))
            if self._over_rate():
                self.rate_limited += 1
                return 429, {"Content-Type": "application/json", "Retry-After": "1"}, RATE_LIMIT_BODY
            if path.endswith("esearch.fcgi"):
                return 200, {"Content-Type": "text/xml"}, self._esearch(params)
            if path.endswith("efetch.fcgi"):
                return 200, {"Content-Type": "text/xml"}, self._efetch(params)
            return 404, {"Content-Type": "text/plain"}, b"not found"

    def _over_rate(self) -> bool:
        if not self.max_per_second:
            return False
        now = time.monotonic()
        self._times = [t for t in self._times if now - t < 1.0] + [now]
        return len(self._times) > self.max_per_second

    def _esearch(self, params: dict[str, str]) -> bytes:
        hits = self.records
        datetype = params.get("datetype")
        if datetype:
            lo, hi = params["mindate"], params["maxdate"]
            hits = [r for r in hits if lo <= getattr(r, datetype) <= hi + "~"]
        hits = sorted(hits, key=lambda r: -r.pmid)
        key = str(len(self.searches) + 1)
        self.searches[key] = hits
        start, size = int(params.get("retstart", 0)), min(int(params.get("retmax", 20)), self.window)
        listed = "".join(f"<Id>{r.pmid}</Id>" for r in hits[start:start + size])
        return XML_HEAD + (f"<eSearchResult><Count>{len(hits)}</Count><RetMax>{len(hits[start:start + size])}</RetMax>"
                           f"<RetStart>{start}</RetStart><QueryKey>{key}</QueryKey><WebEnv>MCID_standin</WebEnv>"
                           f"<IdList>{listed}</IdList>"
                           f"<QueryTranslation>{_escape(params.get('term', ''))}</QueryTranslation>"
                           f"</eSearchResult>\n").encode()

    def _efetch(self, params: dict[str, str]) -> bytes:
        if "id" in params:
            wanted = {int(x) for x in params["id"].split(",")}
            hits = [r for r in self.records if r.pmid in wanted]
        else:
            hits = self.searches.get(params.get("query_key", ""), [])
            start, size = int(params.get("retstart", 0)), int(params.get("retmax", 20))
            if start > self.window - 1:
                return (XML_HEAD + b"<eFetchResult><ERROR>Search Backend failed: Exception:\n"
                        b"'retstart' cannot be larger than 9998. For PubMed, ESearch can only retrieve "
                        b"the first 9,999 records matching the query.</ERROR></eFetchResult>\n")
            hits = self.batch(hits, start, size)
        body = b"".join(r.xml for r in hits)
        return XML_HEAD + SET_DOCTYPE + b"<PubmedArticleSet>\n" + body + b"</PubmedArticleSet>\n"

    def batch(self, hits: list[StoredRecord], start: int, size: int) -> list[StoredRecord]:
        """The records of a search an efetch from ``start`` gets."""
        return hits[start:start + size]

    def count(self, utility: str) -> int:
        return sum(1 for name, _ in self.requests if name == utility)

    # ------------------------------------------------------------ transports --

    def add_to(self, rsps, base_url: str) -> None:
        """Route ``responses`` traffic for esearch/efetch to this stand-in."""
        def callback(request):
            params = dict(urllib.parse.parse_qsl(request.body or ""))
            params.update(urllib.parse.parse_qsl(urllib.parse.urlsplit(request.url).query))
            return self.handle(urllib.parse.urlsplit(request.url).path, params)
        for utility in ("esearch.fcgi", "efetch.fcgi"):
            rsps.add_callback("POST", f"{base_url}/{utility}", callback=callback)

    def serve(self):
        """Serve on 127.0.0.1 (a free port); the context yields the E-utilities base URL."""
        return serve(self.handle, "/entrez/eutils")


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


if __name__ == "__main__":  # python tests/eutils_standin.py: serve the fixture records by hand
    import argparse
    import sys

    parser = argparse.ArgumentParser(description="Serve real PubMed records like E-utilities on 127.0.0.1.")
    parser.add_argument("--rate", type=float, default=3.0, help="answer 429 above this many requests/s")
    args = parser.parse_args()
    standin = EutilsStandin(load_records(), max_per_second=args.rate)
    with standin.serve() as url:
        print(url, flush=True)
        try:
            threading.Event().wait()
        except KeyboardInterrupt:
            print(f"{len(standin.requests)} requests, {standin.rate_limited} answered 429", file=sys.stderr)
