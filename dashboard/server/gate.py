"""Limits on running jobs, per session and server-wide.

The count lives in the shared cache, so it holds across every web worker, local job
process and Celery worker using it.  A job whose process was killed (Cancel, a
crashed worker) cannot give its slot back: the slot is recognised as stale — the
recorded process no longer exists on this host, or the job is older than
``STAMP_JOB_TIMEOUT_S`` — and dropped by the next job (scratch folders follow the
same rule, :mod:`dashboard.server.scratch`).
"""

from __future__ import annotations

import os
import secrets
import socket
import time
from contextlib import contextmanager
from typing import Iterator

_RUNNING = "jobs-running"


class JobRefused(RuntimeError):
    """A job cannot start now; the message says why in a user's words."""


def _process_alive(pid: int) -> bool:
    import psutil

    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def stale_process(host: str, pid: int, started: float, timeout_s: float, now: float) -> bool:
    """Whether work of process ``pid`` on ``host`` started at ``started`` is over: the process is gone
    from this host, or the work is older than ``timeout_s``."""
    return now - started > timeout_s or (host == socket.gethostname() and not _process_alive(pid))


class JobGate:
    """Counts running jobs in the shared cache and refuses those over the limits.

    Parameters
    ----------
    disk : diskcache.Cache
        The shared cache (its ``transact`` makes the count safe across processes).
    max_jobs, max_session_jobs : int
        Server-wide and per-session limits.
    timeout_s : float
        A job older than this no longer counts.
    """

    def __init__(self, disk, max_jobs: int, max_session_jobs: int, timeout_s: float):
        self.disk = disk
        self.max_jobs = max_jobs
        self.max_session_jobs = max_session_jobs
        self.timeout_s = timeout_s

    def running(self) -> dict[str, dict]:
        """Live jobs: token → {session, host, pid, started}."""
        now = time.time()
        jobs = self.disk.get(_RUNNING) or {}
        return {t: j for t, j in jobs.items() if not stale_process(j["host"], j["pid"], j["started"], self.timeout_s, now)}

    @contextmanager
    def slot(self, session: str | None) -> Iterator[None]:
        """Hold one job slot for ``session`` (a session hash, or None for calls outside a page).

        Raises
        ------
        JobRefused
            When the session or the server already runs as many jobs as allowed.
        """
        token = secrets.token_hex(8)
        with self.disk.transact():
            jobs = self.running()
            if session is not None:
                mine = sum(1 for j in jobs.values() if j["session"] == session)
                if mine >= self.max_session_jobs:
                    raise JobRefused(
                        f"this page already runs {mine} job(s), the most allowed: wait for it to finish or press Cancel"
                    )
            if len(jobs) >= self.max_jobs:
                raise JobRefused(
                    f"the server is busy ({len(jobs)} jobs running, its limit); press Process again in a minute"
                )
            jobs[token] = {"session": session, "host": socket.gethostname(), "pid": os.getpid(), "started": time.time()}
            self.disk.set(_RUNNING, jobs)
        try:
            yield
        finally:
            with self.disk.transact():
                jobs = self.running()
                jobs.pop(token, None)
                self.disk.set(_RUNNING, jobs)
