"""Profile the ingest benchmark's engine side (load + normalize in place) with pyinstrument.

``python -m benchmarks.profile_ingest [--quick] [--layout new|old] [--repeat N] [--html out.html]``
loads the benchmark dataset of ``benchmarks.ingest`` (page cache warmed by one untimed run),
then profiles ``stamp_engine.load`` followed by ``stamp_engine.normalize(cube, in_place=True)``
and prints pyinstrument's call tree of the parent process.  The reader child is forked, so its
reading shows in the parent as the time spent waiting for it (``_run_child``); profile the child
with ``py-spy record --subprocesses`` when that is the stage of interest.  The script is kept,
not its output.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.profile_ingest", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--layout", choices=("new", "old"), default="new")
    parser.add_argument("--repeat", type=int, default=1, help="profiled runs (after one warm-up)")
    parser.add_argument("--html", type=Path, help="also write pyinstrument's HTML report of the last run here")
    args = parser.parse_args(argv)

    from pyinstrument import Profiler

    import stamp_engine
    from benchmarks import datasets
    from stamp_engine.io import registry

    new, old = datasets.ingest_specs(args.quick)
    data = datasets.ensure(new if args.layout == "new" else old)
    registry.readers()
    stamp_engine.normalize(stamp_engine.load(data.paths), in_place=True)  # warm-up: page cache, imports
    for run in range(args.repeat):
        profiler = Profiler(interval=0.001)
        t0 = time.perf_counter()
        profiler.start()
        cube = stamp_engine.load(data.paths)
        t1 = time.perf_counter()
        cube = stamp_engine.normalize(cube, in_place=True)
        profiler.stop()
        t2 = time.perf_counter()
        print(f"\n=== run {run + 1}: load {t1 - t0:.3f} s, normalize {t2 - t1:.3f} s, total {t2 - t0:.3f} s ===")
        print(profiler.output_text(unicode=True, color=False, show_all=False))
        del cube
    if args.html:
        args.html.write_text(profiler.output_html())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
