"""Problems grouped for people: one line per kind of problem, not one per file.

An archive of 5,000 empty ``.fits`` entries yields 5,000 identical problems; a person
reads one line ("5,000 files: is empty (0 bytes), e.g. a.fits, b.fits, c.fits …").
:func:`group_problems` is the one rule for that, used by ``stamp inspect``'s text
output and by the dashboard's problems alert; machine-readable outputs (``--json``,
``Cube.problems``) keep every problem.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Sequence

from .problems import Problem

#: Sources named in a grouped line before "and N more".
EXAMPLES_SHOWN = 3
#: Grouped lines shown before the rest is summarised as one line.
GROUPS_SHOWN = 25


@dataclass(frozen=True)
class ProblemGroup:
    """Problems with the same message and severity, about one or more sources.

    Attributes
    ----------
    message : str
        What is wrong (the same for every source of the group).
    severity : str
        As :attr:`Problem.severity`.
    sources : tuple of str
        Every source the problem is about, in the order they were reported.
    """

    message: str
    severity: str
    sources: tuple[str, ...]

    @property
    def count(self) -> int:
        return len(self.sources)

    @property
    def source(self) -> str:
        """The sources as one label: the only one, or the first few and how many more."""
        if self.count == 1:
            return self.sources[0]
        shown = ", ".join(self.sources[:EXAMPLES_SHOWN])
        more = self.count - EXAMPLES_SHOWN
        examples = f"e.g. {shown} and {more:,} more" if more > 0 else shown
        return f"{self.count:,} files ({examples})"

    def __str__(self) -> str:
        return f"{self.source}: {self.message}"


def group_problems(problems: Iterable[Problem]) -> list[ProblemGroup]:
    """Problems with equal message and severity merged into one group, in first-seen order."""
    order: dict[tuple[str, str], list[str]] = {}
    for problem in problems:
        sources = order.setdefault((problem.severity, problem.message), [])
        sources.append(problem.source)
    return [ProblemGroup(message, severity, tuple(sources)) for (severity, message), sources in order.items()]


def summary_groups(problems: Sequence[Problem], max_groups: int = GROUPS_SHOWN) -> list[ProblemGroup]:
    """The groups a person is shown: errors first (so that a flood of notes cannot hide them), at
    most ``max_groups``, then one group gathering the rest ("… and N more problems of K other kinds")."""
    groups = group_problems(problems)
    groups.sort(key=lambda g: g.severity != "error")  # stable: first-seen order within errors and the rest
    shown, hidden = groups[:max_groups], groups[max_groups:]
    if hidden:
        count = sum(g.count for g in hidden)
        worst = "error" if any(g.severity == "error" for g in hidden) else hidden[0].severity
        shown.append(ProblemGroup(f"… and {count:,} more problem(s) of {len(hidden):,} other kind(s), not shown",
                                  worst, tuple(s for g in hidden for s in g.sources)))
    return shown


def summary_lines(problems: Sequence[Problem], max_groups: int = GROUPS_SHOWN) -> list[tuple[str, str]]:
    """``(severity, text)`` lines of :func:`summary_groups`."""
    return [(g.severity, str(g)) for g in summary_groups(problems, max_groups)]
