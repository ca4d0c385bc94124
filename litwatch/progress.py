"""How the library reports the progress of a long step, without drawing anything: a step
asks a :data:`Meter` for a :class:`Progress` (naming what it does and how many units it
expects, when it knows) and calls it as units get done. The command line draws a bar on a
terminal (:mod:`litwatch.terminal`); a notebook may draw its own; by default nothing happens.

    >>> def meter(what, total, unit):
    ...     return lambda done, note="": print(what, done, unit, note)
    >>> litwatch.import_paths("data/litwatch.db", ["pubmed.xml.gz"], progress=meter)  # doctest: +SKIP
"""

from __future__ import annotations

from typing import Callable, Protocol


class Progress(Protocol):
    def __call__(self, done: int, note: str = "") -> None:
        """``done`` more units since the last call; ``note`` says where the step is ("1,500 records")."""


# (what the step works on, the units it expects or None when unknown, the unit: "records",
# "bytes"...) -> a Progress, or None for no report.
Meter = Callable[[str, "int | None", str], "Progress | None"]


def start(meter: Meter | None, what: str, total: int | None, unit: str) -> Progress | None:
    """The progress of a step from ``meter``, if there is one."""
    return meter(what, total, unit) if meter else None
