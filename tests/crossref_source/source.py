"""Crossref as a litwatch source: ``GET {base}/works?query=...&rows=...`` read as works."""

from __future__ import annotations

import html
import re
import sqlite3
import urllib.parse
from datetime import date
from typing import Any, Iterator

from litwatch.designs import infer_design
from litwatch.http import HttpClient
from litwatch.settings import Option, SourceSettings, Topic
from litwatch.sources.base import Batch, PaperArm, Search, Source, grouped, in_keys
from litwatch.store.writes import Prepared, Record, Writer

from . import LABEL
from .schema import FAMILY, TABLES

_TAGS = re.compile(r"<[^>]+>")
_CONTENT = FAMILY.content()
TITLE, ABSTRACT, INDEXED = _CONTENT.index("title"), _CONTENT.index("abstract"), _CONTENT.index("indexed")


def _text(markup: str | None) -> str | None:
    """JATS (``<jats:p>``) as plain text."""
    return " ".join(html.unescape(_TAGS.sub(" ", markup)).split()) or None if markup else None


def _date(parts: dict[str, Any] | None) -> str | None:
    values = ((parts or {}).get("date-parts") or [[]])[0]
    return "-".join(f"{v:02d}" if i else str(v) for i, v in enumerate(values)) or None


def parse_work(item: dict[str, Any]) -> Record:
    """One work of a ``/works`` page as rows."""
    doi = item["DOI"].lower()
    published = _date(item.get("published") or item.get("issued"))
    work = {"doi": doi, "type": item.get("type"), "title": (item.get("title") or [None])[0],
            "abstract": _text(item.get("abstract")), "container_title": (item.get("container-title") or [None])[0],
            "publisher": item.get("publisher"), "published": published,
            "pub_year": int(published[:4]) if published else None,
            "indexed": (item.get("indexed") or {}).get("date-time"), "url": item.get("URL")}
    authors = [{"doi": doi, "position": i, "family": a.get("family"), "given": a.get("given")}
               for i, a in enumerate(item.get("author") or [], 1)]
    return {"crossref_works": work, "crossref_authors": authors}


def derive(p: Prepared) -> tuple:
    return infer_design(p.row[TITLE] or "", p.row[ABSTRACT] or ""), "text"


class CrossrefClient:
    def __init__(self, http: HttpClient, base_url: str, rows: int):
        self.http, self.base_url, self.rows = http, base_url, rows

    def works(self, query: str, rows: int) -> dict[str, Any]:
        return self.http.get(f"{self.base_url}/works", params={"query": query, "rows": str(rows)},
                             parse=lambda r: r.json()["message"])


class CrossrefSource(Source):
    name = "crossref"
    label = LABEL
    service = "Crossref REST API"
    unit = "works"
    family = FAMILY
    tables = TABLES
    writer = Writer(FAMILY, recency_sql="indexed", recency=lambda p: (p.row[INDEXED],),
                    derived=("design", "design_source"), derive=derive)
    default_url = "https://api.crossref.org"
    url_key = "crossref_url"
    url_env = "LITWATCH_CROSSREF_URL"
    query_help = "Crossref's bibliographic query (query=...)."
    options = (Option("rows", "How many of the most relevant works to keep (Crossref ranks them).", default="100"),)
    papers = PaperArm("w", own_id="'DOI:' || w.doi", cite_as="doi:{key}", columns={
        "doi": "w.doi", "title": "w.title", "abstract": "w.abstract", "journal": "w.container_title",
        "pub_year": "w.pub_year", "published": "w.published", "added": "substr(w.indexed, 1, 10)",
        "design": "w.design", "design_source": "w.design_source", "retracted": "0", "corrected": "0",
        "preprint": "w.type = 'posted-content'", "url": "w.url"})
    relevance_text_sql = ("SELECT w.doi, coalesce(w.title, '') || ' ' || coalesce(w.abstract, '') "
                          "FROM crossref_works w WHERE 1")
    relevance_key = "w.doi"

    def client(self, settings: SourceSettings, http: HttpClient | None = None, budget: Any = None) -> CrossrefClient:
        return CrossrefClient(http or HttpClient(per_second=5.0, budget=budget), settings.url,
                              int(settings.get("rows") or 100))

    def probe_url(self, settings: SourceSettings) -> str:
        return f"{settings.url}/works?rows=0"

    def search_url(self, query: Any) -> str | None:
        return "https://search.crossref.org/?" + urllib.parse.urlencode({"q": query})

    def search(self, client: CrossrefClient, topic: Topic, since: date | None) -> Search:
        """The most relevant works of the query, as many as the ``rows`` option keeps."""
        page = client.works(self.query_string(topic), client.rows)
        return Search(min(page["total-results"], client.rows), {"query": self.query_string(topic), "rows": client.rows,
                                                                "total": page["total-results"]},
                      iter([Batch([parse_work(item) for item in page["items"]])]))

    def fetch_ids(self, client: CrossrefClient, ids: list[Any]) -> Iterator[Batch]:
        return iter(())

    def record_ids(self, conn: sqlite3.Connection, keys: list[Any]) -> dict[Any, tuple[str, str | None, str | None]]:
        out = {}
        for where, params in in_keys("doi", keys):
            for doi, title, url in conn.execute(f"SELECT doi, title, url FROM crossref_works WHERE 1{where}", params):
                out[doi] = (f"DOI:{doi}", title, url)
        return out

    def authors(self, conn: sqlite3.Connection, keys: list[Any]) -> dict[Any, list[str]]:
        return grouped(conn, "SELECT doi, family || coalesce(' ' || substr(given, 1, 1), '') FROM crossref_authors "
                             "WHERE 1{where} ORDER BY doi, position", "doi", keys)


SOURCE = CrossrefSource()
