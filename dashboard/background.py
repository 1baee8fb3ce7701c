"""The one place the background-callback manager is built.

``diskcache`` runs jobs in local worker processes with results in
``<cache>/jobs``.  ``celery`` (several web workers, possibly on several machines)
sends them to Celery workers through Redis (``STAMP_REDIS_URL``); the worker must
import the same app so its callbacks are registered as tasks:
``celery -A dashboard.wsgi:celery_app worker``.
"""

from __future__ import annotations

from .config import Config, ConfigError

#: Seconds a finished job's result stays in the job store before it is dropped.
JOB_RESULT_EXPIRE_S = 3600


def build_background_manager(config: Config):
    """A Dash background-callback manager for ``config.background``.

    Raises
    ------
    ConfigError
        When ``celery`` is asked for but not installed.
    """
    from dash import CeleryManager, DiskcacheManager

    if config.background == "celery":
        try:
            from celery import Celery
        except ImportError:
            raise ConfigError("STAMP_BACKGROUND=celery needs the celery and redis packages installed") from None
        celery_app = Celery("stamp", broker=config.redis_url, backend=config.redis_url)
        return CeleryManager(celery_app, expire=JOB_RESULT_EXPIRE_S)

    import diskcache

    config.jobs_dir.mkdir(parents=True, exist_ok=True)
    return DiskcacheManager(diskcache.Cache(str(config.jobs_dir)), expire=JOB_RESULT_EXPIRE_S)
