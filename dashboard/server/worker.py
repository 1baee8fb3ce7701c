"""``python -m dashboard.server.worker``: a Celery worker running the dashboard's background jobs.

Same as ``celery -A dashboard.server.wsgi:celery_app worker``; needs ``STAMP_BACKGROUND=celery``,
``STAMP_REDIS_URL`` and the same ``STAMP_CACHE_DIR`` (a shared folder) as the web servers.
"""

from __future__ import annotations

import sys


def run_worker(argv: list[str] | None = None) -> None:
    """Start a Celery worker; ``argv`` are extra ``celery worker`` options (e.g. ``["--concurrency", "4"]``).

    Raises
    ------
    SystemExit
        When the configuration does not select Celery.
    """
    from .config import ConfigError

    try:
        from .wsgi import celery_app
    except ConfigError as exc:
        raise SystemExit(f"stamp worker: {exc}") from None
    if celery_app is None:
        raise SystemExit("stamp worker: set STAMP_BACKGROUND=celery and STAMP_REDIS_URL (e.g. redis://redis:6379/0)")
    args = list(sys.argv[1:] if argv is None else argv)
    if not any(a.startswith("--loglevel") or a == "-l" for a in args):
        args += ["--loglevel", "INFO"]
    celery_app.worker_main(["worker", *args])


if __name__ == "__main__":
    run_worker()
