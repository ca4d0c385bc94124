"""An Atom feed of a topic's events, written by feedgenerator (the feed library Pelican
maintains), for any feed reader: one entry per event, its ID stable across runs, so a reader
shows each event once.

One record cannot break the feed: every text in it goes through
:func:`~litwatch.redact.plain` (secrets masked, control characters such as an ESC dropped,
which XML cannot carry), and only http(s) URLs become links (an entry whose record has
another kind of URL links to the feed's page instead)."""

from __future__ import annotations

import html
import urllib.parse
from datetime import datetime, timezone

from .settings import Topic
from .sources import all_sources
from .events import Event
from .redact import plain, web_url

FEED_ENTRIES = 200


def feed_id(topic: Topic) -> str:
    return f"urn:litwatch:{urllib.parse.quote(topic.name)}"


def entry_id(event: Event) -> str:
    """Stable for an event whatever run writes the feed: a feed reader shows it once."""
    return f"urn:litwatch:event:{urllib.parse.quote(event.id, safe=':')}"


def atom(topic: Topic, events: list[Event], *, link: str | None = None, checked: str | None = None) -> str:
    """The feed as Atom XML text. ``link`` is the page the feed stands for (the published
    report, say); by default the topic's search on the site of its first source. The feed's
    date is its newest event's, or, with no event yet, ``checked``: when the last run the data
    rest on ended."""
    import feedgenerator

    class Feed(feedgenerator.Atom1Feed):
        def latest_post_date(self) -> datetime:  # the newest event, not the clock: same data, same bytes
            return newest

    home = web_url(link) or _search_url(topic)
    newest = max((_when(e.at) for e in events if e.at),
                 default=_when(checked) if checked else datetime(1970, 1, 1, tzinfo=timezone.utc))
    title = plain(topic.display_title)
    feed = Feed(
        title=f"litwatch: {title}", link=home, feed_guid=feed_id(topic), language="en",
        description=f"What changed in the research on {title}: new papers and trials, trial status "
                    f"and results, retractions.")
    for e in events:
        when = _when(e.at) if e.at else newest
        # the summary is typed html: escaped here, so a title's "<script>" stays text in a reader
        feed.add_item(title=plain(e.headline), link=web_url(e.url) or home, unique_id=entry_id(e),
                      description=html.escape(plain(_summary(e))), pubdate=when, updateddate=when,
                      categories=[plain(e.kind), e.importance])
    return feed.writeString("utf-8")


def _summary(e: Event) -> str:
    parts = [e.headline]
    if e.old_value is not None or e.new_value is not None:
        if e.kind not in ("new_paper", "new_preprint", "new_trial", "trial_paper"):
            parts.append(f"Before: {e.old_value or 'none'}. After: {e.new_value or 'none'}.")
    parts.append(f"Seen by litwatch run {e.run_id}" + (f" ({e.at[:10]})." if e.at else "."))
    return " ".join(parts)


def _when(stamp: str) -> datetime:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00"))


def _search_url(topic: Topic) -> str:
    """The topic's search on the first of its sources' sites that shows one."""
    for source in all_sources():
        query = source.query(topic)
        url = source.search_url(query) if query else None
        if url:
            return url
    return "https://pubmed.ncbi.nlm.nih.gov/"  # a topic none of whose sources has a site search
