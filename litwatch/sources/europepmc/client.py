"""Europe PMC REST API: ``GET /search`` walked with ``cursorMark``, and records fetched by ID.

What the service does (API 6.9, from recorded responses): ``cursorMark=*`` starts a walk and
each page's ``nextCursorMark`` is the next request's cursor; when every hit fits on the
page there is no ``nextCursorMark`` at all, while API 5.2.1 echoed the cursor it was sent
(``*``) instead, so a walk stops on an absent or unchanged cursor. ``page`` is ignored;
``pageSize`` is capped at 1,000. Refusals come as an XML ``<errorBean>`` (its HTTP status was
not recorded, so both a 200 and a 4xx carrying one are handled).
"""

from __future__ import annotations

import logging
import re
import urllib.parse
from datetime import date
from typing import Any, Iterator

import requests

from ...errors import HttpError, HttpStatusError, LitwatchError, ParseError, TransientResponse, UnknownFormat
from ...http import HttpClient
from ...paging import PageWalk
from ..checks import count, json_value, shown
from .parse import parse_error_bean, results_from_json

log = logging.getLogger(__name__)

BASE_URL = "https://www.ebi.ac.uk/europepmc/webservices/rest"
PAGE_SIZE = 1000  # the service's maximum
# Europe PMC publishes no limit; its developer forum (2026-02) states it throttles at 10
# requests per second and 500 per minute. Two per second stays far below both, and a
# topic's walk is a few pages of 1,000, so it costs seconds.
REQUESTS_PER_SECOND = 2.0
# Records fetched by ID go several to a query. A query's length is bounded twice: by its
# URL-encoded size, well under the 8 KB request lines servers commonly accept, and by its
# clause count, well under Solr's default limit of 1,024 boolean clauses.
MAX_QUERY_CHARS = 4000
MAX_IDS_PER_QUERY = 100
ID_PAGE_SIZE = 1000  # the most Europe PMC serves to a page

_EXT_ID = re.compile(r"[A-Za-z0-9._-]+")
_SOURCE = re.compile(r"[A-Za-z]{3}")


def query_for(topic_query: str, since: date | None = None) -> str:
    """The query to send: the topic's, narrowed to records indexed or updated on/after ``since``.

    ``FIRST_IDATE`` is the day Europe PMC first indexed a record (the ``firstIndexDate`` of
    results): it catches new records, including old papers indexed late and new preprints.
    ``UPDATE_DATE`` ("date of update in the Europe PMC database", reference guide 6.9,
    appendix 1) catches records revised since. Either may match, so a new record whose
    update date is unset is not missed. Both are whole days and inclusive: the ``since`` day
    is read again in full, which overlaps the previous run; records are stored by ``epmc_id``,
    so reading one twice only confirms it. Pass the last successful run's start date minus one
    day, so a record indexed in another time zone near midnight is not skipped.
    """
    if since is None:
        return topic_query
    day = since.isoformat()
    return f"({topic_query}) AND (FIRST_IDATE:[{day} TO *] OR UPDATE_DATE:[{day} TO *])"


class EuropePmcClient:
    """Reads search pages from ``{base_url}/search`` as ``resultType=core`` JSON."""

    def __init__(self, http: HttpClient, base_url: str = BASE_URL):
        self.http = http
        self.base_url = base_url.rstrip("/")

    def search_pages(self, query: str, *, since: date | None = None, walk: PageWalk | None = None,
                     result_type: str = "core", page_size: int = PAGE_SIZE) -> Iterator[dict[str, Any]]:
        """Yield every page of a search: ``{"results": [...], "hitCount": int, "nextCursorMark": ...}``.

        Stops when the next cursor is absent, unchanged, ``*`` or the page is empty. ``walk``
        (a new one by default) records the records received and raises
        :class:`IncompleteFetch` on a cursor that comes back to a page already read, and on
        a walk that pages on without bringing new records (:mod:`litwatch.paging`).
        """
        params = {"query": query_for(query, since), "format": "json", "resultType": result_type,
                  "pageSize": str(page_size)}
        walk = walk or PageWalk("Europe PMC", "records", token_name="cursor")
        cursor = "*"
        while True:
            page = self._search(dict(params, cursorMark=cursor))
            walk.expected = page["hitCount"]
            walk.page(f"{r.get('source')}:{r.get('id')}" if isinstance(r, dict) else None for r in page["results"])
            yield page
            following = page.get("nextCursorMark")
            if not following or following == cursor or following == "*" or not page["results"]:
                return
            walk.follow(following)
            cursor = following

    def ids(self, query: str) -> PageWalk:
        """The records a search holds, listed alone (``resultType=idlist``, a thousand to a
        page), as a walk: its ``keys`` (``SOURCE:ID``) and ``expected`` (the hitCount)."""
        walk = PageWalk("Europe PMC", "record IDs", token_name="cursor")
        for _ in self.search_pages(query, walk=walk, result_type="idlist", page_size=ID_PAGE_SIZE):
            pass
        return walk

    def search_ids(self, ids: list[str]) -> list[dict[str, Any]]:
        """Fetch records by ``SOURCE:ID`` (``MED:39709209``, ``PPR:PPR1036674``; a bare number is a
        PMID), several to a query. Records Europe PMC does not have are simply absent. An ID of
        another shape (a link target read from a record) is not asked for, with a warning: it
        could rewrite the query, and one such ID would fail every run that follows links."""
        keys = []
        for value in ids:
            try:
                keys.append(_split_id(value))
            except LitwatchError as e:
                log.warning("Europe PMC: not asked for: %s", e)
        clauses = [f"(EXT_ID:{ext_id} AND SRC:{source})" for source, ext_id in dict.fromkeys(keys)]
        results = []
        for query in _batches(clauses):
            for page in self.search_pages(query):
                results += page["results"]
        return results

    def _search(self, params: dict[str, str]) -> dict[str, Any]:
        try:
            return self.http.get(f"{self.base_url}/search", params=params, parse=parse_search)
        except HttpStatusError as e:  # the HTTP layer quotes an errorBean's errMsg as the text
            raise HttpError(f"Europe PMC refused the search: {e.text}", status=e.status) from None


def parse_search(response: requests.Response) -> dict[str, Any]:
    """A search page as ``{"results": [...], "hitCount": int, ...envelope}``.

    An errorBean is the service refusing the request: :class:`HttpError`, not retried. A body
    that is neither (truncated, an HTML error page) is a passing fault, retried.
    """
    body = response.content
    try:
        data = json_value(body)
    except ParseError:
        message = parse_error_bean(body)
        if message is not None:
            raise HttpError(f"Europe PMC refused the search: {message}", status=response.status_code) from None
        raise TransientResponse(f"Europe PMC returned a body that is not JSON ({len(body)} bytes)") from None
    if not isinstance(data, dict) or "hitCount" not in data or "resultList" not in data:
        raise TransientResponse("Europe PMC returned JSON that is not a search page (no hitCount or resultList)")
    try:
        results, envelope = results_from_json(data)
    except UnknownFormat as e:
        raise TransientResponse(f"Europe PMC returned an unexpected page ({e})") from None
    hits = count(data["hitCount"])
    if hits is None:
        log.warning("Europe PMC sent hitCount %s, not a count; the number of records to expect is unknown",
                    shown(data["hitCount"]))
    return {**envelope, "hitCount": hits, "results": results}


def _split_id(value: str) -> tuple[str, str]:
    text = str(value).strip()
    source, _, ext_id = text.rpartition(":")
    source = source.upper() or "MED"
    if not (_SOURCE.fullmatch(source) and _EXT_ID.fullmatch(ext_id) and (source != "MED" or ext_id.isdigit())):
        raise LitwatchError(f"not a Europe PMC record ID: {shown(text)} (expected SOURCE:ID, e.g. MED:39709209 "
                            f"or PPR:PPR1036674, or a PMID)")
    return source, ext_id


def _batches(clauses: list[str]) -> Iterator[str]:
    """OR-joined queries, each within :data:`MAX_QUERY_CHARS` (URL-encoded) and :data:`MAX_IDS_PER_QUERY`."""
    batch: list[str] = []
    size = 0
    for clause in clauses:
        cost = len(urllib.parse.quote(f" OR {clause}"))
        if batch and (size + cost > MAX_QUERY_CHARS or len(batch) == MAX_IDS_PER_QUERY):
            yield " OR ".join(batch)
            batch, size = [], 0
        batch.append(clause)
        size += cost
    if batch:
        yield " OR ".join(batch)
