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
        Production web workers (default :func:`default_workers`).

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
        from .app import create_app

        print(f"STAMP dashboard on {url}  (Ctrl+C to stop)", file=sys.stderr)
        create_app(config).run(host=host, port=port, debug=False)
        return
    workers = workers or default_workers()
    try:
        from gunicorn.app.base import BaseApplication
    except ImportError:
        BaseApplication = None
    if BaseApplication is not None:
        _run_gunicorn(BaseApplication, host, port, workers)
        return
    try:
        import waitress
    except ImportError:
        raise SystemExit(
            "stamp serve --production needs gunicorn (Linux/macOS) or waitress: pip install gunicorn"
        ) from None
    from .app import create_app

    print(f"STAMP dashboard (waitress, {workers * 4} threads) on {url}", file=sys.stderr)
    waitress.serve(create_app(config).server, host=host, port=port, threads=workers * 4)


def _run_gunicorn(BaseApplication, host: str, port: int, workers: int) -> None:
    class StampApplication(BaseApplication):
        def load_config(self):
            self.cfg.set("bind", f"{host}:{port}")
            self.cfg.set("workers", workers)
            # Uploads arrive in one request; processing runs in background jobs, not here.
            self.cfg.set("timeout", 300)

        def load(self):
            from .wsgi import server

            return server

    StampApplication().run()
