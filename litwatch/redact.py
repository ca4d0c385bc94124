"""Secrets never leave: the one registry of the secrets in play, and the two functions
every message built from outside text goes through.

:func:`register` adds a secret (an NCBI API key, the password of a URL, later an SMTP
password); :func:`redact` masks every registered secret, as is and URL-encoded, and also
any ``api_key=``/``password=``-style parameter and any ``user:pass@`` in a URL, registered
or not; :func:`printable` escapes control characters, so a newline or an ANSI escape in a
file name, a URL or a response body cannot forge a line of output, of a log or of a run's
stored error.

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

import re
import threading
import urllib.parse

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


def printable(text: str) -> str:
    r"""``text`` with control characters escaped: a newline becomes the two characters \n."""
    return _CONTROL.sub(lambda m: m.group().encode("unicode_escape").decode("ascii"), text)


def excerpt(text: str, limit: int = 80) -> str:
    """``text`` made safe to quote in a one-line message: control characters escaped, and
    cut at ``limit`` characters (an ID or a value read from outside can be any length)."""
    shown = printable(text[:limit + 1])
    return shown if len(text) <= limit else shown[:limit] + "..."
