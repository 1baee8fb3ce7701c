"""Shared pieces of the benchmark sections: targets, tables, result files, worker processes."""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Sequence

BENCH_DIR = Path(__file__).resolve().parent
REPO_ROOT = BENCH_DIR.parent
DATA_DIR = BENCH_DIR / "_data"
RESULTS_DIR = BENCH_DIR / "results"
VENV_DIR = BENCH_DIR / "_venv"

MB = 1024.0 * 1024.0


class SectionNotRun(Exception):
    """A (sub)section could not run; the message says why in plain words."""


@dataclass
class Target:
    """One number compared with its target, e.g. ``ratio ≤ 1.5``."""

    name: str
    value: float | None
    limit: float
    op: str = "<="  # "<=" or ">="
    unit: str = ""
    #: Why the number is only reported, not judged (e.g. a cube so small that fixed
    #: overhead dominates); None: the target applies.
    report_only: str | None = None

    @property
    def met(self) -> bool | None:
        """Whether the value meets the limit (None when not measured), judged or not."""
        if self.value is None:
            return None
        return self.value <= self.limit if self.op == "<=" else self.value >= self.limit

    @property
    def passed(self) -> bool | None:
        """The verdict: None when not measured or only reported."""
        return None if self.report_only else self.met

    @property
    def verdict(self) -> str:
        if self.report_only and self.value is not None:
            return "REPORT"
        return {True: "PASS", False: "FAIL", None: "NOT RUN"}[self.passed]

    def line(self) -> str:
        value = "—" if self.value is None else f"{self.value:.3g}{self.unit}"
        op = "≤" if self.op == "<=" else "≥"
        why = f"; not judged: {self.report_only}" if self.report_only and self.value is not None else ""
        return f"  [{self.verdict:7}] {self.name}: {value}  (target {op} {self.limit:g}{self.unit}{why})"

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "passed": self.passed, "met": self.met}


@dataclass
class SectionResult:
    """What one section measured, written to ``results/<section>.json``."""

    section: str
    quick: bool
    measurements: dict[str, Any] = field(default_factory=dict)
    targets: list[Target] = field(default_factory=list)
    not_run: dict[str, str] = field(default_factory=dict)  # subsection -> reason
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "section": self.section,
            "quick": self.quick,
            "when": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "machine": machine_info(),
            "measurements": self.measurements,
            "targets": [t.to_dict() for t in self.targets],
            "not_run": self.not_run,
            "notes": self.notes,
        }

    def write(self) -> Path:
        RESULTS_DIR.mkdir(parents=True, exist_ok=True)
        path = RESULTS_DIR / f"{self.section}.json"
        path.write_text(json.dumps(self.to_dict(), indent=2, default=_json_default) + "\n")
        return path

    def print_verdicts(self) -> None:
        if self.targets:
            print("Targets:")
            for target in self.targets:
                print(target.line())
        for name, reason in self.not_run.items():
            print(f"  [NOT RUN] {name}: {reason}")
        for note in self.notes:
            print(f"  note: {note}")


def _json_default(value: Any) -> Any:
    try:
        import numpy as np

        if isinstance(value, np.generic):
            return value.item()
        if isinstance(value, np.ndarray):
            return value.tolist()
    except ImportError:  # pragma: no cover
        pass
    if isinstance(value, Path):
        return str(value)
    return str(value)


def machine_info() -> dict[str, Any]:
    try:
        load = os.getloadavg()
    except OSError:  # pragma: no cover
        load = None
    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "loadavg": load,
    }


def heading(title: str) -> None:
    print()
    print(title)
    print("=" * len(title))


def print_table(columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    """Print rows under column headings, left-aligned first column, others right-aligned."""
    cells = [[str(c) for c in columns]] + [[_cell(v) for v in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(columns))]

    def fmt(row: list[str]) -> str:
        return "  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths)))

    print(fmt(cells[0]))
    print("  ".join("-" * w for w in widths))
    for row in cells[1:]:
        print(fmt(row))


def _cell(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        if value == 0:
            return "0"
        if abs(value) >= 100:
            return f"{value:,.0f}"
        return f"{value:.3g}"
    return str(value)


def run_worker(task: str, params: dict[str, Any], mode: str, *, timeout: float = 1800,
               python: str | None = None, module: str = "benchmarks.worker",
               allow_error: bool = False) -> dict[str, Any]:
    """Run one measurement in a fresh interpreter and return its JSON answer.

    A fresh process per measurement makes ``ru_maxrss`` (the RSS high-water mark) and the
    tracemalloc peak belong to that measurement alone.

    With ``allow_error`` an exception inside the measured task comes back as
    ``{"error": "..."}`` instead of raising (a peer failing on a file is a result).

    Raises
    ------
    SectionNotRun
        When the worker fails; the message carries the last lines of its error output.
    """
    command = [python or sys.executable, "-m", module, task, mode, json.dumps(params)]
    env = {**os.environ, "PYTHONPATH": _pythonpath()}
    try:
        done = subprocess.run(command, cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired as exc:
        raise SectionNotRun(f"{task} ({mode}) did not finish within {timeout:.0f} s") from exc
    answer = None
    for line in reversed(done.stdout.splitlines()):
        if line.startswith("{"):
            answer = json.loads(line)
            break
    if done.returncode != 0 or answer is None:
        raise SectionNotRun(f"{task} ({mode}) failed: {last_lines(done.stderr or done.stdout)}")
    if "error" in answer and not allow_error:
        raise SectionNotRun(f"{task} ({mode}): {answer['error']}")
    return answer


def _pythonpath() -> str:
    existing = os.environ.get("PYTHONPATH", "")
    return os.pathsep.join([str(REPO_ROOT)] + ([existing] if existing else []))


def last_lines(text: str, n: int = 4, width: int = 400) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    tail = " | ".join(lines[-n:]) if lines else "(no output)"
    return tail[-width:]


def best_of(fn, repeats: int = 3, warmup: int = 1) -> tuple[float, list[float], Any]:
    """Run ``fn`` ``warmup`` times, then ``repeats`` timed times; return (best, all, last result)."""
    result = None
    for _ in range(warmup):
        result = fn()
        del result
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t0)
        if _ < repeats - 1:
            del result
    return min(times), times, result


def fmt_bytes(n: float | None) -> str:
    if n is None:
        return "—"
    if n >= 1024**3:
        return f"{n / 1024**3:.2f} GiB"
    if n >= MB:
        return f"{n / MB:.1f} MiB"
    if n >= 1024:
        return f"{n / 1024:.1f} KiB"
    return f"{n:.0f} B"
