"""Secrets never leave: the one registry of the secrets in play, and the functions every
piece of output goes through.

:func:`register` adds a secret (an NCBI API key, the password of a URL, an SMTP password and
the forms a login sends it in); :func:`redact` masks every registered secret, as is and
URL-encoded, and also any ``api_key=``/``password=``-style parameter and any ``user:pass@``
in a URL, registered or not. The output points build on it:

- :func:`printable`, for a line of the terminal, of a log or of a run's stored error: secrets
  masked, control characters escaped, so a newline or an ANSI escape in a file name, a URL
  or a response body cannot forge a line;
- :func:`plain`, for text a reader outside the terminal gets (a feed, an e-mail digest):
  secrets masked, control characters dropped, on one line;
- :func:`web_url`, for a link a reader may follow: http(s) only, secrets masked;
- and every log record of the process is redacted when it is made (see
  :func:`install_log_redaction`), so a handler litwatch does not know of (a library user's,
  pytest's) never sees a secret either, in a message or in a traceback.

Why process-wide state, when litwatch otherwise keeps state on instances: messages are
built where the configuration is out of reach (an HTTP error deep in the retry loop, a
parser quoting a body, the run log storing an exception's text), and one call site that
forgot to pass the secrets along is one leak. A secret is registered once, where it is
read (the configuration, an :class:`~litwatch.http.HttpClient` given a key), and from
then on every message anywhere is scrubbed of it. The set only grows and only holds
strings, like logging's configuration; it is replaced whole under a lock, so reading it
needs none.
"""

from __future__ import annotations

import base64
import logging
import re
import threading
import urllib.parse
from typing import Any

MASK = "***"
# Shorter "secrets" would blank out ordinary words in every message and protect nothing
# a guess would not find.
MIN_LENGTH = 4

# Parameter names whose values are secret wherever they appear: ``api_key=...`` in a
# query string or form body, ``"api-key": "..."`` in NCBI's JSON error bodies.
SECRET_NAME = re.compile(r"api[_-]?key|apikey|access[_-]?token|token|password|passwd|pwd|secret",
                         re.IGNORECASE)
_PARAM = re.compile(rf"(?<![\w-])((?:{SECRET_NAME.pattern})=)[^&#\s\"'<>]+", re.IGNORECASE)
_JSON_FIELD = re.compile(rf"(\"(?:{SECRET_NAME.pattern})\"\s*:\s*\")[^\"]*", re.IGNORECASE)
# ``scheme://userinfo@``: greedy up to the last ``@`` before the path, so that a password
# holding a raw ``@`` is masked whole.
_USERINFO = re.compile(r"\b([a-z][a-z0-9+.-]*://)[^\s/?#]+@", re.IGNORECASE)
# C0 and C1 controls, DEL, Unicode line/paragraph separators and the bidirectional
# overrides that can make text display in another order than it reads.
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]")

_SEPARATORS = frozenset("\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f\x85\u2028\u2029")

_lock = threading.Lock()
_secrets: frozenset[str] = frozenset()
_pattern: re.Pattern[str] | None = None


def register(secret: str | None) -> None:
    """Mask ``secret`` (and its URL-encoded forms) in everything :func:`redact` returns."""
    global _secrets, _pattern
    if not secret or len(secret) < MIN_LENGTH:
        return
    forms = {secret, urllib.parse.quote(secret, safe=""), urllib.parse.quote_plus(secret)}
    with _lock:
        if forms <= _secrets:
            return
        _secrets = _secrets | forms
        longest_first = sorted(_secrets, key=len, reverse=True)
        _pattern = re.compile("|".join(map(re.escape, longest_first)))


def register_url(url: str) -> None:
    """Register the password (or lone user token) in a URL's ``user:pass@`` part."""
    parts = urllib.parse.urlsplit(url)
    if parts.password is not None:
        register(parts.password)
        register(urllib.parse.unquote(parts.password))
    elif parts.username:
        register(parts.username)  # ``https://TOKEN@host``: the user name is the credential
        register(urllib.parse.unquote(parts.username))


def redact(text: str) -> str:
    """``text`` with every registered secret, secret parameter and URL userinfo masked."""
    pattern = _pattern
    if pattern is not None:
        text = pattern.sub(MASK, text)
    text = _PARAM.sub(rf"\g<1>{MASK}", text)
    text = _JSON_FIELD.sub(rf"\g<1>{MASK}", text)
    return _USERINFO.sub(rf"\g<1>{MASK}@", text)


def register_login(user: str | None, password: str | None) -> None:
    r"""Register an SMTP password and the base64 forms a login sends it in (AUTH PLAIN's
    ``\0user\0password``, AUTH LOGIN's password alone), which a server may echo in its reply."""
    if not password:
        return
    register(password)
    for form in (password, f"\0{user or ''}\0{password}", f"{user or ''}\0{password}"):
        register(base64.b64encode(form.encode("utf-8")).decode("ascii"))


def printable(text: str) -> str:
    r"""``text`` as a line of output may show it: secrets masked (:func:`redact`), control
    characters escaped (a newline becomes the two characters \n)."""
    return _CONTROL.sub(lambda m: m.group().encode("unicode_escape").decode("ascii"), redact(text))


def plain(text: str) -> str:
    """``text`` for a reader outside the terminal (a feed entry, a line of a digest): secrets
    masked, control characters dropped (a line break or a tab becomes a space; an escape
    sequence's ESC is gone), whitespace collapsed, on one line."""
    return " ".join(_CONTROL.sub(_drop, redact(text)).split())


def _drop(match: re.Match[str]) -> str:
    """A line or field separator becomes a space; any other control character, nothing."""
    return " " if match.group() in _SEPARATORS else ""


def web_url(url: str | None) -> str | None:
    """``url`` as a link may carry it (secrets masked), when it is an http(s) URL with a host
    and nothing a reader or a mail client could take for something else (a space, a control
    character); None otherwise: ``javascript:``, ``data:``, ``file:`` and the like are never
    links."""
    if not url or _CONTROL.search(url) or any(c.isspace() for c in url):
        return None
    try:
        parts = urllib.parse.urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError on a port that is not one
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        return None
    return redact(url)


def excerpt(text: str, limit: int = 80) -> str:
    """``text`` made safe to quote in a one-line message: control characters escaped, and
    cut at ``limit`` characters (an ID or a value read from outside can be any length), its
    secrets masked before it is cut (a secret cut in half would escape the mask)."""
    text = redact(text)
    shown = printable(text[:limit + 1])
    return shown if len(text) <= limit else shown[:limit] + "..."


def install_log_redaction() -> None:
    """Redact every log record when it is made, whatever logger makes it and whatever handler
    shows it: its message, and its traceback when it carries one. Installed once, when this
    module is first imported; a record with nothing to mask is left as it was made."""
    base = logging.getLogRecordFactory()
    if getattr(base, "litwatch_redacts", False):
        return

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = base(*args, **kwargs)
        _redact_record(record)
        return record

    factory.litwatch_redacts = True  # type: ignore[attr-defined]
    logging.setLogRecordFactory(factory)


def _redact_record(record: logging.LogRecord) -> None:
    try:
        message = record.getMessage()
    except Exception:  # a malformed record: the handler reports it in its own words
        return
    shown = redact(message)
    if shown != message:
        record.msg, record.args = shown, ()
    if record.exc_info and record.exc_info[1] is not None:
        trace = logging.Formatter().formatException(record.exc_info)
        shown = redact(trace)
        if shown != trace:
            record.exc_text = shown


install_log_redaction()
