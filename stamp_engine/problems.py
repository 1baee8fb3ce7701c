"""Problems found while loading, and the exceptions readers raise.

A reader that cannot use a file raises :class:`ReadError` with a sentence a user
understands; :func:`stamp_engine.load` turns it into a :class:`Problem` naming the
file, and the other files still load.  Only when nothing at all is usable does
``load`` raise :class:`NoUsableData`, listing every problem.
"""

from __future__ import annotations

from dataclasses import dataclass


class StampError(Exception):
    """Base class of every error STAMP raises on purpose."""


class ReadError(StampError):
    """A file cannot be used; the message says why in a user's words."""


class UnsafeArchiveError(ReadError):
    """An archive was refused before anything was extracted (zip bomb, path escape…)."""


@dataclass(frozen=True)
class Problem:
    """One thing wrong with one input.

    Attributes
    ----------
    source : str
        The file (or archive member) the problem is about, as the user named it.
    message : str
        What is wrong, in words a user understands.
    severity : str
        ``"error"`` when the file was skipped, ``"warning"`` when it loaded with a caveat,
        ``"info"`` for a note on how it was read that asks nothing of the user.
    """

    source: str
    message: str
    severity: str = "error"

    def __str__(self) -> str:
        return f"{self.source}: {self.message}"


#: Every severity a :class:`Problem` can have, most serious first.
SEVERITIES = ("error", "warning", "info")


class NoUsableData(StampError):
    """Nothing usable was found in any input; ``problems`` says why for each file.

    ``files`` and ``observations`` describe what was read, as in ``Cube.meta`` (empty when
    the error came before the files were read).
    """

    files: tuple = ()
    observations: tuple = ()

    def __init__(self, problems: list[Problem] | tuple[Problem, ...]):
        self.problems = tuple(problems)
        lines = "\n".join(f"  - {p}" for p in self.problems) or "  - no input files were given"
        super().__init__(f"No usable time-series spectra were found:\n{lines}")
