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

    class ForkServerDiskcacheManager(DiskcacheManager):
        """Starts each job from a fork server instead of forking the threaded web server.

        A fork taken while another server thread holds SQLite's locks (diskcache's job
        and cube stores) leaves the child waiting on them forever: seen as a job that
        never starts when several sessions press Process at once.
        """

        def call_job_fn(self, key, job_fn, args, context):
            from multiprocess import get_context

            process = get_context("forkserver").Process(
                target=job_fn, args=(key, self._make_progress_key(key), args, context)
            )
            process.start()
            return process.pid

        # The fork server reaps a finished job at once, so its pid can vanish between
        # Dash's "does it exist" and "look at it" (psutil.NoSuchProcess): it has ended.
        def terminate_job(self, job):
            import psutil

            try:
                super().terminate_job(job)
            except psutil.NoSuchProcess:
                pass

        def job_running(self, job):
            import psutil

            try:
                return super().job_running(job)
            except psutil.NoSuchProcess:
                return False

    config.jobs_dir.mkdir(parents=True, exist_ok=True)
    return ForkServerDiskcacheManager(diskcache.Cache(str(config.jobs_dir)), expire=JOB_RESULT_EXPIRE_S)
