"""The e-mail digest: the events not sent yet, per topic, grouped by importance, as plain
text and HTML, over SMTP (the standard library's smtplib and email).

Delivery is at most once per event. A digest is recorded before it is handed to the mail
server (a row of ``digests``, and its events in ``notifications`` under its Message-ID), so
no later digest carries them; it is then sent outside the database's write lock, the whole
conversation within :data:`SMTP_DEADLINE`; then its outcome is recorded. It is *sent* (some
recipients may have been refused: that is said, and recorded), *refused* (the server said no
before it took the message: the events go out with the next digest), or *unconfirmed* (the
connection ended after the message was handed over, or litwatch stopped before the answer was
recorded: it may have arrived, so it is not sent again). A digest left *sending* by a litwatch
that stopped is settled as unconfirmed by the next `litwatch notify`, with a warning.

The first digest of a recipient list covers what the last update brought; older events are
marked as seen, not sent (a new subscriber does not get the whole history). Every value a
digest shows comes from records or the configuration and goes through :func:`~litwatch.redact.plain`
(secrets masked, control characters dropped); only http(s) links are written.
"""

from __future__ import annotations

import contextlib
import email.policy
import io
import logging
import smtplib
import socket
import sqlite3
import ssl
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from email.generator import BytesGenerator
from email.message import EmailMessage
from email.utils import formatdate, make_msgid, parseaddr
from pathlib import Path
from typing import Any, Iterator

import jinja2

from . import redact
from .config import Config, Notify, Topic
from .errors import LitwatchError
from .events import IMPORTANCE, Event, events
from .redact import plain, printable, web_url
from .catalog import open_db
from .store.db import now, transaction

log = logging.getLogger(__name__)

SMTP_TIMEOUT = 30.0  # one read or write
# The whole conversation, greeting to QUIT: a server that trickles its answers byte by byte
# never trips the per-operation timeout, and is cut off here.
SMTP_DEADLINE = 60.0
GROUPS = {"high": "Important", "normal": "Also new", "low": "Minor changes"}


class NotifyError(LitwatchError):
    """The digest could not be sent (its events stay unsent for next time), or may have
    arrived without the server saying so (they are not sent again)."""


@dataclass
class Digest:
    channel: str
    events: dict[str, list[Event]]  # by topic name, in the order the topics are configured
    backlog: list[str]  # event IDs older than the first digest, marked seen without sending
    message_id: str | None = None  # set when the digest is recorded, before it is sent

    @property
    def count(self) -> int:
        return sum(len(v) for v in self.events.values())


@dataclass
class Delivery:
    """What the server said about a message it accepted: who it will reach, who it refused
    (address -> the server's reply)."""

    accepted: list[str]
    refused: dict[str, str] = field(default_factory=dict)


class Undelivered(Exception):
    """The conversation failed; ``handed_over``: after the message was handed to the server,
    which may then have delivered it."""

    def __init__(self, reason: str, handed_over: bool):
        super().__init__(reason)
        self.reason, self.handed_over = reason, handed_over


def channel(settings: Notify) -> str:
    return "email:" + ",".join(sorted(settings.to))


def pending(conn: sqlite3.Connection, config: Config, topics: list[Topic], settings: Notify) -> Digest:
    """The events of ``topics`` not yet sent to this recipient list (nor being sent, nor
    perhaps sent by a digest whose outcome is unconfirmed)."""
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
    topics = {t.name: plain(t.display_title) for t in config.topics}
    important = sum(e.importance == "high" for items in digest.events.values() for e in items)
    titles = ", ".join(topics[name] for name in digest.events)
    subject = f"litwatch: {digest.count} new on {titles}" + (f" ({important} important)" if important else "")
    groups = {name: [(GROUPS[level], [(plain(e.headline), web_url(e.url)) for e in items if e.importance == level])
                     for level in IMPORTANCE]
              for name, items in digest.events.items()}
    context = {"topics": topics, "groups": groups, "count": digest.count}
    msg = EmailMessage()
    msg["Subject"] = subject
    msg["From"] = settings.sender
    msg["To"] = ", ".join(settings.to)
    msg["Date"] = formatdate(localtime=False)
    msg["Message-ID"] = make_msgid(domain=parseaddr(settings.sender)[1].rpartition("@")[2] or None)
    msg.set_content(_TEXT.render(**context))
    msg.add_alternative(_HTML.render(**context), subtype="html")
    return msg


# --- Recorded before sending, settled after --------------------------------------------------

def record(conn: sqlite3.Connection, digest: Digest, msg: EmailMessage) -> None:
    """Remember the digest as being sent, before it is handed to the server: its events (and
    the first digest's backlog) are in ``notifications`` from now on, so no later digest
    carries them whatever happens to this one."""
    digest.message_id = str(msg["Message-ID"])
    ids = [e.id for items in digest.events.values() for e in items]
    with transaction(conn):
        conn.execute("INSERT INTO digests (message_id, channel, events, prepared_at, status) "
                     "VALUES (?, ?, ?, ?, 'sending')", [digest.message_id, digest.channel, len(ids), now()])
        conn.executemany("INSERT OR IGNORE INTO notifications (event_id, channel, sent_at, message_id) "
                         "VALUES (?, ?, NULL, ?)", [(i, digest.channel, digest.message_id) for i in ids])
        conn.executemany("INSERT OR IGNORE INTO notifications (event_id, channel, sent_at) VALUES (?, ?, NULL)",
                         [(event_id, digest.channel) for event_id in digest.backlog])


def settle(conn: sqlite3.Connection, digest: Digest, outcome: Delivery | Undelivered) -> None:
    """Record how the send ended: sent (its events dated), refused (its events freed for the
    next digest) or unconfirmed (its events kept as sent: delivery is at most once)."""
    stamp = now()
    with transaction(conn):
        if isinstance(outcome, Delivery):
            detail = "; ".join(f"refused {a}: {r}" for a, r in outcome.refused.items()) or None
            conn.execute("UPDATE digests SET status = 'sent', sent_at = ?, detail = ? WHERE message_id = ?",
                         [stamp, detail, digest.message_id])
            conn.execute("UPDATE notifications SET sent_at = ? WHERE message_id = ?", [stamp, digest.message_id])
        elif outcome.handed_over:
            _unconfirmed(conn, [digest.message_id], outcome.reason)
        else:
            conn.execute("UPDATE digests SET status = 'refused', detail = ? WHERE message_id = ?",
                         [outcome.reason, digest.message_id])
            conn.execute("DELETE FROM notifications WHERE message_id = ?", [digest.message_id])


def settle_abandoned(conn: sqlite3.Connection) -> list[str]:
    """Settle the digests a litwatch that stopped left *sending* (older than a send can last)
    as unconfirmed: they may have arrived, so their events are not sent again. Returns one
    line per digest settled."""
    cutoff = datetime.now(timezone.utc) - timedelta(seconds=SMTP_DEADLINE + SMTP_TIMEOUT)
    stale = conn.execute("SELECT message_id, events, prepared_at FROM digests WHERE status = 'sending' "
                         "AND prepared_at < ? ORDER BY prepared_at", [cutoff.strftime("%Y-%m-%dT%H:%M:%SZ")]).fetchall()
    if stale:
        with transaction(conn):
            _unconfirmed(conn, [row[0] for row in stale], "litwatch stopped before the server's answer was recorded")
    return [f"the digest of {n} event(s) handed to the mail server at {at} ({mid}) has no recorded answer "
            f"(litwatch stopped before recording it): it may have arrived, so its events are not sent again"
            for mid, n, at in stale]


def _unconfirmed(conn: sqlite3.Connection, message_ids: list[str | None], reason: str) -> None:
    for mid in message_ids:
        conn.execute("UPDATE digests SET status = 'unconfirmed', detail = ? WHERE message_id = ?", [reason, mid])
        conn.execute("UPDATE notifications SET sent_at = (SELECT prepared_at FROM digests WHERE message_id = ?) "
                     "WHERE message_id = ?", [mid, mid])


@contextlib.contextmanager
def reopened(db: str | Path | sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """A connection to record a send's outcome: the caller's, or the database opened again.
    The write lock is not taken: the outcome is one small transaction, which SQLite orders
    with a fetch that started while the mail server was being waited on."""
    if isinstance(db, sqlite3.Connection):
        yield db
        return
    conn = open_db(db, create=False)
    try:
        yield conn
    finally:
        conn.close()


def mark_backlog(conn: sqlite3.Connection, digest: Digest) -> None:
    """Remember the first digest's backlog as seen when there is nothing newer to send."""
    with transaction(conn):
        conn.executemany("INSERT OR IGNORE INTO notifications (event_id, channel, sent_at) VALUES (?, ?, NULL)",
                         [(event_id, digest.channel) for event_id in digest.backlog])


def failure(digest: Digest, settings: Notify, error: Undelivered) -> NotifyError:
    """The one line a failed send ends with."""
    where = f"{settings.smtp_host}:{settings.port}"
    if error.handed_over:
        return NotifyError(f"the digest was handed to {where}, then {error.reason}: it may have arrived, so its "
                           f"{digest.count} event(s) are not sent again (Message-ID {digest.message_id})")
    return NotifyError(f"cannot send the digest through {where}: {error.reason}; its {digest.count} event(s) stay "
                       f"unsent for the next `litwatch notify`")


# --- The conversation ---------------------------------------------------------------------------

class _AllRefused(smtplib.SMTPException):
    """Every recipient refused (address -> the server's reply): nothing was sent."""

    def __init__(self, refused: dict[str, str]):
        super().__init__("every recipient refused")
        self.refused = refused


class _Watched(smtplib.SMTP):
    """An SMTP client whose socket is handed to a deadline's watch as soon as it is connected
    (before TLS): at the deadline the socket is shut down, which wakes any read or write."""

    watch: Any = None

    def _get_socket(self, host: str, port: int, timeout: float) -> socket.socket:
        sock = socket.create_connection((host, port), timeout, self.source_address)
        if self.watch is not None:
            self.watch.attach(sock)
        return sock


class _WatchedSSL(smtplib.SMTP_SSL, _Watched):
    """SMTP over TLS from the first byte; SMTP_SSL wraps the socket _Watched connects."""


def deliver(msg: EmailMessage, settings: Notify) -> Delivery:
    """Hand the message to the SMTP server (STARTTLS, SSL or plain, logging in when a user is
    set), the whole conversation within :data:`SMTP_DEADLINE`.

    :raises Undelivered: one line; ``handed_over`` when the message may have arrived.
    """
    from .deadline import Watch  # the HTTP client's deadline watch: a timer that shuts the socket down

    redact.register_login(settings.user, settings.password)  # a server may echo the login it refuses
    seconds = SMTP_DEADLINE
    state = {"handed_over": False}
    timeout = min(SMTP_TIMEOUT, seconds)
    server: _Watched = (_WatchedSSL(timeout=timeout, context=ssl.create_default_context())
                        if settings.security == "ssl" else _Watched(timeout=timeout))
    # The name TLS checks the certificate against: smtplib sets it in an __init__ that connects,
    # and this one connects later, once the socket can be watched.
    server._host = settings.smtp_host  # type: ignore[attr-defined]
    with Watch(seconds) as watch:
        server.watch = watch
        try:
            return _converse(server, msg, settings, state)
        except (OSError, smtplib.SMTPException, ssl.SSLError, ValueError) as e:
            handed_over = state["handed_over"] and not isinstance(e, smtplib.SMTPResponseException)
            reason = (f"no complete answer within the {seconds:g} s allowed for the conversation" if watch.fired
                      else _reason(e))
            raise Undelivered(reason, handed_over) from None
        finally:
            server.close()


def _converse(server: smtplib.SMTP, msg: EmailMessage, settings: Notify, state: dict[str, bool]) -> Delivery:
    """Greeting, EHLO, TLS, login, then MAIL, RCPT for each recipient and DATA; a recipient
    refused is noted (the others still get the message), all refused is a failure."""
    server.connect(settings.smtp_host, settings.port)
    server.ehlo()
    if settings.security == "starttls":
        server.starttls(context=ssl.create_default_context())
        server.ehlo()
    if settings.user:
        if not settings.password:
            raise smtplib.SMTPAuthenticationError(0, b"no password: set LITWATCH_SMTP_PASSWORD")
        server.login(settings.user, settings.password)
    sender = parseaddr(settings.sender)[1]
    recipients = [parseaddr(to)[1] for to in settings.to]
    international = not all(a.isascii() for a in [sender, *recipients])
    if international and not server.has_extn("smtputf8"):
        raise smtplib.SMTPNotSupportedError("non-ASCII addresses need SMTPUTF8, which the server does not offer")
    code, reply = server.mail(sender, ["SMTPUTF8", "BODY=8BITMIME"] if international else [])
    if code != 250:
        raise smtplib.SMTPSenderRefused(code, reply, sender)
    refused: dict[str, str] = {}
    for address in recipients:
        code, reply = server.rcpt(address)
        if code not in (250, 251):
            refused[address] = _said(code, reply)
    if len(refused) == len(recipients):
        raise _AllRefused(refused)
    state["handed_over"] = True  # from the DATA command on, the server may keep the message whatever follows
    code, reply = server.data(_payload(msg, international))
    if code != 250:
        raise smtplib.SMTPDataError(code, reply)
    with contextlib.suppress(OSError, smtplib.SMTPException):
        server.quit()  # the message is accepted: a connection dropped now changes nothing
    return Delivery([a for a in recipients if a not in refused], refused)


def _payload(msg: EmailMessage, international: bool) -> bytes:
    """The message as the DATA command sends it (CRLF line ends), as smtplib's send_message
    would write it."""
    with io.BytesIO() as out:
        BytesGenerator(out, policy=email.policy.SMTPUTF8 if international else email.policy.SMTP).flatten(msg)
        return out.getvalue()


def _said(code: int, reply: bytes | str) -> str:
    """A server's reply, as one line a message may quote."""
    text = reply.decode("utf-8", "replace") if isinstance(reply, bytes) else str(reply)
    return printable(" ".join(f"{code} {text}".split()))


def _reason(error: BaseException) -> str:
    if isinstance(error, smtplib.SMTPAuthenticationError):
        return f"login refused ({_said(error.smtp_code, error.smtp_error)})"
    if isinstance(error, smtplib.SMTPNotSupportedError):
        return f"the server does not offer what is configured ({printable(str(error))})"
    if isinstance(error, _AllRefused):
        return "the server refused every recipient: " + ", ".join(f"{a} ({r})" for a, r in error.refused.items())
    if isinstance(error, smtplib.SMTPSenderRefused):
        sender = printable(str(error.sender))
        return f"the server refused the sender {sender} ({_said(error.smtp_code, error.smtp_error)})"
    if isinstance(error, smtplib.SMTPDataError):
        return f"the server refused the message ({_said(error.smtp_code, error.smtp_error)})"
    if isinstance(error, smtplib.SMTPResponseException):
        return f"the server answered {_said(error.smtp_code, error.smtp_error)}"
    if isinstance(error, socket.gaierror):
        return "unknown host"
    if isinstance(error, (ConnectionRefusedError, socket.timeout, TimeoutError)):
        return "connection refused" if isinstance(error, ConnectionRefusedError) else "no answer (timed out)"
    if isinstance(error, smtplib.SMTPServerDisconnected):
        return "the server closed the connection"
    return printable(str(error) or type(error).__name__)


_ENV = jinja2.Environment(autoescape=False, trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True,
                          undefined=jinja2.StrictUndefined)
# "-- " is written as an expression: the signature separator's trailing space (RFC 3676) is meant.
_TEXT = _ENV.from_string("""\
{{ count }} new event{{ "s" if count != 1 else "" }} since the last digest.
{% for name, levels in groups.items() %}

== {{ topics[name] }} ==
{% for label, items in levels if items %}

{{ label }}:
{% for headline, url in items %}
- {{ headline }}
  {{ url or "" }}
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
<h2>{{ topics[name] }}</h2>
{% for label, items in levels if items %}
<h3>{{ label }}</h3>
<ul>
{% for headline, url in items %}
<li>{% if url %}<a href="{{ url }}">{{ headline }}</a>{% else %}{{ headline }}{% endif %}</li>
{% endfor %}
</ul>
{% endfor %}
{% endfor %}
<p style="color: #666">Sent by litwatch. Each event is sent once.</p>
</body></html>
""")
