"""STAMP benchmarks: ``python -m benchmarks [--section ingest|figures|exports|all] [--quick]``.

Each section prints a table and its ratios against the targets of issues 2-4 and writes
``benchmarks/results/<section>.json``.  Generated data is cached in ``benchmarks/_data/``;
the chromatic peer lives in its own venv, ``benchmarks/_venv/``.  Nothing here is imported
by ``stamp_engine`` or the dashboard.
"""
