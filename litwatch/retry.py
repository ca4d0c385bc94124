"""The retry policy of the HTTP client, as urllib3's ``Retry``: which faults are tried again,
how often, and how long to wait before the next try.

A :class:`Retry` decides and computes; it neither sends nor sleeps. The client
(:mod:`litwatch.http`) asks it after each failed attempt::

    retry = Retry(attempts=5, backoff=1.0)
    retry.should_retry(attempt=1)                      # True: four tries are left
    retry.next_delay(attempt=1)                        # 0.5 to 1 s (full jitter)
    retry.next_delay(attempt=3)                        # 2 to 4 s
    retry.next_delay(attempt=1, retry_after="7")       # 7.0: the server said so
    retry.should_retry(attempt=2, unreachable=2)       # False: nothing answers there
"""

from __future__ import annotations

import email.utils
import random
import time
from dataclasses import dataclass

import requests

__all__ = ["RETRY_STATUSES", "TRANSIENT_ERRORS", "UNREACHABLE_ATTEMPTS", "Retry", "parse_retry_after"]

# Answers that mean "not now": rate limited, or a server (or the proxy before it) in trouble.
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
# Failures of the transport, not of the request: the same request may well succeed later.
TRANSIENT_ERRORS: tuple[type[requests.RequestException], ...] = (
    requests.ConnectionError, requests.Timeout, requests.exceptions.ChunkedEncodingError,
    requests.exceptions.ContentDecodingError)
# Tries when a service cannot be reached at all: a second one rides out a blip (a server
# restarting), more only delay the run's "offline" verdict.
UNREACHABLE_ATTEMPTS = 2


@dataclass(frozen=True)
class Retry:
    """When to try a request again, and after how long.

    :param attempts: tries per request (first try included) on transient faults.
    :param backoff: base delay in seconds; the wait after the n-th failed attempt is drawn
        from ``[cap / 2, cap]`` with ``cap = min(max_backoff, backoff * 2 ** (n - 1))``,
        unless the server sent ``Retry-After`` (honoured, up to ``max_backoff``).
    :param max_backoff: the longest wait between two tries.
    :param connect_backoff: the wait after an attempt that reached no server (refused,
        unreachable network, failed DNS lookup), drawn from ``[connect_backoff / 2,
        connect_backoff]``: retrying those soon rarely helps, so a service that is down
        costs about a second, not minutes.
    :param unreachable_attempts: tries that may reach no server before giving up.
    :param statuses: HTTP statuses that are tried again.
    :param exceptions: transport failures that are tried again.
    """

    attempts: int = 5
    backoff: float = 1.0
    max_backoff: float = 60.0
    connect_backoff: float = 0.25
    unreachable_attempts: int = UNREACHABLE_ATTEMPTS
    statuses: frozenset[int] = RETRY_STATUSES
    exceptions: tuple[type[requests.RequestException], ...] = TRANSIENT_ERRORS

    def retries_status(self, status: int) -> bool:
        """Whether an answer with this HTTP status is tried again."""
        return status in self.statuses

    def should_retry(self, attempt: int, unreachable: int = 0) -> bool:
        """Whether another try may follow attempt number ``attempt`` (counting from 1), when
        ``unreachable`` of the attempts so far reached no server."""
        if unreachable and unreachable >= self.unreachable_attempts:
            return False
        return attempt < self.attempts

    def next_delay(self, attempt: int, *, retry_after: str | None = None, refused: bool = False) -> float:
        """Seconds to wait after attempt number ``attempt`` failed: briefly if it ``refused``
        (reached no server), as the server's ``Retry-After`` header asks, or else
        exponentially longer, with full jitter."""
        if refused:
            return random.uniform(self.connect_backoff / 2, self.connect_backoff)
        asked = parse_retry_after(retry_after)
        if asked is not None:
            return min(asked, self.max_backoff)
        cap = min(self.max_backoff, self.backoff * 2 ** (attempt - 1))
        return random.uniform(cap / 2, cap)


def parse_retry_after(value: str | None) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or HTTP-date), or None."""
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
