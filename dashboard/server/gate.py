"""Limits on running jobs (per session and server-wide) and per-process scratch folders.

Both live in the shared cache folder, so they hold across every web worker, local
job process and Celery worker using it.  A job whose process was killed (Cancel, a
crashed worker) cannot clean up after itself: its slot and scratch folder are
recognised as stale — the recorded process no longer exists on this host, or the
job is older than ``STAMP_JOB_TIMEOUT_S`` — and dropped by the next job.
"""

from __future__ import annotations

import os
import secrets
import shutil
import socket
import tempfile
import threading
import time
from contextlib import contextmanager
from pathlib import Path
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


def _stale(host: str, pid: int, started: float, timeout_s: float, now: float) -> bool:
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
        return {t: j for t, j in jobs.items() if not _stale(j["host"], j["pid"], j["started"], self.timeout_s, now)}

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


class ScratchSpace:
    """Per-process scratch folders under ``<cache>/scratch`` for the engine's temporary files.

    :func:`stamp_engine.load` expands archives into a ``tempfile.TemporaryDirectory``:
    while a job runs, this process's ``tempfile.tempdir`` points into
    ``<cache>/scratch/<host>-<pid>``.  Normal ends and failures are cleaned by the
    engine and then by :meth:`job` (which removes the whole folder when the last job of
    the process ends); a killed process leaves its folder behind, and :meth:`sweep`
    (run as every job starts) removes folders of processes that no longer exist.
    """

    # One per process: tempfile.tempdir is per process, and threads of one process share it.
    _lock = threading.Lock()
    _active = 0
    _saved: str | None = None

    def __init__(self, root: Path, timeout_s: float):
        self.root = Path(root)
        self.timeout_s = timeout_s

    def own_folder(self) -> Path:
        return self.folder_of(os.getpid())

    def folder_of(self, pid: int) -> Path:
        return self.root / f"{socket.gethostname()}-{pid}"

    def remove(self, pid: int) -> None:
        """Remove the scratch folder of process ``pid`` of this host (a job process that has ended)."""
        shutil.rmtree(self.folder_of(pid), ignore_errors=True)

    def sweep(self) -> list[Path]:
        """Remove scratch folders of dead processes on this host (or older than the job timeout)."""
        removed = []
        if not self.root.is_dir():
            return removed
        now = time.time()
        for folder in self.root.iterdir():
            host, _, pid = folder.name.rpartition("-")
            if not pid.isdigit() or folder == self.own_folder():
                continue
            try:
                started = folder.stat().st_mtime
            except FileNotFoundError:
                continue
            if _stale(host, int(pid), started, self.timeout_s, now):
                shutil.rmtree(folder, ignore_errors=True)
                removed.append(folder)
        return removed

    @contextmanager
    def job(self) -> Iterator[Path]:
        """Point temporary files of this process into its scratch folder while the job runs."""
        folder = self.own_folder()
        cls = type(self)
        with cls._lock:
            folder.mkdir(parents=True, exist_ok=True, mode=0o700)
            if cls._active == 0:
                cls._saved = tempfile.tempdir
            cls._active += 1
            tempfile.tempdir = str(folder)
        try:
            yield folder
        finally:
            with cls._lock:
                cls._active -= 1
                if cls._active == 0:
                    tempfile.tempdir = cls._saved
                    shutil.rmtree(folder, ignore_errors=True)
