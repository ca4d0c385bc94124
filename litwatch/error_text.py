"""What went wrong with a request, in words fit for one line of a message: the meaningful
text of an error body (an E-utilities ``<ERROR>``, a JSON ``message``, an nginx page's
title), a few words for a failed connection, and a URL without its query string.

Every text here is redacted (see :mod:`litwatch.redact`), printable and bounded in length.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Iterable

import requests
import urllib3
from urllib3.exceptions import NewConnectionError

from .redact import printable, redact

__all__ = ["ERROR_BODY_BYTES", "MESSAGE_CHARS", "describe_failure", "error_text", "where"]

# An error body is only quoted, never parsed whole: its first 64 KiB are plenty.
ERROR_BODY_BYTES = 64 * 2 ** 10
MESSAGE_CHARS = 300

_DECLARATIONS = re.compile(r"<\?.*?\?>|<!--.*?-->|<!DOCTYPE(?:[^\[>]|\[.*?\])*>|<!\[CDATA\[|\]\]>"
                           r"|<(script|style)\b.*?</\1\s*>", re.DOTALL | re.IGNORECASE)
_ERROR_ELEMENT = re.compile(r"<(ERROR|errMsg|message|error)\b[^>]*>(.*?)</\1\s*>", re.DOTALL | re.IGNORECASE)
_TAG = re.compile(r"<[^>]*>")
_JSON_FIELDS = ("error", "message", "errorMessage", "errMsg", "detail", "title")


def error_text(response: requests.Response) -> str:
    """The meaningful text of an error body, redacted, on one line, capped in length."""
    body = response.content or b""
    # requests assumes Latin-1 for any text/* without a charset; error bodies are UTF-8 or ASCII.
    charset = re.search(r"charset=\"?([\w.:-]+)", response.headers.get("Content-Type", ""), re.IGNORECASE)
    try:
        text = body.decode(charset.group(1) if charset else "utf-8", "replace")
    except LookupError:  # a charset Python does not know
        text = body.decode("utf-8", "replace")
    if len(body) >= ERROR_BODY_BYTES:
        text = re.sub(r"\S*\Z", "", text)  # a secret cut in half would escape redaction
    text = redact(text).strip()
    if text[:1] in ("{", "["):
        message = _json_message(text)
        if message:
            return _shorten(message)
    if text.startswith("<"):
        return _markup_text(text)
    return _shorten(next((line for line in text.splitlines() if line.strip()), ""))


def _markup_text(text: str) -> str:
    """An XML or HTML body's error element, else its first piece of text."""
    text = _DECLARATIONS.sub(" ", text)
    element = _ERROR_ELEMENT.search(text)
    if element:
        return _shorten(html.unescape(_TAG.sub(" ", element.group(2))))
    pieces = (html.unescape(piece).strip() for piece in _TAG.split(text))
    return _shorten(next((p for p in pieces if p), ""))


def _json_message(text: str) -> str | None:
    """The message of a JSON error body, looked for a few levels deep."""
    try:
        data = json.loads(text)
    except ValueError:
        return None
    for _ in range(3):  # {"error": {"message": ...}} and [{"error": ...}]
        if isinstance(data, list) and data:
            data = data[0]
        if not isinstance(data, dict):
            break
        value = next((data[k] for k in _JSON_FIELDS if data.get(k)), None)
        if isinstance(value, str):
            return value
        data = value
    return None


def _shorten(text: str) -> str:
    """One line of at most :data:`MESSAGE_CHARS` characters, redacted."""
    text = printable(" ".join(redact(text).split()))
    return text if len(text) <= MESSAGE_CHARS else text[:MESSAGE_CHARS - 1] + "…"


def where(url: str) -> str:
    """The URL without its query string, which may carry a key, safe to print."""
    return printable(url.split("?", 1)[0].split("#", 1)[0])


def describe_failure(e: requests.RequestException) -> tuple[str, bool]:
    """What went wrong, in a few words, and whether the service could not be reached at
    all (refused, unreachable, no such host): retrying that is quick or pointless."""
    causes = list(_causes(e))
    if any(isinstance(c, urllib3.exceptions.NameResolutionError) for c in causes):
        return "could not resolve the host name", True
    if isinstance(e, requests.ConnectTimeout):
        return "timed out connecting", False
    if isinstance(e, requests.Timeout):
        return "timed out", False
    if isinstance(e, (requests.exceptions.ChunkedEncodingError, requests.exceptions.ContentDecodingError)):
        return "the response was cut short", False
    if any(isinstance(c, NewConnectionError) for c in causes):
        return "could not connect", True
    if isinstance(e, requests.ConnectionError):
        text = str(e).lower()
        return ("connection reset" if "reset" in text or "aborted" in text else "could not connect"), False
    return printable(f"{type(e).__name__}: {e}")[:MESSAGE_CHARS], False


def _causes(e: BaseException) -> Iterable[BaseException]:
    """An exception and those it wraps (requests wraps urllib3's, which wrap socket errors)."""
    seen: set[int] = set()
    todo = [e]
    while todo and len(seen) < 20:
        current = todo.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        todo += [x for x in (current.__cause__, current.__context__, getattr(current, "reason", None),
                             *current.args) if isinstance(x, BaseException)]
