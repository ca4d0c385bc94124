"""A stand-in for Europe PMC's ``GET /search``, serving real recorded records.

It pages like the service (API 6.9): ``cursorMark=*`` starts, each page names the next
cursor in ``nextCursorMark`` (an opaque token ending in ``=``, as the real ones do), the last
page has none, ``hitCount`` counts every hit, and the page size is the smaller of the one
asked and the stand-in's own cap. The query is interpreted only as far as litwatch writes
it: ``(EXT_ID:x AND SRC:y) OR ...`` looks records up, a trailing
``AND (FIRST_IDATE:[d TO *] OR UPDATE_DATE:[d TO *])`` keeps records whose ``firstIndexDate``
or ``dateOfRevision`` (the nearest date the results carry to an update date) is on/after
``d``; any other query matches every record, except those in ``no_hits`` (by default the
recorded no-results query). An unbalanced query is refused with ``error_body``, by default
the only errorBean recorded (from another endpoint; its HTTP status was not recorded, so
``error_status`` chooses it). A hostile variant overrides :meth:`EuropePmcStandin.page`.
:class:`RecordedWalk` replays recorded pages by their cursor.
Both are reachable through ``responses`` or a real HTTP server on 127.0.0.1.
"""

from __future__ import annotations

import base64
import functools
import gzip
import json
import re
import urllib.parse
from pathlib import Path
from typing import Any

from standin_server import copied, serve

FIXTURES = Path(__file__).parent / "fixtures"
BASE_PATH = "/europepmc/webservices/rest"
NO_RESULTS_QUERY = "asdkfjhasdkfjhasdfasdasdasdfgsagsd"  # the recorded query with hitCount 0
_ID_CLAUSE = re.compile(r"\(?EXT_ID:([A-Za-z0-9._-]+) AND SRC:([A-Z]{3})\)?")
_SINCE = re.compile(r"\((?P<topic>.*)\) AND \(FIRST_IDATE:\[(?P<day>\d{4}-\d{2}-\d{2}) TO \*\] "
                    r"OR UPDATE_DATE:\[(?P=day) TO \*\]\)", re.DOTALL)
JSON = {"Content-Type": "application/json;charset=UTF-8"}
XML = {"Content-Type": "application/xml;charset=UTF-8"}


def load(name: str) -> Any:
    """A fixture's JSON (gzipped or not): a fresh copy each call (the file is read once)."""
    return copied(_read(name))


@functools.cache
def _read(name: str) -> Any:
    path = FIXTURES / name
    raw = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
    return json.loads(raw)


def load_results(name: str = "epmc_search_cancer_core.json.gz") -> list[dict]:
    """The results of a recorded search page, or of a JSON array of pages (a recorded walk),
    read here without litwatch's reader (so a bug there cannot hide here)."""
    data = load(name)
    return [r for page in (data if isinstance(data, list) else [data]) for r in page["resultList"]["result"]]


def cursor_token(offset: int) -> str:
    return base64.b64encode(f"standin:{offset}".encode()).decode()


class EuropePmcStandin:
    def __init__(self, records: list[dict], *, page_size: int = 1000, error_status: int = 200,
                 error_body: bytes | None = None, no_hits: tuple[str, ...] = (NO_RESULTS_QUERY,)):
        self.records = copied(records)
        self.page_size = page_size
        self.error_status = error_status
        self.error_body = error_body or (FIXTURES / "epmc_errorbean_not_open_access.xml").read_bytes()
        self.no_hits = no_hits
        self.requests: list[dict[str, str]] = []

    def handle(self, params: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
        self.requests.append(params)
        query = params.get("query", "")
        if params.get("format", "xml") != "json":
            return 400, {"Content-Type": "text/plain"}, b"this stand-in serves format=json only"
        if not query.strip() or not _balanced(query):
            return self.error_status, XML, self.error_body
        hits = self.hits(query)
        try:
            page = self.page(hits, params)
        except (ValueError, IndexError):  # a cursor this stand-in never handed out
            return self.error_status, XML, self.error_body
        return 200, JSON, json.dumps(page, ensure_ascii=False, separators=(",", ":")).encode()

    def page(self, hits: list[dict], params: dict[str, str]) -> dict[str, Any]:
        """The page a request gets: the hits from its cursor's offset, and the next cursor
        unless this is the last page."""
        query, cursor = params.get("query", ""), params.get("cursorMark", "*")
        start = 0 if cursor == "*" else int(base64.b64decode(cursor).decode().split(":")[1])
        size = min(int(params.get("pageSize", "25")), self.page_size)
        page: dict[str, Any] = {"version": "6.9", "hitCount": len(hits)}
        if start + size < len(hits):
            page["nextCursorMark"] = cursor_token(start + size)
        page["request"] = {"queryString": query, "resultType": params.get("resultType", "lite"),
                           "cursorMark": cursor, "pageSize": size, "sort": "", "synonym": False}
        page["resultList"] = {"result": hits[start:start + size]}
        return page

    def hits(self, query: str) -> list[dict]:
        since = _SINCE.fullmatch(query)
        if since:
            day = since["day"]
            return [r for r in self.hits(since["topic"])
                    if r.get("firstIndexDate", "") >= day or r.get("dateOfRevision", "") >= day]
        wanted = _ID_CLAUSE.findall(query)
        if wanted and _ID_CLAUSE.sub("", query).replace("OR", "").strip() == "":
            keys = {(ext_id, source) for ext_id, source in wanted}
            return [r for r in self.records if (r["id"], r["source"]) in keys]
        return [] if query in self.no_hits else list(self.records)

    def add_to(self, rsps, base_url: str) -> None:
        rsps.add_callback("GET", f"{base_url}/search", callback=lambda request: self.handle(_params(request.url)))

    def serve(self):
        """Serve on 127.0.0.1 (a free port); the context yields the REST base URL."""
        return serve(lambda path, params: self.handle(params) if path.rstrip("/").endswith("/search")
                     else (404, {"Content-Type": "text/plain"}, b"not found"), BASE_PATH)


class RecordedWalk:
    """Serves recorded search pages, each to the cursor it was recorded with (its ``request``
    echo, URL-decoded), so a client must send exactly the cursors Europe PMC handed out."""

    def __init__(self, pages: list[dict]):
        self.pages = {urllib.parse.unquote(p["request"]["cursorMark"]): p for p in pages}
        self.requests: list[dict[str, str]] = []

    def handle(self, params: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
        self.requests.append(params)
        page = self.pages.get(params.get("cursorMark", "*"))
        if page is None:
            return 404, {"Content-Type": "text/plain"}, b"no page was recorded for this cursor"
        return 200, JSON, json.dumps(page, ensure_ascii=False).encode()

    def add_to(self, rsps, base_url: str) -> None:
        rsps.add_callback("GET", f"{base_url}/search", callback=lambda request: self.handle(_params(request.url)))


def _params(url: str) -> dict[str, str]:
    return dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(url).query))


def _balanced(query: str) -> bool:
    depth = 0
    for char in re.sub(r'"[^"]*"', "", query):
        depth += {"(": 1, ")": -1}.get(char, 0)
        if depth < 0 or char == '"':
            return False
    return depth == 0
