"""The e-mail digest: the events not sent yet, per topic, grouped by importance, as plain
text and HTML, over SMTP (the standard library's smtplib and email).

What was sent is remembered in ``notifications`` (per event and recipient list), written
only after the server accepted the message: an event is never sent twice, and one that a
failed send did not deliver goes out next time. The first digest of a recipient list covers
what the last update brought; older events are marked as seen, not sent (a new subscriber
does not get the whole history).
"""

from __future__ import annotations

import smtplib
import socket
import ssl
import sqlite3
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

import jinja2

from .config import Config, Notify, Topic
from .errors import LitwatchError
from .events import IMPORTANCE, Event, events
from .redact import printable
from .store.db import now, transaction

SMTP_TIMEOUT = 30.0
GROUPS = {"high": "Important", "normal": "Also new", "low": "Minor changes"}


class NotifyError(LitwatchError):
    """The digest could not be sent; its events stay unsent for next time."""


@dataclass
class Digest:
    channel: str
    events: dict[str, list[Event]]  # by topic name, in the order the topics are configured
    backlog: list[str]  # event IDs older than the first digest, marked seen without sending

    @property
    def count(self) -> int:
        return sum(len(v) for v in self.events.values())


def channel(settings: Notify) -> str:
    return "email:" + ",".join(sorted(settings.to))


def pending(conn: sqlite3.Connection, config: Config, topics: list[Topic], settings: Notify) -> Digest:
    """The events of ``topics`` not yet sent to this recipient list."""
    where = channel(settings)
    sent = {r[0] for r in conn.execute("SELECT event_id FROM notifications WHERE channel = ?", [where])}
    first = not sent
    since = _last_session_start(conn) if first else None
    out: dict[str, list[Event]] = {}
    backlog: list[str] = []
    for topic in topics:
        fresh = [e for e in events(conn, topic.name) if e.id not in sent]
        if since is not None:
            backlog += [e.id for e in fresh if (e.run_id or 0) < since]
            fresh = [e for e in fresh if (e.run_id or 0) >= since]
        if fresh:
            out[topic.name] = sorted(fresh, key=lambda e: (IMPORTANCE.index(e.importance), -(e.run_id or 0), e.id))
    return Digest(where, out, backlog)


def _last_session_start(conn: sqlite3.Connection) -> int:
    """The first run of the newest command that fetched or imported (what the last update brought)."""
    row = conn.execute("SELECT min(id) FROM runs WHERE session = (SELECT max(session) FROM runs "
                       "WHERE kind IN ('fetch', 'import', 'follow'))").fetchone()
    return row[0] or 0


def message(config: Config, digest: Digest, settings: Notify) -> EmailMessage:
    """The digest as a multipart e-mail: plain text, and the same as HTML."""
    topics = {t.name: t for t in config.topics}
    important = sum(e.importance == "high" for items in digest.events.values() for e in items)
    titles = ", ".join(topics[name].display_title for name in digest.events)
    subject = f"litwatch: {digest.count} new on {titles}" + (f" ({important} important)" if important else "")
    groups = {name: [(GROUPS[level], [e for e in items if e.importance == level]) for level in IMPORTANCE]
              for name, items in digest.events.items()}
    context = {"topics": topics, "groups": groups, "count": digest.count}
    msg = EmailMessage()
    msg["Subject"] = subject
    msg["From"] = settings.sender
    msg["To"] = ", ".join(settings.to)
    msg["Date"] = formatdate(localtime=False)
    msg["Message-ID"] = make_msgid(domain=settings.sender.rpartition("@")[2].rstrip(">") or None)
    msg.set_content(_TEXT.render(**context))
    msg.add_alternative(_HTML.render(**context), subtype="html")
    return msg


def send(conn: sqlite3.Connection, config: Config, digest: Digest, settings: Notify) -> None:
    """Send the digest, then remember its events as sent (and the first digest's backlog as
    seen). Nothing is remembered when the send fails.

    :raises NotifyError: one line; the events stay unsent.
    """
    msg = message(config, digest, settings)
    try:
        deliver(msg, settings)
    except (OSError, smtplib.SMTPException, ssl.SSLError) as e:
        raise NotifyError(f"cannot send the digest through {settings.smtp_host}:{settings.port}: {_reason(e)}; "
                          f"its {digest.count} event(s) stay unsent for the next `litwatch notify`") from None
    stamp = now()
    with transaction(conn):
        conn.executemany("INSERT OR IGNORE INTO notifications (event_id, channel, sent_at) VALUES (?, ?, ?)",
                         [(e.id, digest.channel, stamp) for items in digest.events.values() for e in items])
        conn.executemany("INSERT OR IGNORE INTO notifications (event_id, channel, sent_at) VALUES (?, ?, NULL)",
                         [(event_id, digest.channel) for event_id in digest.backlog])


def mark_backlog(conn: sqlite3.Connection, digest: Digest) -> None:
    """Remember the first digest's backlog as seen when there is nothing newer to send."""
    with transaction(conn):
        conn.executemany("INSERT OR IGNORE INTO notifications (event_id, channel, sent_at) VALUES (?, ?, NULL)",
                         [(event_id, digest.channel) for event_id in digest.backlog])


def deliver(msg: EmailMessage, settings: Notify) -> None:
    """Hand the message to the SMTP server (STARTTLS, SSL or plain, logging in when a user is set)."""
    context = ssl.create_default_context()
    if settings.security == "ssl":
        server: smtplib.SMTP = smtplib.SMTP_SSL(settings.smtp_host, settings.port, timeout=SMTP_TIMEOUT,
                                                context=context)
    else:
        server = smtplib.SMTP(settings.smtp_host, settings.port, timeout=SMTP_TIMEOUT)
    with server:
        server.ehlo()
        if settings.security == "starttls":
            server.starttls(context=context)
            server.ehlo()
        if settings.user:
            if not settings.password:
                raise smtplib.SMTPAuthenticationError(0, b"no password: set LITWATCH_SMTP_PASSWORD")
            server.login(settings.user, settings.password)
        server.send_message(msg)


def _reason(error: BaseException) -> str:
    if isinstance(error, smtplib.SMTPAuthenticationError):
        text = error.smtp_error.decode("utf-8", "replace") if isinstance(error.smtp_error, bytes) else error.smtp_error
        return f"login refused ({printable(str(text)).strip()})"
    if isinstance(error, smtplib.SMTPNotSupportedError):
        return f"the server does not offer what is configured ({printable(str(error))})"
    if isinstance(error, smtplib.SMTPRecipientsRefused):
        return "the server refused the recipients"
    if isinstance(error, socket.gaierror):
        return "unknown host"
    if isinstance(error, (ConnectionRefusedError, socket.timeout, TimeoutError)):
        return "connection refused" if isinstance(error, ConnectionRefusedError) else "no answer (timed out)"
    return printable(str(error) or type(error).__name__)


_ENV = jinja2.Environment(autoescape=False, trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True,
                          undefined=jinja2.StrictUndefined)
# "-- " is written as an expression: the signature separator's trailing space (RFC 3676) is meant.
_TEXT = _ENV.from_string("""\
{{ count }} new event{{ "s" if count != 1 else "" }} since the last digest.
{% for name, levels in groups.items() %}

== {{ topics[name].display_title }} ==
{% for label, items in levels if items %}

{{ label }}:
{% for e in items %}
- {{ e.headline }}
  {{ e.url or "" }}
{% endfor %}
{% endfor %}
{% endfor %}

{{ "-- " }}
Sent by litwatch. Each event is sent once; `litwatch notify --dry-run` shows the next digest.
""")
_HTML = jinja2.Environment(autoescape=True, trim_blocks=True, lstrip_blocks=True).from_string("""\
<!DOCTYPE html>
<html lang="en"><body style="font-family: sans-serif; max-width: 720px">
<p>{{ count }} new event{{ "s" if count != 1 else "" }} since the last digest.</p>
{% for name, levels in groups.items() %}
<h2>{{ topics[name].display_title }}</h2>
{% for label, items in levels if items %}
<h3>{{ label }}</h3>
<ul>
{% for e in items %}
<li>{% if e.url %}<a href="{{ e.url }}">{{ e.headline }}</a>{% else %}{{ e.headline }}{% endif %}</li>
{% endfor %}
</ul>
{% endfor %}
{% endfor %}
<p style="color: #666">Sent by litwatch. Each event is sent once.</p>
</body></html>
""")
