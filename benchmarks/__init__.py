"""STAMP benchmarks: ``python -m benchmarks [--section ingest|figures|exports|all] [--quick]``.

Each section prints a table and its ratios against its targets (PASS/FAIL; REPORT where a
number is shown but not judged, e.g. memory ratios of tiny --quick cubes) and writes
``benchmarks/results/<section>.json``.  Generated data is cached in ``benchmarks/_data/``;
the chromatic peer lives in its own venv, ``benchmarks/_venv/``.  Nothing here is imported
by ``stamp_engine`` or the dashboard.
"""
