"""NaN-aware median along time: which implementation the engine should use.

``python -m benchmarks.nanmedian [--rows N] [--columns M] [--repeat R]`` times, on three cubes
(clean; whole dead columns of NaN; 2 % NaN scattered over the cube):

* ``numpy``         — ``np.nanmedian(values, axis=0)`` (the reference for exactness);
* ``bottleneck``    — ``bottleneck.nanmedian(values, axis=0)`` (when installed);
* ``engine``        — :func:`stamp_engine.statistics.nanmedian_over_time`, as shipped (its column
  parts in threads since stop 6: :mod:`stamp_engine.threads`).

Each line gives the best of ``repeat`` wall-clock times and whether the result equals NumPy's
bit for bit (NaN where NumPy gives NaN). The engine keeps the fastest *exact* one.

Measured on the project machine (2 cores shared with other jobs, so ±30 %; best of 3),
10,000 × 500, numpy / bottleneck / engine: before this change clean 345 / 135 / 35 ms (the
engine's thread pool: 45 ms), dead columns 179 / 110 / 30 ms (pool: 34 ms), scattered NaN
304 / 104 / 84 ms (pool: 136 ms; each row holding NaN was sorted in full). The median's
thread pool was slower than one thread on every cube and was dropped. Rows holding NaN are
now put in order only over the window of middle ranks they need (two partitions and a short
sort) and all-NaN rows are left out of it: under heavier load, 247 / 196 / 45 ms clean,
349 / 271 / 65 ms dead columns, 470 / 218 / 102 ms scattered NaN. The engine's median is the
fastest exact one on all three, so it stays and bottleneck is not a dependency.
Normalize's arithmetic and smooth's filters had thread pools too: timed with the pool and
forced to one thread (same cube, scattered NaN) they gave normalize 316/364/700 ms pooled vs
624/337/333 ms alone and smooth σ=2×2 3473/2326/2727 ms vs 2540/2358/2196 ms — no gain, so
those pools were dropped as well.
"""

from __future__ import annotations

import argparse
import time
import warnings
from typing import Callable

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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.nanmedian", description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--columns", type=int, default=500)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    print(f"NaN median over time of {args.rows:,} × {args.columns:,} float64 (best of {args.repeat})")
    for cube_name, name, seconds, exact in measure(args.rows, args.columns, args.repeat):
        print(f"  {cube_name:<14} {name:<16} {seconds * 1e3:8.1f} ms  {'exact' if exact else 'DIFFERS from numpy'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
