"""Profile the cold background job on the browser benchmark's ZIP (the script, not its output, is kept).

``python -m benchmarks.profile_zip [--zip PATH] [--repeat N] [--in-process] [--profile]``
runs :meth:`dashboard.pipeline.CubeService.run` on ``new_10000x2040.zip`` (5 deflated
members of 10,000 × 2,040 in all) into a fresh cube cache, ``N`` times, and prints each
run's time line: when each progress stage began, seconds from the start.  The reader
child cannot be seen by a profiler in the parent; ``--in-process`` reads in this process
instead (``STAMP_READ_ISOLATE=0``) so that ``--profile`` (pyinstrument) shows the
member inflating, the FITS parse and the export too.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import tempfile
import time
from pathlib import Path

DEFAULT_ZIP = Path(__file__).parent / "_data" / "browser" / "new_10000x2040.zip"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.profile_zip", description=__doc__.splitlines()[0])
    parser.add_argument("--zip", type=Path, default=DEFAULT_ZIP)
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--in-process", action="store_true", help="read in this process (STAMP_READ_ISOLATE=0)")
    parser.add_argument("--profile", action="store_true", help="print pyinstrument's call tree of the last run")
    parser.add_argument("--ahead", type=int, nargs="+", metavar="N",
                        help="ZIP members copied ahead (sandbox.MEMBERS_AHEAD), alternated run by run: 0 2")
    args = parser.parse_args(argv)
    if args.in_process:
        os.environ["STAMP_READ_ISOLATE"] = "0"

    from dashboard.cache import CubeCache
    from dashboard.pipeline import CubeService
    from stamp_engine.io import sandbox
    from stamp_engine.recipe import ProcessOptions
    from stamp_engine.settings import numpy_without_huge_pages

    numpy_without_huge_pages()  # as create_app does for the server

    settings = args.ahead or [getattr(sandbox, "MEMBERS_AHEAD", 0)]  # 0 on code from before members were read ahead
    totals: dict[int, list[float]] = {n: [] for n in settings}
    for run in range(args.repeat * len(settings)):
        sandbox.MEMBERS_AHEAD = ahead = settings[run % len(settings)]
        profiler = None
        if args.profile and run == args.repeat * len(settings) - 1:
            from pyinstrument import Profiler

            profiler = Profiler(interval=0.002)
        timeline: list[tuple[float, str]] = []
        with tempfile.TemporaryDirectory(prefix="stamp-profile-zip-") as folder:
            service = CubeService(CubeCache(Path(folder) / "cubes", size_limit=2**40))
            (Path(folder) / "job").mkdir()
            cpu0 = _cpu_seconds()
            t0 = time.perf_counter()

            def progress(stage: str, done: int, total: int) -> None:
                if not timeline or timeline[-1][1] != stage:
                    timeline.append((time.perf_counter() - t0, stage))

            if profiler:
                profiler.start()
            service.run([args.zip], f"profile-zip-{run}", ProcessOptions(), progress, workdir=Path(folder) / "job")
            if profiler:
                profiler.stop()
            total = time.perf_counter() - t0
            cpu = _cpu_seconds() - cpu0
        totals[ahead].append(total)
        with open("/proc/loadavg") as handle:
            load = handle.read().split()[:3]
        print(f"\n=== run {run + 1}, {ahead} member(s) ahead: {total:.2f} s, CPU {cpu:.2f} s with the "
              f"reader children (load {' '.join(load)}) ===")
        for at, stage in timeline:
            print(f"  {at:7.2f} s  {stage}")
        if profiler:
            print(profiler.output_text(unicode=True, color=False, show_all=False))
    for ahead, times in totals.items():
        print(f"\n{ahead} member(s) ahead: best {min(times):.2f} s, median {statistics.median(times):.2f} s "
              f"over {len(times)} run(s)")
    return 0


def _cpu_seconds() -> float:
    """User + system CPU seconds of this process and of its children that have ended (the readers)."""
    return sum(r.ru_utime + r.ru_stime for r in (resource.getrusage(resource.RUSAGE_SELF),
                                                   resource.getrusage(resource.RUSAGE_CHILDREN)))


if __name__ == "__main__":
    raise SystemExit(main())
