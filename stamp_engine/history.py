"""Provenance: what was done to a cube, as records that read as sentences.

Every processing step appends one :class:`HistoryStep` to ``Cube.history``.  A step is a
record — the step's name, its parameters (JSON-able values) and the sentence a reader
sees — and, being a ``str`` subclass equal to its sentence, it is the text the README
and the FITS ``HISTORY`` cards print, with nothing to parse back: code that needs a
parameter asks :func:`last_step` for the record.
"""

from __future__ import annotations

from types import MappingProxyType
from typing import Any, Iterable, Mapping

__all__ = ["HistoryStep", "append", "from_json", "last_step", "to_json"]


class HistoryStep(str):
    """One processing step: ``step`` (its name), ``parameters`` and, as the string itself, the sentence.

    Examples
    --------
    >>> s = HistoryStep("bin", {"time": 4, "wavelength": 1}, "bin 4 integration(s) × 1 wavelength(s)")
    >>> s.parameters["time"], s.startswith("bin 4")
    (4, True)
    """

    step: str
    parameters: Mapping[str, Any]

    def __new__(cls, step: str, parameters: Mapping[str, Any], sentence: str) -> "HistoryStep":
        record = super().__new__(cls, sentence)
        record.step = str(step)
        record.parameters = MappingProxyType(dict(parameters))
        return record

    def __getnewargs__(self) -> tuple[str, dict[str, Any], str]:  # pickling (cached cubes)
        return self.step, dict(self.parameters), str(self)

    def __getstate__(self) -> None:
        return None  # everything is in __getnewargs__

    @property
    def sentence(self) -> str:
        return str.__str__(self)

    def to_dict(self) -> dict[str, Any]:
        return {"step": self.step, "parameters": dict(self.parameters), "sentence": self.sentence}


def append(history: Iterable[str], step: str, parameters: Mapping[str, Any], sentence: str) -> tuple[str, ...]:
    """``history`` followed by a new :class:`HistoryStep`."""
    return (*history, HistoryStep(step, parameters, sentence))


def last_step(history: Iterable[str], step: str) -> HistoryStep | None:
    """The latest record of ``step`` in ``history`` (plain strings, e.g. "loaded 2 file(s)", are not records)."""
    found = None
    for entry in history:
        if isinstance(entry, HistoryStep) and entry.step == step:
            found = entry
    return found


def to_json(history: Iterable[str]) -> list[Any]:
    """``history`` as JSON-able values: records as dicts, plain sentences as strings."""
    return [entry.to_dict() if isinstance(entry, HistoryStep) else str(entry) for entry in history]


def from_json(values: Iterable[Any]) -> tuple[str, ...]:
    """The inverse of :func:`to_json`; also reads a history saved as plain sentences."""
    history: list[str] = []
    for value in values:
        if isinstance(value, Mapping) and "sentence" in value:
            history.append(HistoryStep(value.get("step", ""), value.get("parameters") or {}, value["sentence"]))
        else:
            history.append(str(value))
    return tuple(history)
