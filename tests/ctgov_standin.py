"""A stand-in for the ClinicalTrials.gov API v2 ``/studies`` endpoint, serving real studies.

It pages like the service: the page size is the server's choice (``page_size``, whatever
the client asks), ``nextPageToken`` is an opaque token absent on the last page,
``totalCount`` comes on the first page when ``countTotal=true``, and
``filter.advanced=AREA[LastUpdatePostDate]RANGE[date,MAX]`` keeps studies updated since
``date``, and ``fields=NCTId`` serves each study as its NCT ID alone (the cheap ID-only
listing of a search). An unknown parameter gets HTTP 400 with a plain-text reason, as the
real service answers. The query itself is not interpreted: every study served matches it.
Reachable through ``responses`` or a real HTTP server on 127.0.0.1.

A hostile variant overrides :meth:`CtgovStandin.page` (a page as served) and may change
``studies`` between pages, as a service whose data move under a walk does.
"""

from __future__ import annotations

import functools
import json
import re
import urllib.parse
from pathlib import Path

from standin_server import copied, serve

FIXTURES = Path(__file__).parent / "fixtures"
KNOWN = {"format", "pageSize", "countTotal", "pageToken", "query.cond", "query.intr", "query.term",
         "filter.advanced", "filter.ids", "fields"}
_RANGE = re.compile(r"AREA\[LastUpdatePostDate\]RANGE\[(\d{4}-\d{2}-\d{2}),MAX\]")


def load_studies(name: str = "ctg-studies_dtx_psychiatric.json") -> list[dict]:
    """The studies of a fixture file: a fresh copy each call (the file is read once)."""
    return copied(_read_studies(name))


@functools.cache
def _read_studies(name: str) -> list[dict]:
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))


def nct_id(study: dict) -> str | None:
    """A study's NCT ID; None for a study edited to lack one (served as it is)."""
    try:
        return study["protocolSection"]["identificationModule"].get("nctId")
    except (AttributeError, KeyError, TypeError):
        return None


def posted(study: dict) -> str:
    return study["protocolSection"].get("statusModule", {}).get("lastUpdatePostDateStruct", {}).get("date", "")


class CtgovStandin:
    def __init__(self, studies: list[dict], *, page_size: int = 50):
        self.studies = copied(studies)
        self.page_size = page_size
        self.requests: list[dict[str, str]] = []

    def study(self, wanted: str) -> dict:
        return next(s for s in self.studies if nct_id(s) == wanted)

    def ids(self) -> list[str]:
        return [nct_id(s) for s in self.studies]

    def handle(self, params: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
        self.requests.append(params)
        unknown = sorted(set(params) - KNOWN)
        if unknown:
            return 400, {"Content-Type": "text/plain"}, f"Invalid prefix in parameter name: {unknown[0]}".encode()
        hits = self.studies
        if "filter.advanced" in params:
            m = _RANGE.fullmatch(params["filter.advanced"])
            if not m:
                return 400, {"Content-Type": "text/plain"}, b"Invalid filter.advanced expression"
            hits = [s for s in hits if posted(s) >= m.group(1)]
        if "filter.ids" in params:
            wanted = set(params["filter.ids"].split(","))
            hits = [s for s in hits if nct_id(s) in wanted]
        if params.get("fields", "NCTId") != "NCTId":
            return 400, {"Content-Type": "text/plain"}, b"this stand-in serves fields=NCTId only"
        page = self.page(hits, params)
        if params.get("fields") == "NCTId":
            page["studies"] = [{"protocolSection": {"identificationModule": {"nctId": nct_id(s)}}}
                               for s in page["studies"]]
        return 200, {"Content-Type": "application/json"}, json.dumps(page).encode()

    def page(self, hits: list[dict], params: dict[str, str]) -> dict:
        """The page a request gets: the studies at its token's offset, ``totalCount`` when
        asked, and the next token unless this is the last page."""
        start = int(params.get("pageToken", "tok0")[3:])
        page = {"studies": hits[start:start + self.page_size]}
        if params.get("countTotal") == "true":
            page["totalCount"] = len(hits)
        if start + self.page_size < len(hits):
            page["nextPageToken"] = f"tok{start + self.page_size}"
        return page

    def add_to(self, rsps, base_url: str) -> None:
        def callback(request):
            params = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(request.url).query))
            return self.handle(params)
        rsps.add_callback("GET", f"{base_url}/studies", callback=callback)

    def serve(self):
        """Serve on 127.0.0.1 (a free port); the context yields the API base URL."""
        return serve(lambda path, params: self.handle(params) if path.rstrip("/").endswith("/studies")
                     else (404, {"Content-Type": "text/plain"}, b"not found"), "/api/v2")
