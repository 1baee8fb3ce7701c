"""Time windows on the cube's hours axis: the in-transit, baseline… ranges the products use.

A window is ``(start, end)`` in hours since ``t0`` (:attr:`stamp_engine.Cube.hours`), ends
included; several windows (e.g. one per visit) are a sequence of them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

__all__ = ["WINDOW_NAMES", "Window", "Windows", "read_window", "read_windows", "window_rows", "windows_text"]

Window = tuple[float, float]
Windows = Window | Sequence[Window]

#: Windows arriving as data are rounded to this many decimals of an hour (0.36 ms).
WINDOW_DECIMALS = 7

#: The windows a page or a package keeps by name: in transit (or eclipse), the baseline, an
#: optional second baseline (e.g. after the transit).
WINDOW_NAMES = ("in_transit", "baseline", "baseline2")


def read_window(pair: object) -> Window | None:
    """A window stored as two numbers in either order (a box-select gives them so), or None.

    The rule for windows that arrive as data (the page's window store, a download's
    request): two finite numbers that differ, sorted and rounded to :data:`WINDOW_DECIMALS`
    decimals of an hour (0.36 ms: finer than any JWST cadence, so a box drawn on a
    light curve in seconds keeps its integrations).  Anything else is no window — never an exception; the
    products that need one say it is missing.
    """
    if not isinstance(pair, (list, tuple)) or len(pair) != 2:
        return None
    try:
        lo, hi = sorted(float(x) for x in pair)
    except (TypeError, ValueError):
        return None
    if not (np.isfinite(lo) and np.isfinite(hi) and lo < hi):
        return None
    return round(lo, WINDOW_DECIMALS), round(hi, WINDOW_DECIMALS)


def read_windows(data: object, names: Sequence[str] = WINDOW_NAMES) -> dict[str, Window]:
    """The well-formed windows (:func:`read_window`) of ``data[name]`` for each of ``names``; others left out."""
    if not isinstance(data, Mapping):
        return {}
    found = {name: read_window(data.get(name)) for name in names}
    return {name: window for name, window in found.items() if window is not None}


def _as_windows(windows: Windows, what: str) -> tuple[Window, ...]:
    """``(a, b)`` or ``[(a, b), …]`` → tuple of float pairs, each checked."""
    if windows is None:
        raise ValueError(f"the {what} window is missing: give (start, end) in hours")
    items = list(windows)
    if len(items) == 2 and all(np.ndim(x) == 0 for x in items):
        items = [tuple(items)]
    if not items:
        raise ValueError(f"the {what} window list is empty: give (start, end) in hours")
    checked = []
    for item in items:
        try:
            lo, hi = (float(x) for x in item)
        except (TypeError, ValueError):
            raise ValueError(f"the {what} window {item!r} is not (start, end) in hours") from None
        if not (np.isfinite(lo) and np.isfinite(hi)):
            raise ValueError(f"the {what} window {lo:g}–{hi:g} h must be finite")
        if lo >= hi:
            raise ValueError(f"the {what} window {lo:g}–{hi:g} h: start must be before end")
        checked.append((lo, hi))
    return tuple(checked)


def _data_span(hours: np.ndarray, visit: np.ndarray) -> str:
    if hours.size == 0:
        return "no integrations"
    parts = [f"{hours[visit == v].min():.4g}–{hours[visit == v].max():.4g} h" for v in np.unique(visit)]
    return parts[0] if len(parts) == 1 else f"{len(parts)} visits: " + ", ".join(parts)


def window_rows(hours: np.ndarray, visit: np.ndarray, windows: Windows, what: str) -> tuple[np.ndarray, tuple[Window, ...]]:
    """Rows (integrations) inside any of ``windows`` (hours, ends included), and the windows.

    Raises
    ------
    ValueError
        A window that is malformed, or holds no integration; the message names the
        window and the data's range (per visit).
    """
    checked = _as_windows(windows, what)
    hours = np.asarray(hours, dtype=float)
    inside = np.zeros(hours.size, dtype=bool)
    for lo, hi in checked:
        here = (hours >= lo) & (hours <= hi)
        if not here.any():
            where = "lies outside the data" if hours.size == 0 or hi < hours.min() or lo > hours.max() else "holds no integration"
            raise ValueError(
                f"the {what} window {lo:g}–{hi:g} h {where} (the data span {_data_span(hours, visit)} since t0)"
            )
        inside |= here
    return np.flatnonzero(inside), checked


def windows_text(windows: Sequence[Window], digits: int | None = None) -> str:
    """``"1–2 h, 5–6 h"``: windows as people read them (messages, headers); ``digits``: at most this
    many significant digits (plot titles: windows found in the data are not round numbers)."""
    spec = "g" if digits is None else f".{digits}g"
    return ", ".join(f"{lo:{spec}}–{hi:{spec}} h" for lo, hi in windows)
