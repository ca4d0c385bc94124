"""The shared HTTP layer: retries, backoff, Retry-After, errors that name the URL and show
the meaningful text of a body, secrets masked, unreachable services given up on quickly."""

import email.utils
import time

import pytest
import requests
import responses
import urllib3

from litwatch import redact as secrets
from litwatch.errors import (DeadlineExceeded, HttpError, HttpStatusError, ResponseTooLarge, ServiceUnavailable,
                             TransientResponse, Unreachable)
from litwatch.http import ERROR_BODY_BYTES, USER_AGENT, Deadline, HttpClient, RateLimiter, redact
from litwatch.retry import Retry, parse_retry_after

from conftest import FIXTURES

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


# --- Secrets, readable errors, fast give-up, bounds ------------------------------------

def test_registered_secrets_are_masked_as_is_and_url_encoded():
    secrets.register("p@ss word/+42")
    text = "sent p@ss word/+42, p%40ss%20word%2F%2B42 and p%40ss+word%2F%2B42"
    assert secrets.redact(text) == "sent ***, *** and ***"


def test_secret_parameters_userinfo_and_json_fields_are_masked_unregistered():
    assert secrets.redact("https://reader:hunter2@proxy.example:3128/x?password=pw&pageToken=abc") == \
        "https://***@proxy.example:3128/x?password=***&pageToken=abc"
    assert secrets.redact('{"error":"API key invalid","api-key":"0123abcd"}') == \
        '{"error":"API key invalid","api-key":"***"}'
    assert secrets.redact("query_key=1&WebEnv=MCID_1") == "query_key=1&WebEnv=MCID_1"


def test_too_short_secrets_are_not_registered():
    secrets.register("ab")
    assert secrets.redact("a cab") == "a cab"


def test_printable_escapes_what_could_forge_a_line():
    assert secrets.printable("a\nError: forged\r\x1b[31m\u2028\u202etxt.exe") == \
        r"a\nError: forged\r\x1b[31m\u2028\u202etxt.exe"


@responses.activate
def test_values_of_secret_parameters_and_the_secrets_hook_are_registered():
    responses.post(URL, status=403, body="denied for tok-0f9e8d7c and smtp-pass-5151")
    http, _ = client(secrets=["smtp-pass-5151"])
    with pytest.raises(HttpError) as e:
        http.post(URL, data={"password": "tok-0f9e8d7c"})
    assert str(e.value) == f"{URL} answered HTTP 403: denied for *** and ***"


NGINX_400 = ("<html>\r\n<head><title>400 Bad Request</title></head>\r\n<body>\r\n<center><h1>400 Bad Request"
             "</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n")


@pytest.mark.parametrize("body,text", [
    ((FIXTURES / "esearch_error_bad_db.xml").read_text(), "Invalid db name specified: fleegle"),
    ((FIXTURES / "epmc_errorbean_not_open_access.xml").read_text(),
     "Article with id PMC3040717 is not open access one"),
    (NGINX_400, "400 Bad Request"),
    ((FIXTURES / "eutils_rate_limit_error.json").read_text(), "API rate limit exceeded"),
    ('{"error": {"code": 400, "message": "Invalid &amp; odd"}}', "Invalid &amp; odd"),
    ("<p>Bad &amp; <b>worse</b></p>", "Bad &"),
    ("\n\n  first line  \nsecond line\n", "first line"),
    ("", "(empty body)"),
    ("x" * 1000, "x" * 299 + "…"),
])
@responses.activate
def test_an_error_shows_the_meaningful_text_of_its_body(body, text):
    responses.get(URL, status=400, body=body)
    http, _ = client()
    with pytest.raises(HttpStatusError) as e:
        http.get(URL)
    assert str(e.value) == f"{URL} answered HTTP 400: {text}" and e.value.text == text


@pytest.mark.parametrize("content_type,body", [
    ("text/plain", "Ungültige Anfrage".encode()),
    ("text/plain; charset=ISO-8859-1", "Ungültige Anfrage".encode("latin-1")),
    ("text/plain; charset=no-such-codec", "Ungültige Anfrage".encode()),
])
@responses.activate
def test_an_error_body_is_decoded_as_declared_else_as_utf8(content_type, body):
    responses.get(URL, status=400, body=body, content_type=content_type)
    http, _ = client()
    with pytest.raises(HttpStatusError) as e:
        http.get(URL)
    assert e.value.text == "Ungültige Anfrage"


def _unreachable(reason):
    pool = urllib3.HTTPConnectionPool("eutils.example")
    return requests.ConnectionError(urllib3.exceptions.MaxRetryError(pool, "/", reason))


@pytest.mark.parametrize("error,text", [
    (_unreachable(urllib3.exceptions.NewConnectionError(None, "[Errno 111] Connection refused")), "could not connect"),
    (_unreachable(urllib3.exceptions.NameResolutionError("eutils.example", None, OSError("no such host"))),
     "could not resolve the host name"),
])
@responses.activate
def test_an_unreachable_service_is_retried_briefly(error, text):
    for _ in range(5):
        responses.get(URL, body=error)
    http, slept = client()
    with pytest.raises(Unreachable, match=rf"failed after 2 attempts \(last: {text}\)"):
        http.get(URL)
    assert len(slept) == 1 and sum(slept) <= http.connect_backoff  # not the long backoff of 5 attempts


@responses.activate
def test_a_refused_attempt_does_not_use_up_a_rate_limit_slot():
    refused = _unreachable(urllib3.exceptions.NewConnectionError(None, "[Errno 111] Connection refused"))
    responses.get(URL, body=refused)
    responses.get(URL, body="ok")
    slept = []
    http = HttpClient(per_second=1, sleep=slept.append)  # one request a second
    assert http.get(URL).text == "ok"  # a server restarting: the second attempt reaches it
    assert len(slept) == 1 and max(slept) <= http.connect_backoff  # no 1 s wait for the limiter


@pytest.mark.parametrize("error,text", [(requests.ReadTimeout(), "timed out"),
                                        (requests.ConnectTimeout(), "timed out connecting"),
                                        (requests.ConnectionError("Connection reset by peer"), "connection reset")])
@responses.activate
def test_timeouts_and_resets_keep_the_long_backoff(error, text):
    for _ in range(3):
        responses.get(URL, body=error)
    http, slept = client(max_attempts=3, backoff=1.0)
    with pytest.raises(ServiceUnavailable, match=rf"\(last: {text}\)"):
        http.get(URL)
    assert 0.5 <= slept[0] <= 1 and 1 <= slept[1] <= 2


@responses.activate
def test_a_malformed_url_is_not_retried():
    http, slept = client()
    with pytest.raises(HttpError, match=r"^http:// : InvalidURL"):
        http.get("http:// ")
    assert slept == [] and http.stats.requests == 1


@responses.activate
def test_a_body_over_the_limit_is_refused():
    responses.get(URL, body=b"x" * 5000)
    http, _ = client(max_bytes=1000)
    with pytest.raises(ResponseTooLarge, match=r"esearch.fcgi sent a body larger than the 1000 bytes accepted"):
        http.get(URL)


@responses.activate
def test_a_secret_cut_at_the_end_of_a_long_error_body_is_dropped_not_shown_in_part():
    responses.get(URL, status=400, body=" " * (ERROR_BODY_BYTES - 8) + "KEYPART-and-the-rest-of-it")
    http, _ = client()
    with pytest.raises(HttpError) as e:
        http.get(URL, params={"api_key": "KEYPART-and-the-rest-of-it"})
    assert str(e.value).endswith("HTTP 400: (empty body)")


@responses.activate
def test_no_retry_is_waited_for_past_the_deadline():
    responses.get(URL, status=503, headers={"Retry-After": "30"})
    http, slept = client(total_timeout=10)
    with pytest.raises(DeadlineExceeded, match=r"esearch.fcgi has no time left to retry within the 10 s allowed "
                                               r"for one request \(last: HTTP 503\)"):
        http.get(URL)
    assert slept == []


def test_a_deadline_counts_down_on_the_monotonic_clock():
    now = [100.0]
    deadline = Deadline(5, clock=lambda: now[0])
    assert deadline.remaining() == 5 and not deadline.expired
    deadline.check()
    now[0] = 106.0
    assert deadline.remaining() == 0 and deadline.expired
    with pytest.raises(DeadlineExceeded, match="^the run: the time budget of 5 s is spent$"):
        deadline.check()


# --- The retry policy on its own -------------------------------------------------------------

def test_the_retry_policy_waits_exponentially_longer_up_to_its_cap():
    retry = Retry(backoff=1.0, max_backoff=6.0)
    for attempt, cap in [(1, 1.0), (2, 2.0), (3, 4.0), (4, 6.0), (5, 6.0)]:
        assert cap / 2 <= retry.next_delay(attempt) <= cap


def test_the_retry_policys_jitter_stays_within_half_the_delay_and_the_delay():
    delays = [Retry(backoff=2.0).next_delay(3) for _ in range(200)]
    assert all(4.0 <= delay <= 8.0 for delay in delays)
    assert len(set(delays)) > 100  # full jitter: clients that failed together do not retry together


def test_the_retry_policy_honours_retry_after_in_seconds_or_as_a_date_up_to_its_cap():
    retry = Retry(backoff=1.0, max_backoff=60.0)
    assert retry.next_delay(4, retry_after="7") == 7.0  # not the 4 to 8 s of the fourth retry
    assert retry.next_delay(1, retry_after="3600") == 60.0
    in_30_s = email.utils.formatdate(time.time() + 30, usegmt=True)
    assert 28 <= retry.next_delay(1, retry_after=in_30_s) <= 30
    assert 0.5 <= retry.next_delay(1, retry_after="soon, maybe") <= 1.0  # unreadable: the usual backoff
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0 and parse_retry_after(None) is None


def test_the_retry_policy_gives_up_fast_on_a_service_it_cannot_reach():
    retry = Retry(attempts=5, connect_backoff=0.25, unreachable_attempts=2)
    assert retry.should_retry(1, unreachable=1)  # a server restarting gets a second chance
    assert not retry.should_retry(2, unreachable=2)  # not the five attempts of an overloaded one
    assert 0.125 <= retry.next_delay(1, refused=True) <= 0.25  # and not its 1 s wait either


def test_the_retry_policy_stops_when_its_attempts_are_spent():
    retry = Retry(attempts=3)
    assert [retry.should_retry(attempt) for attempt in (1, 2, 3)] == [True, True, False]
    assert retry.retries_status(503) and retry.retries_status(429) and not retry.retries_status(404)


def test_a_clients_settings_make_its_retry_policy():
    assert HttpClient(max_attempts=3, backoff=0.5, unreachable_attempts=1).retry == \
        Retry(attempts=3, backoff=0.5, unreachable_attempts=1)
