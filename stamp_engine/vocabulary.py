"""The words the engine and both front ends share for processing choices, in one place.

Kept free of imports so that every module — the steps included — can use them.
"""

from __future__ import annotations

__all__ = ["NORMALIZATIONS", "ZAXES", "one_of"]

#: Normalizations (reference spectra for variability), with the words the dashboard shows.
NORMALIZATIONS = {
    "median": "All-median (one reference for the whole observation)",
    "visit": "Per visit (each visit's median)",
    "baseline": "Baseline window (median over a time range)",
}

#: What the z axis (colour) shows.
ZAXES = {"variability": "Variability (%)", "flux": "Raw flux (unit from the file)"}


def one_of(choices) -> str:
    """``'a', 'b' or 'c'`` for a message listing the allowed values."""
    quoted = [repr(c) for c in choices]
    return quoted[0] if len(quoted) == 1 else f"{', '.join(quoted[:-1])} or {quoted[-1]}"
