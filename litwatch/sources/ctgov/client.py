"""ClinicalTrials.gov API v2: ``GET /studies`` with the topic's queries, page by page.

The service pages with ``nextPageToken`` (absent on the last page) whatever page size
it chooses, gives ``totalCount`` on the first page only when ``countTotal=true``, and
answers bad requests with HTTP 400 and a plain-text reason (shown as is by the HTTP
layer). It publishes no rate limit; its robots.txt asks for a one-second crawl delay,
which litwatch keeps. Its results are unsorted by default and a page may be empty, so a
walk is guarded (:mod:`litwatch.paging`) and, when it spans pages, checked against the
search's ID-only listing (``fields=NCTId``).
"""

from __future__ import annotations

import logging
from datetime import date
from typing import Any, Iterator

import requests

from .parse import studies_from_json
from ...errors import ParseError, TransientResponse, UnknownFormat
from ...http import HttpClient
from ...paging import PageWalk
from ..checks import askable, count, json_value, nct_id, shown

log = logging.getLogger(__name__)

PAGE_SIZE = 1000  # the API's maximum; larger values are coerced down to it
REQUESTS_PER_SECOND = 1.0


def search_params(query: dict[str, str], since: date | None = None) -> dict[str, str]:
    """The request parameters of a topic's query ({condition, intervention, term}); ``since``
    limits it to studies updated since that day."""
    params = {"format": "json", "pageSize": str(PAGE_SIZE)}
    for key, name in (("query.cond", "condition"), ("query.intr", "intervention"), ("query.term", "term")):
        if query.get(name):
            params[key] = query[name]
    if since:
        params["filter.advanced"] = f"AREA[LastUpdatePostDate]RANGE[{since.isoformat()},MAX]"
    return params


class CtgovClient:
    """Reads study pages from the API v2 ``/studies`` endpoint."""

    def __init__(self, http: HttpClient, base_url: str):
        self.http = http
        self.base_url = base_url.rstrip("/")

    def pages(self, params: dict[str, str], walk: PageWalk | None = None) -> Iterator[dict[str, Any]]:
        """Yield every page of a search, following ``nextPageToken`` until it is absent.

        The first request asks for ``countTotal``; later ones repeat the same parameters
        with the page token, as the API requires. ``walk`` (a new one by default) records
        the NCT IDs received and ends a walk that loops or pages on without end.
        """
        walk = walk or PageWalk("ClinicalTrials.gov", "studies")
        token = None
        while True:
            query = dict(params, countTotal="true") if token is None else dict(params, pageToken=token)
            page = self.http.get(f"{self.base_url}/studies", params=query, parse=parse_page)
            if token is None and isinstance(page.get("totalCount"), int):
                walk.expected = page["totalCount"]
            walk.page(map(study_id, page["studies"]))
            yield page
            token = page.get("nextPageToken")
            if not token:
                return
            walk.follow(token)

    def ids(self, params: dict[str, str]) -> PageWalk:
        """The NCT IDs a search holds, listed alone (``fields=NCTId``: a thousand to a small
        page), as a walk: its ``keys`` and, as the service reported it, its ``expected``."""
        walk = PageWalk("ClinicalTrials.gov", "study IDs")
        for _ in self.pages(dict(params, fields="NCTId"), walk):
            pass
        return walk

    def studies_by_id(self, nct_ids: list[str]) -> list[dict[str, Any]]:
        """Fetch known studies by NCT ID (one request per 1,000 IDs). An ID of another shape
        (read from a paper's text or databank list) is left out with a warning: sent, it would
        make the service refuse the whole request, on every run."""
        nct_ids = askable(nct_ids, nct_id, "ClinicalTrials.gov", "an NCT ID")
        studies = []
        for i in range(0, len(nct_ids), PAGE_SIZE):
            params = {"format": "json", "pageSize": str(PAGE_SIZE), "filter.ids": ",".join(nct_ids[i:i + PAGE_SIZE])}
            for page in self.pages(params):
                studies += page["studies"]
        return studies


def study_id(study: Any) -> str | None:
    """A study's NCT ID, if it has one where the API puts it."""
    try:
        return study["protocolSection"]["identificationModule"]["nctId"] or None
    except (KeyError, TypeError):
        return None


def parse_page(response: requests.Response) -> dict[str, Any]:
    """A page's JSON; a truncated or foreign body is a passing fault, retried."""
    try:
        data = json_value(response.content)
    except ParseError as e:
        raise TransientResponse(f"ClinicalTrials.gov returned {e}") from None
    try:
        studies, envelope = studies_from_json(data)
    except (UnknownFormat, ParseError) as e:
        raise TransientResponse(f"ClinicalTrials.gov returned an unexpected body ({e})") from None
    if "totalCount" in envelope:
        total = count(envelope["totalCount"])
        if total is None:
            log.warning("ClinicalTrials.gov sent totalCount %s, not a count; the number of studies "
                        "to expect is unknown", shown(envelope["totalCount"]))
        envelope["totalCount"] = total
    return {"studies": studies, **envelope}
