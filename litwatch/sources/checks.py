"""What a record must be for litwatch to store it, checked alike by every parser.

A record whose key has the wrong shape, whose structure is not the one its service
documents, or that holds a value no column can take (text too large to be real, an integer
outside SQLite's range) is *malformed*: its parser raises
:class:`~litwatch.errors.BadRecord`, the source skips it, counts it in the run's ``skipped``
and names it in one warning line (:class:`~litwatch.sources.base.Skipped`), and the records
around it are stored. One bad record never stops a run.
"""

from __future__ import annotations

import json
import logging
import re
from typing import Any, Callable, Iterable, Sequence

from ..errors import BadRecord, ParseError
from ..redact import excerpt

log = logging.getLogger(__name__)

# NLM, "MEDLINE/PubMed XML Element Descriptions and their Attributes", <PMID>: "a 1 to
# 8-digit accession number with no leading zeros"
# (https://www.nlm.nih.gov/bsd/licensee/elements_descriptions.html#pmid). PMIDs passed
# 40,000,000 in 2025; a ninth digit is headroom for when eight run out, and keeps every PMID
# far inside SQLite's 64-bit integers (a 20-digit "PMID" overflowed them).
_PMID = re.compile(r"[0-9]{1,9}")
# ClinicalTrials.gov's NCT Number: "NCT" followed by 8 digits.
_NCT = re.compile(r"NCT[0-9]{8}")
# An NCT Number written in a paper's text ("NCT 01234567" too): ASCII digits only.
NCT_IN_TEXT = re.compile(r"\bNCT\s?([0-9]{8})\b", re.IGNORECASE | re.ASCII)
# The largest text one field of a record may hold. Real fields are far smaller (the longest
# PubMed abstracts are tens of kilobytes; ClinicalTrials.gov caps a detailed description at
# 32,000 characters): a megabyte title is an attack or a corrupt record, and storing it
# would weigh on every search, report and export. The record's raw copy is not bounded
# here (a study with results is legitimately megabytes); the input readers bound that.
MAX_TEXT = 1 << 20
_INT64 = (-(1 << 63), (1 << 63) - 1)


def pmid(value: Any) -> int | None:
    """``value`` as a PMID: a positive whole number of at most 9 digits (surrounding
    whitespace ignored), or None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if 0 < value < 10 ** 9 else None
    if not isinstance(value, str):
        return None
    value = value.strip()
    if not _PMID.fullmatch(value):
        return None
    return int(value) or None


def require_pmid(value: Any) -> int:
    """``value`` as a PMID; :class:`BadRecord` naming it as given when it is not one."""
    number = pmid(value)
    if number is None:
        raise BadRecord(f"PMID {shown(value)} is not a PubMed ID (a whole number from 1 to 999999999)")
    return number


def nct_id(value: Any) -> str | None:
    """``value`` as an NCT ID, or None. Surrounding whitespace and lower-case letters are the
    only repairs made: either way the ID meant is unambiguous."""
    if not isinstance(value, str):
        return None
    value = value.strip().upper()
    return value if _NCT.fullmatch(value) else None


def require_nct_id(value: Any) -> str:
    """``value`` as an NCT ID; :class:`BadRecord` naming it as given when it is not one."""
    found = nct_id(value)
    if found is None:
        raise BadRecord(f"NCT ID {shown(value)} is not NCT followed by 8 digits")
    return found


def askable(values: Iterable[Any], check: Callable[[Any], Any], service: str, kind: str) -> list[Any]:
    """The distinct IDs among ``values`` that pass ``check`` (a normalizer returning None for
    a value of another shape), in order; each other value is left out with a warning, since
    one sent would make the service refuse the whole request, on every run."""
    wanted = []
    for value in values:
        found = check(value)
        if found:
            wanted.append(found)
        else:
            log.warning("%s: not asked for %s: not %s", service, shown(value), kind)
    return list(dict.fromkeys(wanted))


def count(value: Any) -> int | None:
    """A count a service reports (a number, or digits in a string), or None when it is not one."""
    if isinstance(value, str):
        text = value.strip()
        value = int(text) if text.isascii() and text.isdigit() and len(text) <= 18 else None
    if isinstance(value, bool) or not isinstance(value, int):
        return None
    return value if 0 <= value < 10 ** 18 else None


def shown(value: Any) -> str:
    """A value read from outside, quoted for a one-line message (control characters escaped,
    cut short)."""
    if value is None:
        return "(none)"
    if isinstance(value, str):
        return f"'{excerpt(value, 40)}'"
    return f"{kind(value)} {excerpt(repr(value), 40)}"


def kind(value: Any) -> str:
    """What a JSON value is, in JSON's words."""
    names = {dict: "an object", list: "a list", str: "a string", bool: "a boolean", int: "a number",
             float: "a number", type(None): "null"}
    return names.get(type(value), type(value).__name__)


def check_row(table: str, names: Sequence[str], values: Sequence[Any], skip: tuple[str, ...] = ()) -> None:
    """Refuse a row holding a value no column can take: text longer than :data:`MAX_TEXT`, an
    integer outside SQLite's 64-bit range, or anything but text, a number or NULL. Columns in
    ``skip`` (a record's raw copy) are not checked."""
    for name, value in zip(names, values, strict=True):
        if value is None or name in skip:
            continue
        if isinstance(value, str):
            if len(value) > MAX_TEXT:
                raise BadRecord(f"{table}.{name} is {len(value):,} characters long, more than the "
                                f"{MAX_TEXT:,} a real record's field holds")
        elif isinstance(value, (bool, float)):
            continue
        elif isinstance(value, int):
            if not _INT64[0] <= value <= _INT64[1]:
                raise BadRecord(f"{table}.{name} is a {len(str(value))}-digit number, too large to store")
        else:
            raise BadRecord(f"{table}.{name} is {kind(value)}, not text or a number")


def check_record(record: dict[str, Any], skip: tuple[str, ...] = ("raw",)) -> None:
    """:func:`check_row` over a parsed record given as ``{table: row or [rows]}`` of dicts."""
    for table, rows in record.items():
        for row in ([rows] if isinstance(rows, dict) else rows):
            check_row(table, list(row), list(row.values()), skip)


def check_rows(table: str, names: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
    """:func:`check_row` over rows given as tuples in ``names`` order."""
    for row in rows:
        check_row(table, names, row)


def json_value(body: bytes | str) -> Any:
    """Parse a whole JSON body; malformed JSON, and JSON nested too deeply for Python's
    parser (damaged or hostile: records nest a few levels), is a :class:`ParseError`."""
    try:
        return json.loads(body)
    except (ValueError, UnicodeDecodeError) as e:
        raise ParseError(f"malformed JSON: {e}") from None
    except RecursionError:
        raise ParseError("JSON nested too deeply to be records; refused as damaged or hostile") from None
