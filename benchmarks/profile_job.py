"""Profile the server side of one processing job with pyinstrument (the script, not its output, is kept).

``python -m benchmarks.profile_job [--quick] [--html out.html]`` loads the benchmark's
new-layout dataset (10,000 × 2,040 in 5 files; 1,000 with ``--quick``) through
:class:`dashboard.pipeline.CubeService` into a fresh :class:`dashboard.cache.CubeCache`
(load, cache write, process, display reduction, cache write), then runs it a second
time (everything from the cache), and prints pyinstrument's call tree of each.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.profile_job", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--html", type=Path, help="also write pyinstrument's HTML report of the cold run here")
    args = parser.parse_args(argv)

    from pyinstrument import Profiler

    from benchmarks import datasets
    from dashboard.cache import CubeCache
    from dashboard.pipeline import CubeService
    from stamp_engine.recipe import ProcessOptions

    data = datasets.ensure(datasets.ingest_specs(args.quick)[0])
    with tempfile.TemporaryDirectory(prefix="stamp-profile-") as folder:
        service = CubeService(CubeCache(Path(folder) / "cubes", size_limit=2**40))
        for run in ("cold (nothing cached)", "warm (from the cube cache)"):
            profiler = Profiler(interval=0.002)
            t0 = time.perf_counter()
            profiler.start()
            service.run(data.paths, "profile", ProcessOptions())
            profiler.stop()
            print(f"\n=== {run}: {time.perf_counter() - t0:.2f} s ===")
            print(profiler.output_text(unicode=True, color=False, show_all=False))
            if args.html and run.startswith("cold"):
                args.html.write_text(profiler.output_html())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
