"""NaN-aware median along time: which implementation the engine should use.

``python -m benchmarks.nanmedian [--rows N] [--columns M] [--repeat R]`` times, on three cubes
(clean; whole dead columns of NaN; 2 % NaN scattered over the cube):

* ``numpy``         — ``np.nanmedian(values, axis=0)`` (the reference for exactness);
* ``bottleneck``    — ``bottleneck.nanmedian(values, axis=0)`` (when installed);
* ``engine``        — :func:`stamp_engine.statistics.nanmedian_over_time`, as shipped;
* ``engine 1 thread`` — the same with its thread pool forced to one worker.

Each line gives the best of ``repeat`` wall-clock times and whether the result equals NumPy's
bit for bit (NaN where NumPy gives NaN). The engine keeps the fastest *exact* one.
"""

from __future__ import annotations

import argparse
import time
import warnings
from typing import Callable
from unittest import mock

import numpy as np


def cubes(n_rows: int, n_columns: int, seed: int = 1) -> dict[str, np.ndarray]:
    """The three test cubes, float64, shape (n_rows, n_columns)."""
    rng = np.random.default_rng(seed)
    clean = 1000.0 + rng.normal(0.0, 5.0, (n_rows, n_columns))
    dead = clean.copy()
    dead[:, rng.choice(n_columns, max(1, n_columns // 20), replace=False)] = np.nan
    scattered = clean.copy()
    scattered[rng.random(scattered.shape) < 0.02] = np.nan
    return {"clean": clean, "dead columns": dead, "scattered NaN": scattered}


def _numpy(values: np.ndarray) -> np.ndarray:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN columns
        return np.nanmedian(values, axis=0)


def implementations() -> dict[str, Callable[[np.ndarray], np.ndarray]]:
    from stamp_engine import statistics

    found: dict[str, Callable[[np.ndarray], np.ndarray]] = {"numpy": _numpy}
    try:
        import bottleneck

        found["bottleneck"] = lambda values: bottleneck.nanmedian(values, axis=0)
    except ImportError:
        pass
    found["engine"] = statistics.nanmedian_over_time
    if hasattr(statistics, "_n_workers"):

        def one_thread(values: np.ndarray) -> np.ndarray:
            with mock.patch.object(statistics, "_n_workers", lambda n: 1):
                return statistics.nanmedian_over_time(values)

        found["engine 1 thread"] = one_thread
    return found


def measure(n_rows: int, n_columns: int, repeat: int) -> list[tuple[str, str, float, bool]]:
    """(cube, implementation, best seconds, exact) for every pair."""
    rows = []
    for cube_name, values in cubes(n_rows, n_columns).items():
        reference = _numpy(values)
        for name, function in implementations().items():
            best = np.inf
            for _ in range(repeat):
                start = time.perf_counter()
                result = function(values)
                best = min(best, time.perf_counter() - start)
            rows.append((cube_name, name, best, bool(np.array_equal(result, reference, equal_nan=True))))
    return rows


def measure_thread_pools(n_rows: int, n_columns: int, repeat: int) -> list[tuple[str, float, float]]:
    """(step, best seconds with the engine's thread pool, best seconds on one thread) for the
    other steps that use :func:`stamp_engine.statistics._run_parallel`: normalize and smooth."""
    from stamp_engine import statistics
    from stamp_engine.cube import Cube

    from astropy.time import Time
    import astropy.units as u

    values = cubes(n_rows, n_columns)["scattered NaN"]
    cube = Cube(np.linspace(1.0, 5.0, n_columns), Time(60000.0 + np.arange(n_rows) / 1440.0, format="mjd", scale="tdb"),
                values, np.full(values.shape, 5.0), u.Jy)
    steps = {"normalize": lambda: cube.normalize(), "smooth σ=2×2": lambda: cube.smooth(2.0, 2.0)}
    rows = []
    for name, run in steps.items():
        timings = []
        for workers in (None, 1):
            best = np.inf
            for _ in range(repeat):
                with mock.patch.object(statistics, "_n_workers", (lambda n: 1) if workers else statistics._n_workers):
                    start = time.perf_counter()
                    run()
                    best = min(best, time.perf_counter() - start)
            timings.append(best)
        rows.append((name, *timings))
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.nanmedian", description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--columns", type=int, default=500)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    print(f"NaN median over time of {args.rows:,} × {args.columns:,} float64 (best of {args.repeat})")
    for cube_name, name, seconds, exact in measure(args.rows, args.columns, args.repeat):
        print(f"  {cube_name:<14} {name:<16} {seconds * 1e3:8.1f} ms  {'exact' if exact else 'DIFFERS from numpy'}")
    if hasattr(__import__("stamp_engine.statistics").statistics, "_n_workers"):
        print("Thread pool of the other steps (scattered-NaN cube): pool vs one thread")
        for name, pooled, single in measure_thread_pools(args.rows, args.columns, args.repeat):
            print(f"  {name:<16} {pooled * 1e3:8.1f} ms  vs {single * 1e3:8.1f} ms")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
