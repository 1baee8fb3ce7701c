"""Large NumPy passes split over the machine's cores.

NumPy's copies, casts, arithmetic and partitions release the GIL, so a pass over a large
cube split into a few contiguous pieces runs on several cores from threads, with the same
values bit for bit: every element is still computed by the same operation, only by another
thread.  Used where one pass over the whole cube is a large share of the time: the fill of the
cube as files arrive (:mod:`stamp_engine.assemble`), the median over time
(:func:`stamp_engine.statistics.nanmedian_over_time`) and normalize's arithmetic.

On a quiet 2-core machine two threads halved the fill of 10,000 × 2,040 (the page faults of
the new cube's memory and the byte-order conversion both scale) and took the median from
0.13 to 0.08–0.10 s; ``python -m benchmarks --section ingest`` measures the whole ingest.

The number of threads is the number of cores this process may run on, at most
:data:`MAX_THREADS`; the environment variable ``STAMP_ENGINE_THREADS`` overrides it (``1``
turns threading off, e.g. on a server that already runs one job per core).  Passes over
fewer than :data:`MIN_ELEMENTS` values run in the calling thread: starting threads would
cost more than they save.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from typing import Callable, Sequence, TypeVar

from .settings import env_value_or_default

__all__ = ["MAX_THREADS", "MIN_ELEMENTS", "map_pieces", "pieces", "thread_count"]

#: At most this many threads per pass: memory bandwidth, not cores, limits these passes beyond.
MAX_THREADS = 4
#: Passes over fewer values than this run in the calling thread.
MIN_ELEMENTS = 1 << 20

Piece = TypeVar("Piece")
Result = TypeVar("Result")


def thread_count() -> int:
    """Threads for one pass: ``STAMP_ENGINE_THREADS`` if set (≥ 1), else the usable cores, at most
    :data:`MAX_THREADS` (an unusable setting warns, naming it, and the cores decide)."""
    try:
        cores = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cores = os.cpu_count() or 1
    return env_value_or_default(os.environ, "STAMP_ENGINE_THREADS", int, max(1, min(MAX_THREADS, cores)), positive=True)


def pieces(n: int, elements: int, align: int = 1) -> list[slice]:
    """``range(n)`` cut into one contiguous slice per thread (boundaries multiples of ``align``).

    One slice (the whole range) when the pass covers fewer than :data:`MIN_ELEMENTS` values
    (``elements``) or when one thread is configured.
    """
    count = thread_count() if elements >= MIN_ELEMENTS else 1
    count = max(1, min(count, -(-n // max(1, align))))
    if count == 1:
        return [slice(0, n)]
    step = -(-n // count)
    step = -(-step // align) * align
    return [slice(start, min(n, start + step)) for start in range(0, n, step)]


def map_pieces(work: Callable[[Piece], Result], parts: Sequence[Piece]) -> list[Result]:
    """``[work(p) for p in parts]``, the parts in threads when there are several.

    Every part is finished (or has failed) before this returns; the first failure is raised.
    """
    if len(parts) <= 1:
        return [work(p) for p in parts]
    with ThreadPoolExecutor(max_workers=len(parts), thread_name_prefix="stamp-pass") as pool:
        futures = [pool.submit(work, p) for p in parts]
        return [f.result() for f in futures]
