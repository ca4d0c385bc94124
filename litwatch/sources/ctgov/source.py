"""ClinicalTrials.gov as a litwatch source: API v2 study searches (by last update posted for
incremental runs), fetch by NCT ID, JSON files (website downloads, API pages, single studies),
and the history of what changed in each study."""

from __future__ import annotations

import itertools
import json
import logging
import sqlite3
import urllib.parse
from datetime import date
from typing import IO, TYPE_CHECKING, Any, Iterator

from ...errors import ParseError
from ...files import JSON
from ...store.writes import Counts, History, Prepared, Writer, delete, prepare, save
from ...settings import SourceSettings, Topic
from ..base import Batch, Listing, Search, Source, in_keys, parse_each
from . import LABEL
from .schema import EVENTS, FAMILY, TABLES, VIEWS

if TYPE_CHECKING:
    from ...http import Deadline, HttpClient
    from ...paging import PageWalk
    from .client import CtgovClient

log = logging.getLogger(__name__)

DEFAULT_URL = "https://clinicaltrials.gov/api/v2"
# The built-in topic (ketamine for PTSD): the condition and the intervention, each as the
# registry writes it.
BUILTIN_QUERY = {"condition": 'PTSD OR "Posttraumatic Stress Disorder" OR "Post-traumatic Stress"',
                 "intervention": "ketamine OR esketamine OR arketamine", "term": ""}
IMPORT_BATCH = 500
# Trial fields whose changes are history: what a reader of "ongoing research" follows.
TRACKED_FIELDS = ("overall_status", "phases", "enrollment", "enrollment_type", "start_date",
                  "start_date_type", "primary_completion_date", "primary_completion_date_type",
                  "completion_date", "completion_date_type", "has_results")


_CONTENT = FAMILY.content()
POSTED, HOLDER, RAW = (_CONTENT.index(c) for c in ("last_update_posted", "version_holder", "raw"))
STUDY_TYPE, ALLOCATION = _CONTENT.index("study_type"), _CONTENT.index("allocation")


def derive(p: Prepared) -> tuple:
    """The study's design, in the papers' vocabulary, from its design module."""
    from ...designs import classify_trial

    return classify_trial(p.row[STUDY_TYPE], p.row[ALLOCATION]), "design_module"


# Where a study states each tracked field: a field-limited copy states some of them only.
_STATED = {"overall_status": ("protocolSection", "statusModule", "overallStatus"),
           "phases": ("protocolSection", "designModule", "phases"),
           "enrollment": ("protocolSection", "designModule", "enrollmentInfo", "count"),
           "enrollment_type": ("protocolSection", "designModule", "enrollmentInfo", "type"),
           "start_date": ("protocolSection", "statusModule", "startDateStruct", "date"),
           "start_date_type": ("protocolSection", "statusModule", "startDateStruct", "type"),
           "primary_completion_date": ("protocolSection", "statusModule", "primaryCompletionDateStruct", "date"),
           "primary_completion_date_type": ("protocolSection", "statusModule", "primaryCompletionDateStruct",
                                            "type"),
           "completion_date": ("protocolSection", "statusModule", "completionDateStruct", "date"),
           "completion_date_type": ("protocolSection", "statusModule", "completionDateStruct", "type"),
           "has_results": ("hasResults",)}


def _states(study: dict) -> set[str]:
    """The tracked fields a study's document states."""
    out = set()
    for field, path in _STATED.items():
        node: Any = study
        for step in path:
            node = node.get(step) if isinstance(node, dict) else None
        if node is not None:
            out.add(field)
    return out


def _rebuild(study: dict) -> Any:
    """A study's rows from its JSON document (a merged copy)."""
    from .parse import parse_study

    return parse_study(study)


class CtgovSource(Source):
    name = "ctgov"
    label = LABEL
    service = "ClinicalTrials.gov API v2"
    unit = "studies"
    holds = "trials"
    parser_version = 2  # 2: raw with its keys sorted
    family = FAMILY
    tables = TABLES
    # When a study was revised: its last update posted, then its data version (two downloads of
    # the same update a day apart differ there). A field-limited copy (an API query with
    # fields=, a website download of chosen columns: no data version) is poorer than a whole
    # study; copies are JSON documents, laid over each other field by field.
    writer = Writer(FAMILY, recency_sql="last_update_posted, version_holder",
                    recency=lambda p: (p.row[POSTED], p.row[HOLDER]),
                    shape_sql="1 + (version_holder IS NOT NULL)", shape=lambda p: 2 if p.row[HOLDER] else 1,
                    full_shape=2, document="raw", rebuild=_rebuild, states=_states,
                    derived=("design", "design_source"), derive=derive,
                    history=History("trial_changes", TRACKED_FIELDS, "last_update_posted", "overall_status"))
    default_url = DEFAULT_URL
    url_key = "ctgov_url"
    url_env = "LITWATCH_CTGOV_URL"
    query_keys = frozenset({"condition", "intervention", "term"})
    query_help = "ClinicalTrials.gov API v2 query.cond / query.intr / query.term (Essie syntax)."
    default_query = BUILTIN_QUERY
    main_tables = ("trials", "trial_topics", "trial_locations", "trial_conditions", "trial_interventions",
                   "trial_changes")
    terms = ("U.S. National Library of Medicine terms", "https://clinicaltrials.gov/about-site/terms-conditions")
    events_sql = EVENTS
    views = VIEWS
    old_topic_keys = {"ctgov_condition": "condition", "ctgov_intervention": "intervention", "ctgov_term": "term"}
    table_options = {
        "trials": {"facets": ["overall_status", {"array": "phases"}, "design", "study_type", "lead_sponsor_class"],
                   "sort_desc": "last_update_posted", "label_column": "brief_title"},
        "trial_locations": {"facets": ["country", "status"]},
        "trial_changes": {"facets": ["field", "run_id"], "sort_desc": "id"},
        "trial_topics": {"facets": ["topic", "relevance"]},
    }
    relevance_text_sql = """
SELECT t.nct_id, coalesce(t.brief_title, '') || ' ' || coalesce(t.official_title, '') || ' ' ||
  coalesce(t.brief_summary, '') || ' ' || coalesce(t.conditions, '') || ' ' || coalesce(t.interventions, '') || ' ' ||
  coalesce((SELECT group_concat(condition, ' | ') FROM trial_conditions c WHERE c.nct_id = t.nct_id), '') || ' ' ||
  coalesce((SELECT group_concat(term, ' | ') FROM trial_intervention_mesh i WHERE i.nct_id = t.nct_id), '') || ' ' ||
  coalesce((SELECT group_concat(name || ' ' || coalesce(other_names, ''), ' | ')
            FROM trial_interventions i WHERE i.nct_id = t.nct_id), '')
FROM trials t WHERE 1"""
    relevance_key = "t.nct_id"

    def query(self, topic: Topic) -> dict[str, str] | None:
        query = topic.queries.get(self.name) or {}
        return query if any(query.values()) else None

    def client(self, settings: SourceSettings, http: "HttpClient | None" = None,
               budget: "Deadline | None" = None) -> "CtgovClient":
        """A ClinicalTrials.gov client, paced at one request per second."""
        from ...http import HttpClient
        from .client import REQUESTS_PER_SECOND, CtgovClient

        return CtgovClient(http or HttpClient(per_second=REQUESTS_PER_SECOND, budget=budget), settings.url)

    def search_url(self, query: Any) -> str | None:
        params = {"cond": query.get("condition"), "intr": query.get("intervention"), "term": query.get("term")}
        return "https://clinicaltrials.gov/search?" + urllib.parse.urlencode({k: v for k, v in params.items() if v})

    def probe_url(self, settings: SourceSettings) -> str:
        return f"{settings.url}/version"

    def search(self, client: "CtgovClient", topic: Topic, since: date | None) -> Search:
        from ...paging import PageWalk
        from .client import search_params

        params = search_params(self.query(topic) or {}, since)
        run_params: dict[str, Any] = {"query": params, "pages": 0}
        walk = PageWalk(self.label, self.unit)
        pages = client.pages(params, walk)
        first = next(pages)
        run_params["pages"] = 1
        search = Search(first.get("totalCount"), run_params, iter(()))

        def batches() -> Iterator[Batch]:
            yield _page_batch(first, 1)
            for page in pages:
                run_params["pages"] += 1
                yield _page_batch(page, run_params["pages"])
            yield from self._complete(client, params, walk, search)

        search.batches = batches()
        return search

    def _complete(self, client: "CtgovClient", params: dict[str, str], walk: "PageWalk",
                  search: Search) -> Iterator[Batch]:
        """Prove that a walk brought every study the search holds, or fetch those it missed.

        One page is one answer of the service: when it holds ``totalCount`` distinct studies,
        they are the set. A walk over several pages is no snapshot: the API's results are
        unsorted and the registry changes under it, so a study can be skipped while the count
        still matches (one withdrawn, another added) and nothing repeats. Then the search's
        NCT IDs are listed alone (``fields=NCTId``: a thousand to a small page), the listing
        becomes what the search holds, and the studies the walk missed are fetched by ID.
        A listing that contradicts itself proves nothing: the count check decides.
        """
        from ...errors import IncompleteFetch
        from .client import study_id
        from .parse import parse_study

        if search.expected is None:
            return  # the service gave no count: a listing could be checked against nothing
        if walk.pages == 1 and not walk.repeats and walk.served == search.expected:
            return
        listing = client.ids(params)
        ids = listing.keys
        search.params["listed"] = len(ids)
        if listing.repeats or listing.served != listing.expected:
            log.warning("ClinicalTrials.gov's ID listing of the search is no more consistent than its pages "
                        "(%s, %d repeats); the studies missed cannot be told", listing.progress(), listing.repeats)
            return
        search.expected = listing.served
        gone = sorted(walk.keys - ids)
        search.params["left_while_paging"] = len(gone)
        if gone:
            log.info("ClinicalTrials.gov: %d studies served while paging have left the search since (%s); "
                     "they stay stored", len(gone), ", ".join(gone[:5]))
        missing = sorted(ids - walk.keys)
        if not missing:
            return
        log.warning("ClinicalTrials.gov: %d of the %d studies the search holds were not served while paging "
                    "(%d repeats); fetching them by NCT ID", len(missing), len(ids), walk.repeats)
        search.params["fetched_by_id"] = len(missing)
        got: set[str] = set()
        for i in range(0, len(missing), FOLLOW_BATCH):
            studies = client.studies_by_id(missing[i:i + FOLLOW_BATCH])
            got.update(key for key in map(study_id, studies) if key)
            yield Batch.of(parse_each(parse_study, studies, "ClinicalTrials.gov study fetched by ID"))
        lost = [nct_id for nct_id in missing if nct_id not in got]
        if lost:
            raise IncompleteFetch(
                f"{self.label} lists {len(ids)} studies for the search, but {len(lost)} of them were served neither "
                f"while paging nor by NCT ID ({', '.join(lost[:3])}{', ...' if len(lost) > 3 else ''}); what "
                f"arrived is stored, the run is marked failed and the next run will ask again")

    def listing(self, client: "CtgovClient", topic: Topic) -> Listing:
        """The NCT IDs of the search, listed alone (``fields=NCTId`` pages)."""
        from .client import search_params

        return Listing.of(client.ids(search_params(self.query(topic) or {})))

    def record_ids(self, conn: sqlite3.Connection, keys: list[Any]) -> dict[Any, tuple[str, str | None, str | None]]:
        out: dict[Any, tuple[str, str | None, str | None]] = {}
        for where, params in in_keys("nct_id", keys):
            for nct_id, title, url in conn.execute(f"SELECT nct_id, brief_title, url FROM trials WHERE 1{where}",
                                                   params):
                out[nct_id] = (nct_id, title, url)
        return out

    def fetch_ids(self, client: "CtgovClient", ids: list[Any]) -> Iterator[Batch]:
        from .parse import parse_study

        for i in range(0, len(ids), FOLLOW_BATCH):
            yield Batch.of(parse_each(parse_study, client.studies_by_id(ids[i:i + FOLLOW_BATCH]),
                                      "ClinicalTrials.gov studies by ID, study"))

    def missing_links(self, conn: sqlite3.Connection) -> list[Any]:
        """Trials behind the NCT IDs of the topics' papers, not stored yet."""
        return [row[0] for row in conn.execute(
            "SELECT DISTINCT l.nct_id FROM paper_trial_links l JOIN paper_topics t ON t.paper_id = l.paper_id "
            "WHERE l.nct_id NOT IN (SELECT nct_id FROM trials) ORDER BY l.nct_id")]

    def links(self, conn: sqlite3.Connection, keys: list[Any] | None = None) -> None:
        """The publications a study's record cites, with their type (RESULT, BACKGROUND, DERIVED)."""
        for where, params in in_keys("nct_id", keys):
            conn.execute(f"DELETE FROM paper_trial_links WHERE source = 'ctgov_reference'{where}", params)
            conn.execute(
                "INSERT OR IGNORE INTO paper_trial_links (paper_id, nct_id, source, reference_type, pmid) "
                "SELECT 'PMID:' || pmid, nct_id, 'ctgov_reference', type, pmid FROM trial_references "
                f"WHERE pmid IS NOT NULL{where}", params)

    def reparse(self, conn: sqlite3.Connection) -> Iterator[list[Prepared]]:
        from .parse import parse_study

        rows = conn.execute("SELECT raw FROM trials ORDER BY nct_id").fetchall()
        for i in range(0, len(rows), IMPORT_BATCH):
            # A malformed study (stored by a version that let one in) is kept as stored.
            batch = Batch.of(parse_each(parse_study, (json.loads(r[0]) for r in rows[i:i + IMPORT_BATCH]),
                                        "reparse of stored study", i + 1))
            yield prepare(self.writer, batch.records)

    def reads(self, fmt: str, head: bytes) -> bool:
        return fmt == JSON and (b'"protocolSection"' in head or b'"studies"' in head)

    def read(self, fmt: str, stream: IO[bytes], name: str) -> Iterator[Batch]:
        """The file's studies in batches. An integer past 64 bits (one study's absurd value)
        stops the fast reader: the file is then read again from its start by the exact one,
        past the studies already read, and that study is refused by its own check."""
        from ...files import open_input
        from .parse import NumberTooLarge, read_json

        read = 0
        try:
            for batch in _study_batches(read_json(stream), name, 1):
                read += len(batch.records) + batch.skipped
                yield batch
        except NumberTooLarge:
            log.info("%s: a number too large for the fast JSON reader; reading it again exactly", name)
            with open_input(name) as (_, again, _, _):
                yield from _study_batches(itertools.islice(read_json(again, exact=True), read, None), name, read + 1)

    def save(self, conn: sqlite3.Connection, batch: Batch, *, run_id: int | None, topic: str | None,
             origin: str) -> Counts:
        """Store studies; the writer records, in the same transaction, what changed in each
        (``trial_changes``: one row per changed tracked field, a ``new`` row for a study seen for
        the first time)."""
        counts = save(conn, self.writer, batch.records, run_id=run_id, topic=topic, origin=origin)
        if counts.skipped:
            log.warning("kept %d stored studies newer than the copies received", counts.skipped)
        counts.deleted += delete(conn, self.family, batch.deletes)
        counts.received += batch.skipped
        counts.skipped += batch.skipped
        return counts


FOLLOW_BATCH = 500  # NCT IDs per filter.ids request when following links
def _study_batches(studies: Iterator[Any], name: str, first: int) -> Iterator[Batch]:
    """Batches of a file's studies, numbered from ``first`` in their names."""
    from .parse import NumberTooLarge, parse_study

    while True:
        try:
            chunk = list(itertools.islice(studies, IMPORT_BATCH))
        except NumberTooLarge:
            raise
        except ParseError as e:
            raise ParseError(f"{name}: {e}") from None
        if not chunk:
            return
        yield Batch.of(parse_each(parse_study, chunk, f"{name}: study", first))
        first += len(chunk)


def _page_batch(page: dict[str, Any], number: int) -> Batch:
    from .parse import parse_study

    return Batch.of(parse_each(parse_study, page["studies"], f"ClinicalTrials.gov page {number}, study"))


SOURCE = CtgovSource()
