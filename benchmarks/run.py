"""Run the STAMP benchmarks: ``python -m benchmarks`` or ``python benchmarks/run.py`` from the repo root.

Sections are independent: one whose pieces are missing (or that fails) is reported as
not run, and the others still run.  At the end one table lists every performance target
with its verdict, the floor and the figures before (``benchmarks/targets.py``).  Exit status 0 when every section ran (whatever the
PASS/FAIL verdicts), 1 when a section crashed.
"""

from __future__ import annotations

import argparse
import importlib
import sys
import time
import traceback
from pathlib import Path

if __package__ in (None, ""):  # run as a script: python benchmarks/run.py
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    __package__ = "benchmarks"

from benchmarks.common import SectionResult, heading, machine_info  # noqa: E402

SECTIONS = ("ingest", "server", "figures", "exports")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.splitlines()[0])
    parser.add_argument("--section", choices=(*SECTIONS, "all"), default="all")
    parser.add_argument("--quick", action="store_true",
                        help="1/10 of the integrations: a smoke run, numbers not meaningful")
    parser.add_argument("--no-peers", action="store_true", help="skip chromatic (ingest)")
    parser.add_argument("--no-install", action="store_true",
                        help="do not pip-install chromatic into benchmarks/_venv when it is missing")
    parser.add_argument("--regenerate", action="store_true",
                        help="regenerate the cached datasets in benchmarks/_data (e.g. after the writer changed)")
    parser.add_argument("--no-browser", action="store_true", help="skip the headless-Chromium timings (figures)")
    parser.add_argument("--no-scale-100k", action="store_true",
                        help="server: skip the 100,000 × 2,048 scale run (26 GB of files, minutes, GBs of memory)")
    return parser.parse_args(argv)


def run_section(name: str, args: argparse.Namespace) -> SectionResult:
    module = importlib.import_module(f"benchmarks.{name}")
    if name == "ingest":
        return module.run(args.quick, peers=not args.no_peers, install_peers=not args.no_install,
                          regenerate=args.regenerate)
    if name == "figures":
        return module.run(args.quick, browser=not args.no_browser, regenerate=args.regenerate)
    if name == "server":
        return module.run(args.quick, regenerate=args.regenerate, scale_100k=not args.no_scale_100k)
    return module.run(args.quick, regenerate=args.regenerate)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    from stamp_engine.settings import numpy_without_huge_pages

    numpy_without_huge_pages()  # as the server and the CLI run (the floor is read in this process too)
    names = SECTIONS if args.section == "all" else (args.section,)
    info = machine_info()
    print(f"STAMP benchmarks{' (--quick: 1/10 sizes, smoke run only)' if args.quick else ''} — "
          f"Python {info['python']}, {info['cpus']} CPUs, load average {info['loadavg']}")
    crashed = False
    summary = []
    for name in names:
        t0 = time.perf_counter()
        try:
            result = run_section(name, args)
        except Exception as exc:  # noqa: BLE001 - one section's crash must not stop the others
            crashed = True
            traceback.print_exc()
            result = SectionResult(name, args.quick, not_run={name: f"crashed: {type(exc).__name__}: {exc}"})
        path = result.write()
        summary.append((name, result, time.perf_counter() - t0, path))

    from benchmarks.targets import print_targets

    print_targets({name: result for name, result, _, _ in summary}, args.quick, browser=not args.no_browser)

    heading("Summary")
    for name, result, elapsed, path in summary:
        verdicts = [t.verdict for t in result.targets]
        counts = ", ".join(f"{verdicts.count(v)} {v}" for v in ("PASS", "FAIL", "REPORT", "NOT RUN") if verdicts.count(v))
        not_run = f"; not run: {', '.join(result.not_run)}" if result.not_run else ""
        print(f"  {name:8} {elapsed:6.1f} s  {counts or 'no targets measured'}{not_run}  → {path.relative_to(path.parents[2])}")
    return 1 if crashed else 0


if __name__ == "__main__":
    sys.exit(main())
