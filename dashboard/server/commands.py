"""The dashboard's ``stamp`` subcommands, ``stamp serve`` and ``stamp worker``.

The engine's command line (:mod:`stamp_engine.cli`) knows nothing of the dashboard: it finds these
through the ``stamp.commands`` entry points declared in ``pyproject.toml``.  Each entry point is a
function that adds one subcommand to the ``stamp`` parser and sets its ``handler``.  This module
imports neither Dash nor Celery, so ``stamp serve --help`` stays fast; the handlers import them.
"""

from __future__ import annotations

import argparse
from typing import Any

from stamp_engine.cli import EXIT_INTERNAL, EXIT_OK, number_type, print_error

_positive_int = number_type(int, minimum=1)


def _port(text: str) -> int:
    value = _positive_int(text)
    if value > 65535:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number (1–65535)")
    return value


def add_serve(commands: argparse._SubParsersAction) -> None:
    """Add ``stamp serve`` (start the dashboard) to the ``stamp`` parser's subcommands."""
    serve = commands.add_parser(
        "serve",
        help="start the dashboard",
        description="Start the STAMP dashboard web server.",
    )
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1)")
    serve.add_argument("--port", type=_port, default=8050, help="port to listen on (default: 8050)")
    serve.add_argument(
        "--production", action="store_true",
        help="run with a production WSGI server and worker processes instead of the development server",
    )
    serve.add_argument(
        "--workers", type=_positive_int, default=None, metavar="N",
        help="worker processes with --production (default: the server's choice)",
    )
    serve.set_defaults(handler=run_serve)


def add_worker(commands: argparse._SubParsersAction) -> None:
    """Add ``stamp worker`` (a Celery worker for the dashboard's jobs) to the ``stamp`` parser's subcommands."""
    worker = commands.add_parser(
        "worker",
        help="run a Celery worker for the dashboard's background jobs",
        description="Run a Celery worker (needs STAMP_BACKGROUND=celery, STAMP_REDIS_URL and the web "
                    "servers' STAMP_CACHE_DIR); extra arguments go to `celery worker`.",
    )
    # Every other option (--concurrency 4, --pool solo, --hostname …) goes to `celery worker`
    # unchanged: see stamp_engine.cli.parse_command_line.
    worker.set_defaults(handler=run_worker, unknown_options=[])


def run_serve(args: argparse.Namespace) -> int:
    """``stamp serve``: start the dashboard (imports Dash only now)."""
    try:
        from .serve import serve
    except ImportError as exc:
        print_error(f"the dashboard cannot be started: {exc}")
        return EXIT_INTERNAL
    options: dict[str, Any] = {"host": args.host, "port": args.port, "production": args.production}
    if args.workers is not None:
        options["workers"] = args.workers
    result = serve(**options)
    return result if isinstance(result, int) else EXIT_OK


def run_worker(args: argparse.Namespace) -> int:
    """``stamp worker``: a Celery worker running the dashboard's jobs (imports Celery only now)."""
    try:
        from . import worker
    except ImportError as exc:
        print_error(f"the worker cannot be started: {exc}")
        return EXIT_INTERNAL
    worker.run_worker(list(args.unknown_options))
    return EXIT_OK
