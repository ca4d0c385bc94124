"""Bounded input: a hostile or damaged file is refused within seconds and bounded memory,
with one line naming it, and what is stored stays as it was.

Each case is a real fixture with one edit made here (a gzip bomb, a truncated copy, bytes
after the gzip data, a record that never ends), or a file that is not one at all (a named
pipe, a device, a sparse file of zeros).
"""

import gzip
import json
import os
import resource
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from litwatch.cli import cli
from litwatch.errors import ParseError
from litwatch.files import MAX_RECORD_BYTES
from litwatch.sync import import_file

from conftest import FIXTURES, count, within

REAL_XML = FIXTURES / "pubmed21n1298_34094707.xml"
REAL_JSON = FIXTURES / "page_single_NCT06341426.json"


def open_array() -> bytes:
    """A website download of the real study, its closing bracket not yet written."""
    return json.dumps(json.loads(REAL_JSON.read_bytes())["studies"]).encode()[:-1]


def refused(db, path) -> str:
    with pytest.raises(ParseError) as e:
        import_file(db, path)
    message = str(e.value)
    assert "\n" not in message and message.startswith(str(path))
    return message


def test_a_gzip_bomb_is_refused_before_it_fills_memory(tmp_path):
    bomb = tmp_path / "bomb.xml.gz"
    blanks = gzip.compress(b" " * (1 << 20), compresslevel=9)  # gzip members concatenate
    bomb.write_bytes(gzip.compress(REAL_XML.read_bytes()[:200]) + blanks * 1024)  # a real head, 1 GB of blanks
    assert bomb.stat().st_size < 2 << 20
    code = (f"import resource; from litwatch.catalog import open_db; from litwatch.sync import import_file\n"
            f"try: import_file(open_db({str(tmp_path / 'x.db')!r}), {str(bomb)!r})\n"
            f"except Exception as e: print(e)\n"
            # The child's own peak: ru_maxrss would also hold the test process's, kept across exec.
            f"try: print(next(line for line in open('/proc/self/status') if line.startswith('VmHWM:')).split()[1])\n"
            f"except OSError: print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)")
    with within(20):
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                             check=True).stdout.splitlines()
    assert "gzip bomb" in out[0]
    assert int(out[1]) < 300 * 1024  # KB: the window checked, not the gigabyte


def test_a_json_gzip_bomb_is_refused_too(db, tmp_path):
    bomb = tmp_path / "bomb.json.gz"
    bomb.write_bytes(gzip.compress(b'{"studies": [') + gzip.compress(b" " * (1 << 20), compresslevel=9) * 256)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    assert "gzip bomb" in refused(db, bomb)
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 200 * 1024


def test_truncated_gzip_and_trailing_garbage_are_named(db, tmp_path):
    whole = gzip.compress(REAL_XML.read_bytes())
    truncated = tmp_path / "truncated.xml.gz"
    truncated.write_bytes(whole[: len(whole) // 2])
    assert "truncated" in refused(db, truncated)
    garbage = tmp_path / "garbage.xml.gz"
    garbage.write_bytes(whole + b"this is not gzip")
    assert "trailing garbage" in refused(db, garbage)
    assert count(db, "articles") == 0


def test_a_pipe_and_a_device_are_refused_before_a_byte_is_read(db, tmp_path):
    fifo = tmp_path / "records.xml"
    os.mkfifo(fifo)  # opening it to read would block forever with no writer
    assert "named pipe" in refused(db, fifo)
    with pytest.raises(ParseError, match="a device, not a regular file"):
        import_file(db, "/dev/zero")


def test_a_sparse_file_of_zeros_is_refused_at_once(db, tmp_path):
    sparse = tmp_path / "studies.json"
    with open(sparse, "wb") as f:
        f.truncate(20 << 30)  # 20 GB that take no disk
    with within(5):
        assert "not PubMed XML, MEDLINE text or JSON" in refused(db, sparse)


def test_a_json_array_that_turns_to_zeros_fails_at_the_damage(db, tmp_path):
    damaged = tmp_path / "studies.json"
    with open(damaged, "wb") as f:
        f.write(open_array())
        f.write(b",")
        f.truncate(4 << 30)
    with within(5):
        assert "malformed JSON" in refused(db, damaged)


def test_a_study_that_never_ends_is_refused_at_the_record_bound(db, tmp_path, monkeypatch):
    monkeypatch.setattr("litwatch.sources.ctgov.parse.MAX_RECORD_BYTES", 4 << 20)  # the rule, at a test's scale
    endless = tmp_path / "studies.json"
    with open(endless, "wb") as f:
        f.write(open_array())
        f.write(b', {"protocolSection": {"identificationModule": {"nctId": "NCT06341427", "briefTitle": "')
        f.write(b"a" * (5 << 20))
    assert "a study larger than 4 MB" in refused(db, endless)
    assert count(db, "trials") == 0  # the batch holding the good study was never complete


def test_a_pubmed_record_that_never_ends_is_refused_with_its_line(db, tmp_path):
    text = REAL_XML.read_text(encoding="utf-8")
    head, rest = text.split("<AbstractText", 1)
    endless = tmp_path / "endless.xml"
    with open(endless, "w", encoding="utf-8") as f:
        f.write(head + "<AbstractText>")
        for _ in range((MAX_RECORD_BYTES >> 20) + 2):
            f.write("<i>x</i>" * (1 << 17))
    message = refused(db, endless)
    assert "a record larger than any real record" in message and "at line" in message


def test_malformed_xml_names_the_line_and_column_in_the_file(db, tmp_path):
    lines = REAL_XML.read_text(encoding="utf-8").splitlines(keepends=True)
    at = next(i for i, line in enumerate(lines) if "<ArticleTitle>" in line)
    lines[at] = lines[at].replace("<ArticleTitle>", "<ArticleTitle><broken", 1)
    damaged = tmp_path / "damaged.xml"
    damaged.write_text("".join(lines), encoding="utf-8")
    message = refused(db, damaged)
    assert f"malformed XML at line {at + 1}, column" in message


def test_the_cli_names_a_refused_file_once_and_keeps_what_is_stored(tmp_path):
    db = tmp_path / "l.db"
    runner = CliRunner()
    assert runner.invoke(cli, ["--db", str(db), "import", str(REAL_XML)]).exit_code == 0
    bad = tmp_path / "truncated.xml.gz"
    bad.write_bytes(gzip.compress(REAL_XML.read_bytes())[:300])
    result = runner.invoke(cli, ["--db", str(db), "import", str(bad)])
    assert result.exit_code == 1
    (line,) = [line for line in result.output.splitlines() if line.startswith("Error:")]
    assert line.count("truncated.xml.gz") == 1 and "truncated" in line
    from litwatch.catalog import open_db
    assert count(open_db(db), "articles") == 1


MEDLINE = FIXTURES / "pubmed_export_blachlylab.nbib"
ACCENTED = "Ibrutinib – Müller’s"  # an edit: characters Windows-1252 and UTF-8 write differently


def medline_with_title(tmp_path, encode) -> Path:
    text = MEDLINE.read_text(encoding="utf-8").replace("TI  - Ibrutinib", f"TI  - {ACCENTED}", 1)
    path = tmp_path / "export.nbib"
    path.write_bytes(encode(text))
    return path


def stored_title(db) -> str:
    return db.execute("SELECT title FROM articles WHERE pmid = 30501481").fetchone()[0]


def test_medline_text_in_windows_1252_is_read_as_such_and_said(db, tmp_path, caplog):
    import_file(db, medline_with_title(tmp_path, lambda t: t.encode("cp1252")))
    assert stored_title(db).startswith(ACCENTED)
    assert "not UTF-8 text; read as Windows-1252" in caplog.text


def test_medline_text_with_a_byte_order_mark_is_utf8(db, tmp_path, caplog):
    import_file(db, medline_with_title(tmp_path, lambda t: t.encode("utf-8-sig")))
    assert stored_title(db).startswith(ACCENTED) and count(db, "articles") == 2
    assert "WARNING" not in caplog.text


def test_a_stray_byte_in_utf8_medline_is_replaced_and_counted(db, tmp_path, caplog):
    path = medline_with_title(tmp_path, lambda t: t.encode("utf-8").replace(b"Ibrutinib", b"Ibru\xfftinib", 1))
    import_file(db, path)
    assert stored_title(db).startswith("Ibru\ufffdtinib – Müller’s")  # the rest still UTF-8
    assert "1 byte was not valid UTF-8, read as U+FFFD" in caplog.text


@pytest.mark.parametrize("shape", [
    b'{"studies": [%s]}',             # an API page, streamed
    b'[%s]',                          # a website download, streamed
    b'{"protocolSection": %s}',       # one study, read whole
    b'{"hitCount": 1, "resultList": {"result": [%s]}}',  # a Europe PMC page, read whole
])
def test_json_nested_without_end_is_refused_at_once(db, tmp_path, shape):
    deep = tmp_path / "deep.json"
    deep.write_bytes(shape % (b"[" * 200_000 + b"]" * 200_000))
    with within(5):
        assert "nested" in refused(db, deep)


def test_a_page_with_other_keys_and_non_study_items_stores_the_studies(db, tmp_path, caplog):
    studies = json.loads(REAL_JSON.read_bytes())["studies"]
    page = tmp_path / "page.json"
    page.write_text(json.dumps({"nextPageToken": "x", "extra": [1, {"a": 2}], "studies": studies + [7, None]}))
    result = import_file(db, page)
    assert (result.counts.received, result.counts.skipped, count(db, "trials")) == (3, 2, 1)
    assert "study 2: a number, not a study object" in caplog.text
    assert "study 3: null, not a study object" in caplog.text


def test_a_medline_line_that_never_ends_is_refused_at_its_number(db, tmp_path, monkeypatch):
    monkeypatch.setattr("litwatch.sources.pubmed.medline.MAX_LINE_CHARS", 2 << 20)  # the rule, at a test's scale
    path = tmp_path / "export.nbib"
    with open(path, "wb") as f:
        f.write(MEDLINE.read_bytes().split(b"\nAB  - ", 1)[0] + b"\nAB  - ")
        f.write(b"x" * (3 << 20))  # a field of gigabytes, at a test's scale: no newline comes
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    message = refused(db, path)
    assert "line" in message and "longer than any MEDLINE line" in message
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 100 * 1024


# The configuration goes through the same door: regular files only, and a bound on its size.

def test_the_configuration_is_refused_when_not_a_regular_file_or_too_large(tmp_path):
    fifo = tmp_path / "litwatch.toml"
    os.mkfifo(fifo)  # read as it was, it would wait forever for a writer
    sparse = tmp_path / "huge.toml"
    with open(sparse, "wb") as f:
        f.truncate(20 << 30)  # 20 GB that take no disk
    for config, said in (("/dev/zero", "a device, not a regular file"), (fifo, "a named pipe, not a regular file"),
                         (sparse, "larger than 1024 KB")):
        with within(5):
            result = CliRunner().invoke(cli, ["--db", str(tmp_path / "l.db"), "--config", str(config), "fetch"])
        assert result.exit_code == 2
        (line,) = result.output.splitlines()
        assert line.startswith(f"Error: config {config}: ") and said in line


def test_the_configuration_from_dev_zero_costs_no_memory():
    """Read whole, /dev/zero took all of a machine's memory (23.5 GB): now a bounded read, refused."""
    code = ("import resource, sys\nfrom litwatch.config import load_config\n"
            "resource.setrlimit(resource.RLIMIT_AS, (2 << 30, 2 << 30))\n"  # were it read whole, fail, not swap
            "try: load_config('/dev/zero')\nexcept Exception as e: print(e)\n"
            # this process's own peak (ru_maxrss can carry the forking parent's)
            "print(next(line.split()[1] for line in open('/proc/self/status') if line.startswith('VmHWM')))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    out = done.stdout.splitlines()
    assert len(out) == 2 and "a device, not a regular file" in out[0], done.stdout + done.stderr
    assert int(out[1]) < 200 * 1024  # KB
