"""The one place the background-callback manager is built.

``diskcache`` runs jobs in local worker processes with results in
``<cache>/jobs``.  ``celery`` (several web workers, possibly on several machines)
sends them to Celery workers through Redis (``STAMP_REDIS_URL``, broker and result
store); the worker must import the same app so its callbacks are registered as
tasks: ``celery -A dashboard.server.wsgi:celery_app worker`` or ``python -m dashboard.server.worker``.

Processed cubes are *not* sent through Redis (they can be hundreds of MB): web and
Celery workers share them through the diskcache in ``STAMP_CACHE_DIR/cubes``, which
must therefore be one folder seen by all of them (the same machine, or a shared
filesystem with working file locks — uploads are stored there too).  Only job
progress and the small job results travel through Redis.
"""

from __future__ import annotations

import logging
import sys
import time

from .config import Config, ConfigError

#: Seconds a finished job's result stays in the job store before it is dropped.
JOB_RESULT_EXPIRE_S = 3600
#: A Celery job whose heartbeat is older than this is lost (its worker died or was cut off).
LOST_AFTER_S = 10.0
#: Marks a message this module wrote for a job that ended without an answer.
ENDED_MARK = "stamp-job-ended: "
_HEARTBEAT = "stamp-heartbeat-"
_SUBMITTED = "stamp-submitted-"
_ENDED = "stamp-ended-"
#: What the page says when an unexpected error happened inside a job.
UNEXPECTED = "Processing failed unexpectedly; the server log has the details"


def ended_without_answer(message: str) -> dict:
    """A job result for Dash that makes the callback's ``on_error`` handler show ``message``."""
    return {"background_callback_error": {"msg": ENDED_MARK + message, "tb": ""}}


def job_error_message(error: Exception) -> str:
    """The user's message for an error Dash reports from a background callback (see :func:`job_error_handler`)."""
    text = str(error)
    if ENDED_MARK in text:
        return text.split(ENDED_MARK, 1)[1].split("\n", 1)[0]
    logging.getLogger("stamp.jobs").error("job failed unexpectedly: %s", text)
    return UNEXPECTED


def job_heartbeat():
    """A function a job calls every second while it runs, so web servers can tell when its worker is lost.

    Only Celery jobs need one (a local job's process is watched directly); None elsewhere.
    A Celery worker has imported Celery before it runs a task; a local job's process has not,
    and importing it there to find out was 0.17 s of every job's start.
    """
    if "celery" not in sys.modules:
        return None
    from celery import current_task
    task = current_task
    task_id = getattr(getattr(task, "request", None), "id", None) if task else None
    if not task_id:
        return None
    backend = task.app.backend
    key = _HEARTBEAT + task_id

    def beat() -> None:
        try:
            backend.set(key, repr(time.time()))
        except Exception:  # noqa: BLE001 — a broker hiccup must not stop the job
            pass

    return beat


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
            # The job's own budget kills it at STAMP_JOB_TIMEOUT_S; this only backs it up.
            task_time_limit=int(config.job_timeout_s) + 60,
            # Acknowledged when it starts, never re-delivered: a file that crashes a worker
            # would crash the next one too.  A lost job is reported to its page instead.
            task_acks_late=False,
            broker_connection_retry_on_startup=True,
            worker_hijack_root_logger=False,
        )
        return _watched_celery_manager(CeleryManager, celery_app, config)

    import diskcache

    class ForkServerDiskcacheManager(DiskcacheManager):
        """Starts each job from a fork server instead of forking the threaded web server.

        A fork taken while another server thread holds SQLite's locks (diskcache's job
        and cube stores) leaves the child waiting on them forever: seen as a job that
        never starts when several sessions press Process at once.

        Dash takes a job that ended without writing a result for a cancelled one and
        ends the page's wait in silence; here only jobs this server ended on purpose
        (Cancel, a newer job of the same callback) do, every other one — killed,
        crashed — ends with a message through the callback's ``on_error``.
        """

        # The fork server reaps a finished job at once, so its pid can vanish between
        # Dash's "does it exist" and "look at it" (psutil.NoSuchProcess): it has ended.
        def job_running(self, job):
            import psutil

            try:
                return super().job_running(job)
            except psutil.NoSuchProcess:
                return False

        def call_job_fn(self, key, job_fn, args, context):
            pid = _start_in_forkserver(self, key, job_fn, args, context)
            self.handle.delete(_ENDED + str(pid))  # a reused pid must not inherit an old job's mark
            return pid

        def terminate_job(self, job):
            import psutil

            if job is not None:
                self.handle.set(_ENDED + str(job), True, expire=JOB_RESULT_EXPIRE_S)
            try:
                super().terminate_job(job)
            except psutil.NoSuchProcess:
                pass

        def get_result(self, key, job):
            result = super().get_result(key, job)
            if result is not self.UNDEFINED or job is None or self.job_running(job):
                return result
            result = super().get_result(key, job)  # it may have answered between the two looks
            if result is not self.UNDEFINED or self.handle.get(_ENDED + str(job)):
                return result
            return ended_without_answer(
                "The job's process ended without an answer (it was killed or crashed); nothing was kept — "
                "press Process again."
            )

    config.jobs_dir.mkdir(parents=True, exist_ok=True)
    warm_forkserver()
    return ForkServerDiskcacheManager(diskcache.Cache(str(config.jobs_dir)), expire=JOB_RESULT_EXPIRE_S)


#: Imported once by the fork server, so that a job's process starts with them loaded: unpickling
#: a job otherwise imports Dash, the dashboard and the engine anew in every job (seconds per click).
#: The last one makes a tiny result, so that what plotly.py and the engine set up on first use is
#: set up too (:mod:`dashboard.server.warm_jobs`).
FORKSERVER_PRELOAD = ("dashboard.app", "dashboard.jobs", "stamp_engine.assemble", "stamp_engine.recipe",
                      "stamp_engine.figures", "astropy.io.fits", "astropy.time", "dashboard.server.warm_jobs")


def warm_forkserver() -> None:
    """Start the jobs' fork server now (it imports :data:`FORKSERVER_PRELOAD` while the web server starts)."""
    from multiprocess import forkserver, get_context

    get_context("forkserver").set_forkserver_preload(list(FORKSERVER_PRELOAD))
    forkserver.ensure_running()


def _start_in_forkserver(manager, key, job_fn, args, context) -> int:
    from multiprocess import get_context

    process = get_context("forkserver").Process(
        target=job_fn, args=(key, manager._make_progress_key(key), args, context)
    )
    process.start()
    return process.pid


def _watched_celery_manager(CeleryManager, celery_app, config: Config):
    """Dash's CeleryManager, except that a job lost with its worker ends with a message, not silence."""
    queue_limit_s = config.job_timeout_s

    class WatchedCeleryManager(CeleryManager):
        def call_job_fn(self, key, job_fn, args, context):
            task_id = super().call_job_fn(key, job_fn, args, context)
            self.handle.backend.set(_SUBMITTED + task_id, repr(time.time()))
            return task_id

        def terminate_job(self, job):
            if job is not None:
                self.handle.backend.set(_ENDED + job, "1")
            super().terminate_job(job)

        def get_result(self, key, job):
            result = super().get_result(key, job)
            if result is not self.UNDEFINED or job is None:
                return result
            backend = self.handle.backend
            if backend.get(_ENDED + job) is not None:
                return result
            message = self._why_lost(job)
            if message is None:
                return result
            result = super().get_result(key, job)  # it may have answered meanwhile
            return result if result is not self.UNDEFINED else ended_without_answer(message)

        def _why_lost(self, job) -> str | None:
            backend = self.handle.backend
            state = self.get_task(job).state
            if state == "FAILURE":
                return ("The worker process running the job died (killed, or out of memory); nothing was kept — "
                        "press Process again.")
            if state == "REVOKED":
                return "The job was stopped on its worker; press Process again."
            if state not in ("PENDING", "RECEIVED", "STARTED", "RETRY", "PROGRESS"):
                return None
            now = time.time()
            beat = backend.get(_HEARTBEAT + job)
            if beat is not None:
                if now - float(beat) > LOST_AFTER_S:
                    return "The worker was lost while running the job; nothing was kept — press Process again."
                return None
            submitted = backend.get(_SUBMITTED + job)
            if submitted is not None and now - float(submitted) > queue_limit_s:
                return f"No worker started the job within {queue_limit_s:.0f} s; press Process again later."
            return None

    return WatchedCeleryManager(celery_app, expire=JOB_RESULT_EXPIRE_S)
