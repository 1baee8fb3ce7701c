"""WSGI entry point: ``gunicorn dashboard.server.wsgi:server`` (configured by STAMP_* variables).

With ``STAMP_BACKGROUND=celery``, start the job workers from the same module so
they register the same callbacks: ``celery -A dashboard.server.wsgi:celery_app worker``.
"""

from __future__ import annotations

import logging
import sys

from dash import CeleryManager

from ..app import create_app
from .config import ConfigError


def configure_logging() -> None:
    """Send the ``stamp`` loggers (one JSON line per job) to stderr, unless the host configured them."""
    logger = logging.getLogger("stamp")
    if not logger.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(asctime)s %(name)s %(levelname)s %(message)s"))
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)


configure_logging()
try:
    app = create_app()
except ConfigError as exc:  # one clear line (which variable, what is wrong), not a traceback per worker
    raise SystemExit(f"STAMP cannot start: {exc}") from None
server = app.server

_manager = server.extensions["stamp_background_manager"]
#: The Celery application when STAMP_BACKGROUND=celery, else None.
celery_app = _manager.handle if isinstance(_manager, CeleryManager) else None
