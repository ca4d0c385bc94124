"""One rule for every copy of a record, whatever source, shape or order it arrives in.

A record often arrives several times: from a search page and by ID, as a full copy and as a
field-limited one (Europe PMC's core, lite and ID-list results; a ClinicalTrials.gov study by ID
and inside a ``fields=`` page), as XML and as a MEDLINE text export, in any order. Each source
says three things of a copy, and this module decides from them alone, never from which copy
came last:

- its **recency**: values the copy states about when it was revised (a revision date, a last
  update posted, a data version). Two copies are compared only on the values both state; the
  first that differs decides.
- its **shape**: how much a copy of its kind can carry (an ID list < lite < core; a field-limited
  page < a whole study). A poorer copy never erases what a richer one brought.
- what it **says** of its own state when recency cannot tell (PubMed's indexing status), and
  last its content itself, so that two copies of the same date end the same way in either order.

The verdict is to take the incoming copy, keep the stored one, or lay one over the other field
by field (:func:`layered`): the winner's values replace the loser's field by field, and a field
the winner lacks keeps the loser's value. A source whose copies are whole documents it can read
again (JSON) gets the layered copy; for one that cannot, layering falls back to the winner.
"""

from __future__ import annotations

from enum import Enum
from typing import Any, Sequence


class Verdict(Enum):
    TAKE = "take"  # the incoming copy replaces the stored one
    KEEP = "keep"  # the stored copy stays
    OVER_STORED = "incoming over stored"  # the incoming copy's fields win, the stored one fills in
    UNDER_STORED = "stored over incoming"  # the stored copy's fields win, the incoming one fills in


def compare(mine: Sequence[Any], theirs: Sequence[Any]) -> int:
    """1 when ``mine`` states a later value than ``theirs``, -1 an earlier one, 0 when no value
    both state tells them apart (position by position, the first that differs decides)."""
    for a, b in zip(mine, theirs, strict=True):
        if a is None or b is None or a == b:
            continue
        return 1 if a > b else -1
    return 0


def verdict(recency: tuple[Sequence[Any], Sequence[Any]], shape: tuple[int, int], full: int,
            says: tuple[Sequence[Any], Sequence[Any]], digest: tuple[str, str]) -> Verdict:
    """How the incoming copy (first of each pair) and the stored one (second) combine. A copy
    of the ``full`` shape carries everything, so what it lacks is absent; a poorer one's gaps
    are only what its kind does not carry, and never erase a value."""
    mine, theirs = shape
    newer = compare(*recency)
    if newer > 0:
        return Verdict.TAKE if mine >= full else Verdict.OVER_STORED
    if newer < 0:
        return Verdict.KEEP if theirs >= full else Verdict.UNDER_STORED
    if mine != theirs:
        return Verdict.OVER_STORED if mine > theirs else Verdict.UNDER_STORED
    wins = (compare(*says) or compare([digest[0]], [digest[1]])) > 0
    if mine >= full:
        return Verdict.TAKE if wins else Verdict.KEEP
    return Verdict.OVER_STORED if wins else Verdict.UNDER_STORED


def layered(base: Any, top: Any) -> Any:
    """``top`` laid over ``base``, field by field: a key ``top`` lacks keeps ``base``'s value;
    objects are merged key by key; lists of objects of the same length, item by item (a
    field-limited page lists a study's sites with fewer fields each); any other value is
    ``top``'s."""
    if isinstance(base, dict) and isinstance(top, dict):
        out = dict(base)
        for key, value in top.items():
            out[key] = layered(base[key], value) if key in base else value
        return out
    if (isinstance(base, list) and isinstance(top, list) and len(base) == len(top)
            and all(isinstance(x, dict) for x in base + top)):
        return [layered(b, t) for b, t in zip(base, top, strict=True)]
    return top
