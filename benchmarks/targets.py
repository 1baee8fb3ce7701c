"""The table of every performance target: this run's figure, its verdict, the floor, and the figures before.

"Before" is what the project's earlier measurement recorded (STAMP as it was, and the
predecessor Flask STAMP beside it, same data, same machine class); those numbers are
quoted, not re-measured (the predecessor is not installable here).  Server-side rows come
from this run's sections (``ingest`` and ``server``); browser rows from
``benchmarks.browser.browser_targets(quick)`` when that function exists, else they are
listed as not measured.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any, Iterable

from .common import SectionResult, Target, heading, print_table


@dataclass(frozen=True)
class Goal:
    """One target as stated, where its number comes from, and the figures before."""

    label: str
    section: str  # "ingest", "server" or "browser"
    #: Part of the name of the section's Targets that measure it (several may match: each is a row).
    measured_by: str | tuple[str, ...]
    floor: str = "—"
    before_stamp: str = "—"
    before_predecessor: str = "—"


GOALS: tuple[Goal, ...] = (
    Goal("job start ≤ 0.5 s after the click (diskcache path)", "server", "job start",
         before_stamp="fork-server imports per job (seconds)"),
    Goal("ingest (load + normalize) ≤ 1.5× the floor", "ingest", "new layout: load+normalize",
         floor="astropy open + np.array(WAVELENGTH, FLUX, FLUX_ERROR, int_mid_BJD_TDB)",
         before_stamp="1.9× (0.34 s vs 0.18 s)"),
    Goal("ingest peak RSS ≤ 2× flux + error bytes", "ingest", "new layout: peak RSS", before_stamp="2.8×"),
    Goal("processed cubes reopen without copying (memory-mapped .npy)", "server", "cached cube reopens",
         before_stamp="pickled: 2.1 s to write at 10k, 46 % of job CPU, 0.65 GB per job"),
    Goal("ZIP members read as streams", "server", "ZIP members", before_stamp="extraction 2.8 s at 10k"),
    Goal("display reduction ≤ 0.5 s at 10,000 × 2,040", "server", "display reduction",
         before_stamp="up to 15 s on a loaded machine"),
    Goal("scale: 1k/10k/30k/100k × 2,048 grow linearly", "server", "scale: ",
         before_stamp="30,000 × 2,040 peaked at 2.4 GB"),
    # browser side (measured by benchmarks/browser.py)
    Goal("page open to usable ≤ 2 s", "browser", "page open →", before_stamp="4–12 s", before_predecessor="1–4 s"),
    Goal("small file (≤ 10 MB) choose → first view ≤ 1 s", "browser", "small file → first view",
         before_stamp="15–28 s (MIRI 10 × 388, to surface + heatmap)", before_predecessor="17–28 s"),
    Goal("10,000 × 2,040 ZIP cold ≤ 5 s", "browser", "ZIP → heatmap (cold)",
         before_stamp="tab crashed (heatmap path 11.6 s)", before_predecessor="102 s"),
    Goal("10,000 × 2,040 from the cube cache ≤ 1 s", "browser", "ZIP → heatmap (cached)", before_stamp="2.6 s"),
    Goal("1 GB upload drawn ≤ 10 s after the last byte", "browser", "1 GB upload"),
    Goal("3D surface of 10,000 × 2,040 drawn ≤ 5 s (software WebGL)", "browser", "3D surface drawn"),
    Goal("band click, colour scale, colour range, Play frame ≤ 0.3 s, no server request", "browser",
         ("band click", "colour scale", "colour range", "Play frame", "server requests", "hidden surface",
          "surface draws before"),
         before_stamp="band click 9 s once the hidden surface was drawn, 0.13 s otherwise"),
    Goal("surface highlight and reset ≥ 3× faster than 2.7 s (≤ 0.9 s)", "browser", "surface highlight",
         before_stamp="7.8 s (1,200 × 430)", before_predecessor="2.7 s"),
)


#: (module, function) of each browser measurement; each takes ``quick`` and returns rows.
BROWSER_MEASUREMENTS = (("benchmarks.browser", "browser_targets"), ("benchmarks.upload", "upload_targets"))


def browser_rows(quick: bool) -> tuple[list[Any], str | None]:
    """The rows of every browser measurement (``BROWSER_MEASUREMENTS``), and why any of them did not run."""
    rows: list[Any] = []
    failures: list[str] = []
    for module_name, function in BROWSER_MEASUREMENTS:
        try:
            measure = getattr(importlib.import_module(module_name), function)
            rows.extend(measure(quick))
        except Exception as exc:  # noqa: BLE001 - reported as not measured
            failures.append(f"{module_name}.{function} failed: {type(exc).__name__}: {exc}")
    return rows, "; ".join(failures) or None


def _as_target(row: Any) -> Target | None:
    """A browser row as a Target: a Target already, a mapping with its fields, or (name, value, limit[, unit])."""
    if isinstance(row, Target):
        return row
    if all(hasattr(row, field) for field in ("target", "measured", "limit")):  # a browser row
        limit = float(row.limit)
        return Target(row.target, row.measured, limit, report_only=None if limit == limit else "no limit")
    if isinstance(row, dict) and "name" in row:
        fields = {k: row[k] for k in ("name", "value", "limit", "op", "unit", "report_only") if k in row}
        return Target(**fields) if "limit" in fields and "value" in fields else None
    if isinstance(row, (tuple, list)) and len(row) >= 3 and isinstance(row[0], str):
        return Target(row[0], row[1], row[2], unit=row[3] if len(row) > 3 else "")
    return None


def _matches(goal: Goal, targets: Iterable[Target]) -> list[Target]:
    keys = (goal.measured_by,) if isinstance(goal.measured_by, str) else goal.measured_by
    return [t for t in targets if any(key.lower() in t.name.lower() for key in keys)]


def print_targets(results: dict[str, SectionResult], quick: bool, browser: bool = True) -> list[list[Any]]:
    """Print (and return) one row per goal and measurement."""
    heading("Every performance target (this run; floor; before: STAMP as it was / the predecessor, quoted)")
    pool = {name: result.targets for name, result in results.items()}
    browser_note = None
    if browser:
        rows_in, browser_note = browser_rows(quick)
        pool["browser"] = [t for t in (_as_target(r) for r in rows_in) if t is not None]
    else:
        browser_note = "skipped (--no-browser)"
    rows: list[list[Any]] = []
    for goal in GOALS:
        found = _matches(goal, pool.get(goal.section, []))
        if not found:
            why = browser_note if goal.section == "browser" else (
                "section not run" if goal.section not in results else "not measured")
            rows.append([goal.label, "—", "NOT RUN", goal.floor, goal.before_stamp, goal.before_predecessor])
            if why:
                rows[-1][1] = why
            continue
        for target in found:
            value = "—" if target.value is None else f"{target.value:.3g}{target.unit}"
            label = goal.label if len(found) == 1 else f"{goal.label}: {target.name}"
            rows.append([label, value, target.verdict, goal.floor, goal.before_stamp, goal.before_predecessor])
    print_table(["target", "this run", "verdict", "floor", "before (STAMP)", "before (predecessor)"], rows)
    return rows
