"""The HTTP layer against hostile servers on 127.0.0.1 (tests/hostile_servers.py): each
case is handled as it should be AND within a few seconds, no deadline thread outlives its
request, and the API key appears in no message and no log line."""

import logging
import threading
import time

import pytest

from litwatch.errors import DeadlineExceeded, HttpError, ResponseTooLarge, ServiceUnavailable
from litwatch.http import Deadline, HttpClient, probe

from conftest import FIXTURES, within
from hostile_servers import (answer, echo_key, echo_request, endless_body, huge_announced, keep_alive_then,
                             redirect, refused_port, routes, serve, trickle_body, trickle_headers)

KEY = "hostile-KEY-0123456789abcdef"


@pytest.fixture(autouse=True)
def no_leaks(caplog):
    """After each test: no deadline timer left running, the key in no log line."""
    caplog.set_level(logging.DEBUG, logger="litwatch")
    yield
    for thread in threading.enumerate():
        if thread.name == "litwatch-deadline":
            thread.join(timeout=1)
            assert not thread.is_alive(), "a deadline timer outlived its request"
    assert KEY not in caplog.text


def client(**kw):
    # Per-operation timeouts longer than the trickle interval: only the deadline can stop it.
    return HttpClient(per_second=0, **{"timeout": (2.0, 2.0), "total_timeout": 1.0, **kw})


def one_line(error):
    text = str(error.value)
    assert "\n" not in text and "\r" not in text and KEY not in text
    return text


@pytest.mark.slow
@pytest.mark.parametrize("server", [trickle_headers(0.2), trickle_body(0.2)], ids=["headers", "body"])
def test_a_trickling_server_is_cut_off_at_the_deadline(server):
    with serve(server) as hostile:
        with within(2.0), pytest.raises(DeadlineExceeded) as error:
            client().get(f"{hostile.url}/esearch.fcgi", params={"api_key": KEY})
        assert hostile.hung_up.wait(1), "the client's socket stayed open"
    assert one_line(error) == f"{hostile.url}/esearch.fcgi did not complete within the 1 s allowed for one request"


@pytest.mark.slow
def test_a_pooled_connection_is_watched_too():
    with serve(keep_alive_then(trickle_headers(0.2))) as hostile:
        http = client()
        assert http.get(f"{hostile.url}/first").text == "ok"
        with within(2.0), pytest.raises(DeadlineExceeded):
            http.get(f"{hostile.url}/second")
    assert [r.path for r in hostile.received] == ["/first", "/second"]  # one connection, both requests


@pytest.mark.slow
def test_the_run_budget_stops_retries_and_refuses_new_requests():
    budget = Deadline(1.0)
    http = client(total_timeout=300, backoff=0.4, budget=budget)
    with serve(answer("503 Service Unavailable", b"busy")) as hostile:
        with within(1.5), pytest.raises(DeadlineExceeded) as error:
            http.get(f"{hostile.url}/studies")
        assert "the run's time budget of 1 s (last: HTTP 503: busy)" in one_line(error)
        time.sleep(budget.remaining())
        asked = len(hostile.received)
        with within(0.5), pytest.raises(DeadlineExceeded, match="studies not started: the time budget of 1 s is spent"):
            http.get(f"{hostile.url}/studies")
        assert len(hostile.received) == asked


@pytest.mark.slow
def test_the_run_budget_cuts_a_trickle_short_of_the_request_deadline():
    with serve(trickle_body(0.2)) as hostile, within(1.0):
        with pytest.raises(DeadlineExceeded, match="did not complete within the run's time budget of 0.5 s"):
            client(total_timeout=300, budget=Deadline(0.5)).get(f"{hostile.url}/x")


@pytest.mark.parametrize("method,status", [("GET", "302 Found"), ("POST", "307 Temporary Redirect"),
                                           ("POST", "308 Permanent Redirect")])
def test_a_redirect_to_another_origin_is_not_followed(method, status):
    with serve(answer("200 OK", b"stolen")) as elsewhere:
        # The hostile server even puts the key it received into the Location.
        bounce = redirect(status, lambda request: f"{elsewhere.url}/steal/{request.params['api_key']}?k=1")
        with serve(bounce) as hostile, within(1.0):
            with pytest.raises(HttpError) as error:
                client().request(method, f"{hostile.url}/efetch.fcgi", params={"db": "pubmed", "api_key": KEY}
                                 if method == "GET" else None, data={"api_key": KEY} if method == "POST" else None)
    assert one_line(error) == (f"{hostile.url}/efetch.fcgi redirected (HTTP {status[:3]}) to "
                               f"{elsewhere.url}/steal/***, another origin; not followed")
    assert error.value.status == int(status[:3])
    assert elsewhere.received == []  # neither the key nor the body went anywhere


def test_a_same_origin_redirect_is_followed_and_a_post_re_sent_only_for_307():
    table = {"/old": redirect("301 Moved Permanently", lambda r: "/new"),
             "/tmp": redirect("307 Temporary Redirect", lambda r: "/new"), "/new": echo_request()}
    with serve(routes(table)) as server, within(1.0):
        http = client()
        assert http.get(f"{server.url}/old").text == "GET "
        assert http.post(f"{server.url}/tmp", data={"id": "1"}).text == "POST id=1"
        assert http.post(f"{server.url}/old", data={"id": "1"}).text == "GET "  # 301: the body is not re-sent


def test_a_same_origin_redirect_keeps_the_url_credentials():
    table = {"/old": redirect("302 Found", lambda r: "/new"), "/new": echo_request()}
    with serve(routes(table)) as server, within(1.0):
        client().get(server.url.replace("http://", "http://reader:pw-hop-77@") + "/old")
    assert [r.headers.get("authorization") for r in server.received] == ["Basic cmVhZGVyOnB3LWhvcC03Nw=="] * 2


def test_a_redirect_loop_is_given_up():
    with serve(redirect("302 Found", lambda r: "/again")) as server, within(1.0):
        with pytest.raises(HttpError, match=r"/start redirected more than 3 times; not followed"):
            client().get(f"{server.url}/start")
    assert len(server.received) == 4


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_a_key_echoed_in_an_error_never_leaves(method):
    with serve(echo_key()) as hostile, within(1.0):
        with pytest.raises(HttpError) as error:
            args = {"params": {"api_key": KEY}} if method == "GET" else {"data": {"api_key": KEY}}
            client().request(method, f"{hostile.url}/esearch.fcgi", **args)
    assert one_line(error) == f"{hostile.url}/esearch.fcgi answered HTTP 400: API key invalid"
    assert hostile.received[0].params["api_key"] == KEY  # it was sent, and echoed


def test_a_key_echoed_by_a_failing_server_stays_out_of_retries_and_logs(caplog):
    with serve(echo_key("500 Internal Server Error")) as hostile, within(2.0):
        with pytest.raises(ServiceUnavailable) as error:
            client(total_timeout=10, backoff=0.05, max_attempts=3).get(f"{hostile.url}/x", params={"api_key": KEY})
    assert one_line(error).endswith("failed after 3 attempts (last: HTTP 500: API key invalid)")
    assert "retrying" in caplog.text  # logged, and the fixture checks it holds no key


def test_an_xml_error_shows_its_error_text_not_the_declaration():
    body = (FIXTURES / "esearch_error_bad_db.xml").read_bytes()  # a real E-utilities error body
    with serve(answer("400 Bad Request", body, "text/xml")) as server, within(1.0):
        with pytest.raises(HttpError) as error:
            client().get(f"{server.url}/esearch.fcgi")
    assert one_line(error).endswith("answered HTTP 400: Invalid db name specified: fleegle")


def test_control_characters_cannot_forge_lines():
    body = b"bad request \x1b[2K\rError: forged\x85line"
    with serve(answer("400 Bad Request", body)) as server, within(1.0):
        with pytest.raises(HttpError) as error:
            client().get(f"{server.url}/x")
    assert one_line(error).endswith(r"answered HTTP 400: bad request \x1b[2K")
    with refused_port() as url, within(2.0):
        with pytest.raises(ServiceUnavailable) as error:
            client().get(f"{url}/ok\nError: forged")
    assert one_line(error).startswith(f"{url}/ok\\nError: forged failed after")


def test_an_endless_body_is_refused_at_the_size_limit():
    with serve(endless_body()) as server, within(2.0):
        with pytest.raises(ResponseTooLarge) as error:
            client(max_bytes=2 ** 20, total_timeout=10).get(f"{server.url}/studies")
    assert one_line(error) == f"{server.url}/studies sent a body larger than the 1 MB accepted; stopped reading"


def test_an_announced_huge_body_is_refused_unread():
    with serve(huge_announced(10 ** 12)) as server, within(1.0):
        with pytest.raises(ResponseTooLarge, match=r"announced a body of 931 GB, more than the 256 MB accepted"):
            client(total_timeout=10).get(f"{server.url}/x")


def test_a_refused_port_fails_fast_with_default_settings():
    with refused_port() as url, within(2.0):
        with pytest.raises(ServiceUnavailable) as error:
            HttpClient(per_second=0).get(f"{url}/esearch.fcgi", params={"api_key": KEY})
    assert one_line(error) == f"{url}/esearch.fcgi failed after 2 attempts (last: could not connect)"


def test_unreachable_attempts_can_be_fewer():
    with refused_port() as url, within(1.0):
        with pytest.raises(ServiceUnavailable, match="failed after 1 attempt "):
            HttpClient(per_second=0, unreachable_attempts=1).get(f"{url}/x")


def test_a_password_in_the_url_is_never_shown():
    with refused_port() as url, within(2.0):
        with pytest.raises(ServiceUnavailable) as error:
            HttpClient(per_second=0).get(url.replace("http://", "http://reader:pw-in-url-42@") + "/x")
    assert one_line(error).startswith("http://***@127.0.0.1:") and "pw-in-url-42" not in str(error.value)


@pytest.mark.slow
def test_probe_answers_quickly_and_never_hangs():
    with refused_port() as url, within(1.0):
        assert probe(url) is False
    with serve(trickle_headers(0.1)) as hostile, within(1.0):
        assert probe(hostile.url, timeout=0.5) is False
    with serve(answer("503 Service Unavailable")) as busy, within(1.0):
        assert probe(busy.url) is True  # it answers: reachable, if unwell
    with serve(redirect("302 Found", lambda r: "http://example.invalid/")) as moved, within(1.0):
        assert probe(moved.url) is True
