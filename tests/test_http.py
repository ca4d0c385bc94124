"""The shared HTTP layer: retries, backoff, Retry-After, errors that name the URL."""

import pytest
import requests
import responses

from litwatch.errors import HttpError, ServiceUnavailable, TransientResponse
from litwatch.http import USER_AGENT, HttpClient, RateLimiter, redact

URL = "https://eutils.example/entrez/eutils/esearch.fcgi"


def client(**kw):
    slept = []
    return HttpClient(per_second=0, sleep=slept.append, **kw), slept


@responses.activate
def test_retries_429_and_503_honouring_retry_after():
    responses.post(URL, status=429, headers={"Retry-After": "2"})
    responses.post(URL, status=503, headers={"Retry-After": "7"})
    responses.post(URL, body="ok")
    http, slept = client()
    assert http.post(URL, data={"api_key": "SECRET"}).text == "ok"
    assert slept == [2.0, 7.0]
    assert (http.stats.requests, http.stats.retries) == (3, 2)
    assert responses.calls[0].request.headers["User-Agent"] == USER_AGENT


@responses.activate
def test_backoff_grows_exponentially_with_jitter():
    for _ in range(4):
        responses.get(URL, status=502)
    responses.get(URL, body="ok")
    http, slept = client(backoff=1.0)
    http.get(URL)
    assert len(slept) == 4
    for n, delay in enumerate(slept):
        assert 2 ** n / 2 <= delay <= 2 ** n


@responses.activate
def test_client_errors_are_not_retried_and_show_the_body():
    responses.get(URL, status=400, body="Invalid prefix in parameter name: query.cond\n")
    http, slept = client()
    with pytest.raises(HttpError, match="HTTP 400: Invalid prefix in parameter name: query.cond") as e:
        http.get(URL, params={"api_key": "SECRET"})
    assert e.value.status == 400 and slept == [] and "SECRET" not in str(e.value)


@responses.activate
def test_gives_up_with_a_clear_error():
    responses.get(URL, body=requests.ConnectionError("refused"))
    http, slept = client(max_attempts=3)
    with pytest.raises(ServiceUnavailable, match=r"esearch.fcgi failed after 3 attempts \(last: could not connect\)"):
        http.get(URL, params={"api_key": "SECRET"})
    assert len(slept) == 2


@responses.activate
def test_transient_body_is_retried_through_parse_hook():
    responses.get(URL, body="partial")
    responses.get(URL, body="complete")
    http, _ = client()

    def parse(response):
        if response.text != "complete":
            raise TransientResponse("truncated")
        return response.text

    assert http.get(URL, parse=parse) == "complete"


def test_rate_limiter_spaces_calls():
    clock = [0.0]
    waits = []

    def sleep(s):
        waits.append(round(s, 3))
        clock[0] += s

    limiter = RateLimiter(2.8, clock=lambda: clock[0], sleep=sleep)
    for _ in range(4):
        limiter.wait()
    assert waits == [0.357, 0.357, 0.357]


def test_redact_hides_api_keys():
    assert redact("https://x/efetch.fcgi?db=pubmed&api_key=abc123&tool=t") == \
        "https://x/efetch.fcgi?db=pubmed&api_key=***&tool=t"
