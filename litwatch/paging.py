"""Walking a service's pages without trusting it to end the walk.

Every source that pages (ClinicalTrials.gov's ``nextPageToken``, Europe PMC's
``nextCursorMark``) follows the same rules, so a service that loops or pages on forever
fails the run within a few requests instead of holding it until its time budget is spent:

- a page token the walk has already followed is a loop: the run fails at once;
- pages that bring no new record (empty, or only records already served) may happen
  once in a while; :data:`STALLED_PAGES` of them in a row end the walk;
- a walk may not take more pages than the count the service announced can need at the
  largest page size it served, plus :data:`EXTRA_PAGES` (for records added while paging).

A failed walk raises :class:`~litwatch.errors.IncompleteFetch`: what arrived is stored,
the run is marked failed and the next one asks again.
"""

from __future__ import annotations

import logging
import math
from typing import Any, Iterable

from .errors import IncompleteFetch
from .redact import printable

log = logging.getLogger(__name__)

STALLED_PAGES = 3
EXTRA_PAGES = 2
TOKEN_CHARS = 40


class PageWalk:
    """The record of one walk through a search's pages: keys received, pages read, tokens
    followed. Call :meth:`page` for each page read, :meth:`follow` before asking for the
    next one.

    :param label: the service, as a reader calls it ("ClinicalTrials.gov").
    :param unit: what it serves ("studies").
    :param token_name: what the service calls its page token ("page token", "cursor").
    :param expected: how many records the service says the search holds, when it says.
    """

    def __init__(self, label: str, unit: str, *, token_name: str = "page token", expected: int | None = None,
                 stalled: int = STALLED_PAGES, extra: int = EXTRA_PAGES):
        self.label, self.unit, self.token_name = label, unit, token_name
        self.expected = expected
        self.stalled, self.extra = stalled, extra
        self.keys: set[Any] = set()
        self.pages = 0
        self.repeats = 0
        self.unkeyed = 0  # records served without a key (malformed; skipped when stored)
        self.largest = 0
        self._tokens: set[str] = set()
        self._idle = 0  # pages in a row that brought nothing new

    def page(self, keys: Iterable[Any]) -> int:
        """Count a page's records by key (None for a record without one); return how many
        were new to the walk."""
        self.pages += 1
        size = new = 0
        for key in keys:
            size += 1
            if key is None:
                self.unkeyed += 1
                new += 1
            elif key in self.keys:
                self.repeats += 1
            else:
                self.keys.add(key)
                new += 1
        self.largest = max(self.largest, size)
        self._idle = 0 if new else self._idle + 1
        log.info("%s: page %d brought %d %s (%s)", self.label, self.pages, size, self.unit, self.progress())
        return new

    def follow(self, token: str) -> None:
        """Allow the walk to ask for the page behind ``token``, or raise
        :class:`IncompleteFetch` if that would loop or page on without end."""
        if token in self._tokens:
            raise IncompleteFetch(f"{self.label} repeated a {self.token_name}: {_show(token)} ({self.progress()}); "
                                  f"stopped instead of looping")
        if self._idle >= self.stalled:
            raise IncompleteFetch(f"{self.label} served {self._idle} pages in a row with no new {self.unit} "
                                  f"({self.progress()}); stopped instead of paging on")
        if self.expected is not None and self.largest and self.pages >= self.limit():
            raise IncompleteFetch(f"{self.label} offered more pages than the {self.expected} {self.unit} it "
                                  f"reported can need at up to {self.largest} a page ({self.progress()}); "
                                  f"stopped instead of paging on")
        self._tokens.add(token)

    def adds_up(self) -> bool:
        """Whether the walk brought exactly the records the service counted: each once, each
        with its key."""
        return not self.repeats and not self.unkeyed and self.expected == len(self.keys)

    @property
    def served(self) -> int:
        """Distinct records served, counting those without a key once each."""
        return len(self.keys) + self.unkeyed

    def limit(self) -> int:
        """The most pages this walk may read."""
        return math.ceil((self.expected or 0) / max(self.largest, 1)) + self.extra

    def progress(self) -> str:
        """Where the walk is, for a message: "after 3 pages, 100 of 128 studies"."""
        total = "" if self.expected is None else f" of {self.expected}"
        pages = "page" if self.pages == 1 else "pages"
        return f"after {self.pages} {pages}, {len(self.keys)}{total} {self.unit}"


def _show(token: str) -> str:
    """A token as a message may quote it: printable, on one line, not too long."""
    text = printable(str(token))
    return text if len(text) <= TOKEN_CHARS else text[:TOKEN_CHARS - 1] + "…"
