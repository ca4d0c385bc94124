"""The HTTP layer every source shares: one Session, timeouts, a client-side rate limit,
retries with exponential backoff and jitter, and errors that name the URL (never a key)."""

from __future__ import annotations

import email.utils
import random
import re
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, TypeVar

import requests

from . import __version__
from .errors import HttpError, ServiceUnavailable, TransientResponse

T = TypeVar("T")

USER_AGENT = f"litwatch/{__version__} (+https://github.com/litwatch/litwatch)"
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
_SECRET_PARAM = re.compile(r"(api_key=)[^&\s]+", re.IGNORECASE)


def redact(text: str) -> str:
    """Hide API keys in a URL or message."""
    return _SECRET_PARAM.sub(r"\1***", text)


class RateLimiter:
    """Spaces calls at least ``1/per_second`` seconds apart (monotonic clock, no busy wait)."""

    def __init__(self, per_second: float, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] | None = None):
        self.interval = 1.0 / per_second if per_second > 0 else 0.0
        self._clock = clock
        self._sleep = sleep or _sleep
        self._next = 0.0

    def wait(self) -> None:
        """Block until the next call is allowed, then reserve its slot."""
        now = self._clock()
        if now < self._next:
            self._sleep(self._next - now)
            now = self._next
        self._next = now + self.interval


@dataclass
class HttpStats:
    """What a client did, for run summaries."""

    requests: int = 0
    retries: int = 0


@dataclass
class HttpClient:
    """Sends requests to one service, politely and persistently.

    :param per_second: client-side rate limit for this service.
    :param max_attempts: tries per request (first try included) on transient faults.
    :param backoff: base delay in seconds; the n-th retry waits about ``backoff * 2**n``
        (full jitter, capped at ``max_backoff``) unless the server sent ``Retry-After``.
    """

    per_second: float = 3.0
    timeout: tuple[float, float] = (10.0, 120.0)
    max_attempts: int = 5
    backoff: float = 1.0
    max_backoff: float = 60.0
    sleep: Callable[[float], None] | None = None
    session: requests.Session = field(default_factory=requests.Session)
    stats: HttpStats = field(default_factory=HttpStats)

    def __post_init__(self) -> None:
        self.sleep = self.sleep or _sleep
        self.session.headers["User-Agent"] = USER_AGENT
        self.limiter = RateLimiter(self.per_second, sleep=self.sleep)

    def request(self, method: str, url: str, *, params: Mapping[str, Any] | None = None,
                data: Mapping[str, Any] | None = None,
                parse: Callable[[requests.Response], T] | None = None) -> T | requests.Response:
        """Send a request and return ``parse(response)`` (or the response itself).

        Connection errors, timeouts, 429 and 5xx answers are retried, as is any
        :class:`TransientResponse` raised by ``parse`` (a truncated body, an error
        page in a 200). Other 4xx answers raise :class:`HttpError` at once with the
        body's first line. :class:`ServiceUnavailable` is raised when retries run out.
        """
        last = "no attempt made"
        for attempt in range(self.max_attempts):
            if attempt:
                self.stats.retries += 1
            self.limiter.wait()
            self.stats.requests += 1
            retry_after: float | None = None
            try:
                response = self.session.request(method, url, params=params, data=data,
                                                timeout=self.timeout)
            except (requests.ConnectionError, requests.Timeout, requests.exceptions.ChunkedEncodingError,
                    requests.exceptions.ContentDecodingError) as e:
                last = _describe_exception(e)
            else:
                if response.status_code in RETRY_STATUSES:
                    last = f"HTTP {response.status_code}"
                    retry_after = _retry_after(response.headers.get("Retry-After"))
                elif response.status_code >= 400:
                    raise HttpError(
                        f"{_where(response.url)} answered HTTP {response.status_code}: "
                        f"{_first_line(response.text)}", status=response.status_code)
                else:
                    if parse is None:
                        return response
                    try:
                        return parse(response)
                    except TransientResponse as e:
                        last = str(e)
            if attempt + 1 < self.max_attempts:
                self.sleep(self._delay(attempt, retry_after))
        raise ServiceUnavailable(
            f"{_where(url)} failed after {self.max_attempts} attempts (last: {last})")

    def get(self, url: str, params: Mapping[str, Any] | None = None, **kw: Any) -> Any:
        return self.request("GET", url, params=params, **kw)

    def post(self, url: str, data: Mapping[str, Any] | None = None, **kw: Any) -> Any:
        return self.request("POST", url, data=data, **kw)

    def _delay(self, attempt: int, retry_after: float | None) -> float:
        if retry_after is not None:
            return min(retry_after, self.max_backoff)
        cap = min(self.max_backoff, self.backoff * 2 ** attempt)
        return random.uniform(cap / 2, cap)


def _sleep(seconds: float) -> None:
    time.sleep(seconds)  # looked up at call time, so tests can patch time.sleep


def _retry_after(value: str | None) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or HTTP-date)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def _where(url: str) -> str:
    """The URL without its query string, which may carry a key."""
    return redact(url.split("?", 1)[0])


def _first_line(text: str, limit: int = 300) -> str:
    line = next((ln.strip() for ln in text.splitlines() if ln.strip()), "(empty body)")
    return redact(line[:limit])


def _describe_exception(e: Exception) -> str:
    if isinstance(e, requests.Timeout):
        return "timed out"
    if isinstance(e, (requests.exceptions.ChunkedEncodingError, requests.exceptions.ContentDecodingError)):
        return "the response was cut short"
    if isinstance(e, requests.ConnectionError):
        text = str(e).lower()
        return "connection reset" if "reset" in text or "aborted" in text else "could not connect"
    return type(e).__name__
