"""PubMed as a litwatch source: E-utilities searches (edat/mdat windows for incremental
runs), efetch batches, fetch by PMID, and PubMed files (efetch XML, baseline/update files,
MEDLINE text exports)."""

from __future__ import annotations

import io
import logging
import sqlite3
from datetime import date
from typing import IO, TYPE_CHECKING, Any, Iterator

from ...errors import ParseError
from ...files import MEDLINE, PUBMED_XML
from ...store.writes import Writer
from ..base import Batch, Search, Source
from .schema import FAMILY, TABLES

if TYPE_CHECKING:
    from ...config import Config, Topic
    from ...http import HttpClient
    from .client import PubMedClient
    from .parse import Event

log = logging.getLogger(__name__)

DEFAULT_URL = "https://eutils.ncbi.nlm.nih.gov/entrez/eutils"
IMPORT_BATCH = 500  # records per store transaction when reading files


class PubMedSource(Source):
    name = "pubmed"
    label = "PubMed"
    service = "NCBI E-utilities"
    unit = "records"
    family = FAMILY
    tables = TABLES
    writer = Writer(FAMILY)
    default_url = DEFAULT_URL
    url_env = "LITWATCH_EUTILS_URL"

    def client(self, config: "Config", http: "HttpClient | None" = None) -> "PubMedClient":
        """A PubMed client paced at NCBI's limit for the key (or lack of one)."""
        from ...http import HttpClient
        from .client import PubMedClient

        # NCBI allows 3 requests/s without a key and 10 with one; stay a little under
        # (Bio.Entrez found 1/3 s spacing still drew 429s).
        rate = 9.0 if config.ncbi_api_key else 2.8
        return PubMedClient(http or HttpClient(per_second=rate), self.url(config), api_key=config.ncbi_api_key,
                            email=config.ncbi_email, tool=config.ncbi_tool)

    def probe_url(self, config: "Config") -> str:
        return f"{self.url(config)}/einfo.fcgi"

    def search(self, client: "PubMedClient", topic: "Topic", since: date | None) -> Search:
        query = self.query(topic)
        if since is None:
            searches = client.search(query)
        else:  # added (entry date) or revised (modification date) since the window start
            searches = client.search(query, datetype="edat", mindate=since) + \
                client.search(query, datetype="mdat", mindate=since)
        params = {"searches": [s.describe() for s in searches],
                  "query_translation": next((s.translation for s in searches if s.translation), None)}
        # Two windowed searches overlap (a record added and revised since), so their counts
        # do not add up to the distinct records expected; each search is checked on its own.
        expected = searches[0].count if len(searches) == 1 else None
        return Search(expected, params, self._batches(client, searches))

    def _batches(self, client: "PubMedClient", searches: list) -> Iterator[Batch]:
        from ...errors import IncompleteFetch

        for search in searches:
            served = 0
            for events in client.efetch(search):
                served += sum(1 for e in events if e.kind in ("article", "book"))
                yield from _batches(iter(events), IMPORT_BATCH)
            if served < search.count:
                raise IncompleteFetch(
                    f"PubMed reported {search.count} records for {search.describe()} but served "
                    f"{served}; the run is marked failed and the next run will ask again")

    def fetch_ids(self, client: "PubMedClient", ids: list[Any]) -> Iterator[Batch]:
        for i in range(0, len(ids), FOLLOW_BATCH):
            yield from _batches(iter(client.efetch_ids(ids[i:i + FOLLOW_BATCH])), IMPORT_BATCH)

    def missing_links(self, conn: sqlite3.Connection) -> list[Any]:
        """Papers the topics' trials list as RESULT (or DERIVED) references, not stored yet."""
        return [row[0] for row in conn.execute(
            "SELECT DISTINCT l.pmid FROM article_trial_links l JOIN trial_topics t ON t.nct_id = l.nct_id "
            "WHERE l.source = 'ctgov_reference' AND l.reference_type IN ('RESULT', 'DERIVED') "
            "AND l.pmid NOT IN (SELECT pmid FROM articles) ORDER BY l.pmid")]

    def reads(self, fmt: str, head: bytes) -> bool:
        return fmt in (PUBMED_XML, MEDLINE)

    def read(self, fmt: str, stream: IO[bytes], name: str) -> Iterator[Batch]:
        return _batches(_events(fmt, stream, name), IMPORT_BATCH)


FOLLOW_BATCH = 500  # PMIDs per efetch POST when following links


def _events(fmt: str, stream: IO[bytes], name: str) -> Iterator["Event"]:
    from .parse import iter_medline, iter_xml

    try:
        if fmt == PUBMED_XML:
            yield from iter_xml(stream)
        else:
            text = io.TextIOWrapper(stream, encoding="utf-8", errors="replace")
            try:
                yield from iter_medline(text)
            finally:
                text.detach()  # closing the wrapper would close the file under the caller
    except ParseError as e:
        raise ParseError(f"{name}: {e}") from None
    except (OSError, EOFError) as e:  # truncated or corrupt gzip
        raise ParseError(f"{name}: cannot read ({e})") from None


def _batches(events: Iterator["Event"], size: int) -> Iterator[Batch]:
    """Group events into batches of records, each ending at a deletion block (so deletions
    apply after the records before them and before those after)."""
    batch = Batch()
    for event in events:
        if event.kind == "article":
            batch.records.append(event.record)
            if len(batch.records) >= size:
                yield batch
                batch = Batch()
        elif event.kind == "delete":
            batch.deletes += event.pmids
            yield batch
            batch = Batch()
        else:
            batch.skipped += 1
            log.warning("skipped book record PMID %s (books are not stored)", event.pmids[0] if event.pmids else "?")
    if batch.records or batch.skipped:
        yield batch


SOURCE = PubMedSource()
