"""The digest is delivered at most once per event, whatever the mail server does: it is
recorded before it is handed over, so a server that takes the message and then drops the
connection, or a disk that fills after the send, never makes it go twice; a partly refused
recipient list is said as such; the conversation has a deadline; and the database's write
lock is not held while the mail server is waited on.

The servers are raw-socket stand-ins on 127.0.0.1 (tests/smtp_servers.py); the events come
from live fetches of a ClinicalTrials.gov stand-in serving real studies, the second with a
real trial's newer record (it completed and posted results)."""

import shutil
import sqlite3
import threading

import pytest
import responses
from click.testing import CliRunner

from litwatch import api
from litwatch.cli import cli
from litwatch.config import Config
from litwatch.catalog import open_db

from conftest import FIXTURES, within
from ctgov_standin import CtgovStandin, load_studies, nct_id
from smtp_servers import Script, smtp_env, smtp_server
from test_report import DTX, TOML

BASE = "http://ctgov.test/api/v2"
EVENTS = 7  # what the second fetch brought: NCT04040387's status, results, phase, enrollment and dates


@pytest.fixture(scope="module")
def watched(prebuilt):
    """A database with events not sent yet: two live fetches of the digital-therapeutics topic
    (made once per test run; each test copies it)."""
    def build(folder):
        path = folder / "litwatch.db"
        ctgov = CtgovStandin(load_studies())
        config = Config(topics=(DTX,), urls={"ctgov": BASE})
        with responses.RequestsMock() as rsps, pytest.MonkeyPatch.context() as m:
            m.setattr("litwatch.http.time.sleep", lambda seconds: None)
            ctgov.add_to(rsps, BASE)
            assert api.fetch(path, config, sources=["ctgov"], full=True, follow=False)["status"] == "success"
            newer = load_studies("ctgov_NCT04040387_completed_with_results_derived.json")[0]
            ctgov.studies = [newer if nct_id(s) == nct_id(newer) else s for s in ctgov.studies]
            assert api.fetch(path, config, sources=["ctgov"], full=True, follow=False)["status"] == "success"
    return prebuilt("delivery", build) / "litwatch.db"


@pytest.fixture
def db(watched, tmp_path):
    copy = tmp_path / "litwatch.db"
    shutil.copy(watched, copy)
    (tmp_path / "litwatch.toml").write_text(TOML)
    return copy


def env(server, to="a@example.org,b@example.org"):
    return smtp_env(server, LITWATCH_NOTIFY_TO=to)


def notify(db, server, *args, **kw):
    return CliRunner().invoke(cli, ["--db", str(db), "--config", str(db.parent / "litwatch.toml"), "notify", *args],
                              env=env(server, **kw))


def digests(db):
    with open_db(db, readonly=True) as conn:
        return conn.execute("SELECT status, events, detail FROM digests ORDER BY prepared_at").fetchall()


def test_a_server_that_drops_the_connection_after_taking_the_message_gets_it_once(db):
    with smtp_server(Script(after_data="drop")) as server:
        first = notify(db, server)
        again = notify(db, server)
    assert first.exit_code == 1 and len(first.output.splitlines()) == 1
    assert first.output.startswith(f"Error: the digest was handed to 127.0.0.1:{server.port}, then the server closed "
                                   f"the connection: it may have arrived, so its {EVENTS} event(s) are not sent again")
    assert again.exit_code == 0 and again.output == "Nothing new to send.\n"
    assert len(server.messages) == 1
    assert digests(db) == [("unconfirmed", EVENTS, "the server closed the connection")]


def test_a_connection_reset_after_the_250_is_a_sent_digest(db):
    with smtp_server(Script(after_data="250-drop")) as server:
        first = notify(db, server)
        again = notify(db, server)
    assert first.exit_code == 0 and first.output == (f"Sent a digest of {EVENTS} event(s) to a@example.org, "
                                                     f"b@example.org\n")
    assert again.output == "Nothing new to send.\n" and len(server.messages) == 1
    assert digests(db) == [("sent", EVENTS, None)]


def test_a_disk_that_fills_after_the_send_never_makes_it_go_twice(db, monkeypatch):
    def full_disk(conn, digest, outcome):
        raise sqlite3.OperationalError("database or disk is full")
    with smtp_server() as server:
        with monkeypatch.context() as m:
            m.setattr("litwatch.notify.settle", full_disk)
            first = notify(db, server)
        again = notify(db, server)
        assert first.exit_code == 1 and len(first.output.splitlines()) == 1
        assert first.output.startswith(f"Error: the digest of {EVENTS} event(s) was handed to the mail server, and "
                                       f"recording that failed (database or disk is full): its events are not sent "
                                       f"again")
        assert again.output == "Nothing new to send.\n" and len(server.messages) == 1
        assert digests(db) == [("sending", EVENTS, None)]
        # an hour later, the next notify settles what the stopped one could not record
        with sqlite3.connect(db) as conn:
            conn.execute("UPDATE digests SET prepared_at = '2020-01-01T00:00:00Z'")
        later = notify(db, server)
    assert later.exit_code == 0 and len(server.messages) == 1
    assert f"WARNING the digest of {EVENTS} event(s) handed to the mail server at 2020-01-01T00:00:00Z" in later.stderr
    assert "it may have arrived, so its events are not sent again" in later.stderr
    assert digests(db) == [("unconfirmed", EVENTS, "litwatch stopped before the server's answer was recorded")]


def test_a_partly_refused_recipient_list_is_said_as_such(db):
    with smtp_server(Script(refuse=frozenset({"b@example.org"}))) as server:
        result = notify(db, server)
        again = notify(db, server)
    assert result.exit_code == 3
    assert result.output == (f"Sent a digest of {EVENTS} event(s) to a@example.org; refused by the server, not sent "
                             f"to: b@example.org (550 5.1.1 <b@example.org>: mailbox unavailable)\n")
    (message,) = server.messages
    assert message.recipients == ["a@example.org"] and again.output == "Nothing new to send.\n"
    assert digests(db) == [("sent", EVENTS, "refused b@example.org: 550 5.1.1 <b@example.org>: mailbox unavailable")]


def test_a_list_refused_whole_keeps_the_events_for_next_time(db):
    with smtp_server(Script(refuse=frozenset({"a@example.org", "b@example.org"}))) as server:
        refused = notify(db, server)
    assert refused.exit_code == 1 and len(refused.output.splitlines()) == 1
    assert "the server refused every recipient: a@example.org (550 5.1.1 <a@example.org>: " in refused.output
    assert f"its {EVENTS} event(s) stay unsent for the next `litwatch notify`" in refused.output
    with smtp_server() as server:
        sent = notify(db, server)
    assert sent.exit_code == 0 and len(server.messages) == 1
    assert [status for status, _, _ in digests(db)] == ["refused", "sent"]


@pytest.mark.slow
def test_a_trickled_greeting_is_cut_off_at_the_deadline_without_holding_the_lock(db, monkeypatch):
    monkeypatch.setattr("litwatch.notify.SMTP_DEADLINE", 1.0)
    outcome = []
    with smtp_server(Script(trickle=0.05)) as server:
        sending = threading.Thread(target=lambda: outcome.append(_notify_outcome(db, server)))
        with within(3.0):
            sending.start()
            while not server.connections:  # notify is waiting on the mail server now...
                server.pause(0.01)
            writer = CliRunner().invoke(cli, ["--db", str(db), "import", str(FIXTURES / "pubmed-29768149.xml")])
            assert writer.exit_code == 0, writer.output  # ...and a writer started meanwhile is not refused
            assert sending.is_alive()
            sending.join(2.5)
        assert not sending.is_alive() and server.ended.wait(1), "the conversation outlived its deadline"
    (error,) = outcome
    assert str(error) == (f"cannot send the digest through 127.0.0.1:{server.port}: no complete answer within the "
                          f"1 s allowed for the conversation; its {EVENTS} event(s) stay unsent for the next "
                          f"`litwatch notify`")
    assert digests(db) == [("refused", EVENTS, "no complete answer within the 1 s allowed for the conversation")]


def _notify_outcome(db, server):
    from litwatch.config import load_config

    try:
        return api.notify(db, load_config(db.parent / "litwatch.toml", env=env(server)))
    except Exception as e:
        return e


@pytest.mark.parametrize("security", ["starttls", "ssl"])
def test_the_digest_goes_out_over_tls_checked_against_the_host_name(db, security, tmp_path, monkeypatch):
    from aiosmtpd.controller import Controller

    from smtp_servers import Inbox, free_port, tls_context

    context = tls_context(tmp_path)
    monkeypatch.setenv("SSL_CERT_FILE", str(tmp_path / "cert.pem"))  # trusted as a system CA would be
    inbox = Inbox()
    options = {"ssl_context": context} if security == "ssl" else {"tls_context": context, "require_starttls": True}
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port(), **options)
    controller.start()
    try:
        result = CliRunner().invoke(cli, ["--db", str(db), "--config", str(db.parent / "litwatch.toml"), "notify"],
                                    env={**env(controller), "LITWATCH_SMTP_SECURITY": security})
    finally:
        controller.stop()
    assert result.exit_code == 0, result.output
    assert len(inbox.messages) == 1 and digests(db) == [("sent", EVENTS, None)]
