"""The one place the background-callback manager is built.

``diskcache`` runs jobs in local worker processes with results in
``<cache>/jobs``.  ``celery`` (several web workers, possibly on several machines)
sends them to Celery workers through Redis (``STAMP_REDIS_URL``, broker and result
store); the worker must import the same app so its callbacks are registered as
tasks: ``celery -A dashboard.wsgi:celery_app worker`` or ``python -m dashboard.worker``.

Processed cubes are *not* sent through Redis (they can be hundreds of MB): web and
Celery workers share them through the diskcache in ``STAMP_CACHE_DIR/cubes``, which
must therefore be one folder seen by all of them (the same machine, or a shared
filesystem with working file locks — uploads are stored there too).  Only job
progress and the small job results travel through Redis.
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
        celery_app.conf.update(
            # Jobs are long and few: a worker takes one at a time, so a free worker gets the next.
            worker_prefetch_multiplier=1,
            result_expires=JOB_RESULT_EXPIRE_S,
            # A stuck job is killed; the job limits stop counting it at the same time.
            task_time_limit=int(config.job_timeout_s),
            broker_connection_retry_on_startup=True,
            worker_hijack_root_logger=False,
        )
        return CeleryManager(celery_app, expire=JOB_RESULT_EXPIRE_S)

    import diskcache

    config.jobs_dir.mkdir(parents=True, exist_ok=True)
    return DiskcacheManager(diskcache.Cache(str(config.jobs_dir)), expire=JOB_RESULT_EXPIRE_S)
