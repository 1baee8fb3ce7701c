"""Start the dashboard: ``stamp serve`` calls :func:`serve`."""

from __future__ import annotations

import os
import sys

from .config import Config


def default_workers() -> int:
    """Web workers for production: two per core, at most 8 (jobs run in their own processes)."""
    return max(2, min(8, 2 * (os.cpu_count() or 1)))


def serve(host: str = "127.0.0.1", port: int = 8050, production: bool = False, workers: int | None = None) -> None:
    """Serve the dashboard until interrupted.

    Parameters
    ----------
    host, port : str, int
        Where to listen (default: this machine only, port 8050).
    production : bool
        False: Flask's development server (one process, for a single user).
        True: gunicorn with ``workers`` processes if installed, else waitress
        (threads); they share the cache folder, so any worker can serve any job.
    workers : int, optional
        Production web workers (default ``STAMP_WORKERS``, else :func:`default_workers`);
        threads per worker and the request timeout come from ``STAMP_THREADS`` and
        ``STAMP_TIMEOUT_S`` (see :func:`gunicorn_settings`).

    Raises
    ------
    SystemExit
        With a clear message when the configuration is unusable or no production
        server is installed.
    """
    from .config import ConfigError

    try:
        config = Config.from_env()
    except ConfigError as exc:
        raise SystemExit(f"stamp serve: {exc}") from None
    url = f"http://{host}:{port}{config.url_prefix}"
    if not production:
        from ..app import create_app

        print(f"STAMP dashboard on {url}  (Ctrl+C to stop)", file=sys.stderr)
        create_app(config).run(host=host, port=port, debug=False)
        return
    settings = gunicorn_settings(config, host, port, workers)
    try:
        from gunicorn.app.base import BaseApplication
    except ImportError:
        BaseApplication = None
    if BaseApplication is not None:
        print(f"STAMP dashboard (gunicorn, {settings['workers']} workers × {settings['threads']} threads) on {url}",
              file=sys.stderr)
        _run_gunicorn(BaseApplication, settings)
        return
    try:
        import waitress
    except ImportError:
        raise SystemExit(
            "stamp serve --production needs gunicorn (Linux/macOS) or waitress: pip install gunicorn"
        ) from None
    from ..app import create_app
    from .wsgi import configure_logging

    configure_logging()
    threads = settings["workers"] * settings["threads"]
    print(f"STAMP dashboard (waitress, {threads} threads) on {url}", file=sys.stderr)
    waitress.serve(create_app(config).server, host=host, port=port, threads=threads,
                   channel_timeout=settings["timeout"], max_request_body_size=config.max_request_bytes)


def gunicorn_settings(config: Config, host: str, port: int, workers: int | None = None) -> dict:
    """gunicorn settings of ``stamp serve --production``: ``workers`` argument, else ``STAMP_WORKERS``,
    else :func:`default_workers`; ``STAMP_THREADS`` per worker; ``STAMP_TIMEOUT_S``.

    The timeout is per request: uploads arrive in chunks of 8 MB (one request each),
    processing runs in background jobs (not bounded by it).
    """
    return {
        "bind": f"{host}:{port}",
        "workers": workers or config.workers or default_workers(),
        "threads": config.threads,
        "timeout": config.timeout_s,
        "graceful_timeout": 30,
        "accesslog": "-",
        # Recycle workers now and then; an upload loses nothing (each chunk is its own request).
        "max_requests": 2000,
        "max_requests_jitter": 200,
    }


def _run_gunicorn(BaseApplication, settings: dict) -> None:
    class StampApplication(BaseApplication):
        def load_config(self):
            for name, value in settings.items():
                self.cfg.set(name, value)

        def load(self):
            from .wsgi import server

            return server

    StampApplication().run()
