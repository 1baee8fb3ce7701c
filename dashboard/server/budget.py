"""One resource budget per job, enforced by the operating system.

A job (processing or a download build) runs in a child process of the job
runner (Dash's job process, or the Celery task) with

* a memory limit (``RLIMIT_DATA``: what the job may allocate beyond what the
  process already holds, ``STAMP_JOB_MEMORY_MB``) — numpy and the readers then raise
  ``MemoryError`` instead of driving the machine out of memory.  Not ``RLIMIT_AS``:
  that also counts read-only maps of the input files, which the job reads its columns
  through (page cache the kernel can drop, not memory the job holds), so five 0.57 GB
  segments of a 10,000 × 2,040 observation ran out of a 3 GB budget while the job held
  under 1 GB;
* a wall-clock deadline (``STAMP_JOB_TIMEOUT_S``) after which its whole process
  group is killed with ``SIGKILL`` — a reader looping inside libhdf5 never looks at
  a Python signal handler, so nothing short of killing it stops it;
* its own process group and ``PR_SET_PDEATHSIG``, so killing the runner (Cancel, a
  lost worker) takes the child down too instead of leaving it spinning;
* NumPy's transparent-huge-page advice turned off
  (:func:`stamp_engine.settings.numpy_without_huge_pages`): on a server whose memory is
  fragmented, the kernel compacts memory before it gives a job its first huge pages, and
  that stall (1.1 s of a 1.4 s normalize of 10,000 × 2,040 on the project's machine,
  measured) costs more than huge pages save.

The runner stays small: it relays the child's progress reports, beats the
heartbeat that tells a web server the job is alive, and turns every way the child
can end — an answer, a crash (signal), a kill, the deadline — into a value or a
message that names what the job was doing.  A child that ended without answering
had its scratch folder removed and no longer counts against the job limits (the
limits recognise its dead process).
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import time
import traceback
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any, Callable

from stamp_engine.progress import Progress as Report
from stamp_engine.settings import numpy_without_huge_pages

log = logging.getLogger("stamp.jobs")


#: Seconds between heartbeats of a running job (a web server calls a job lost after a few missed).
HEARTBEAT_S = 1.0


@dataclass(frozen=True)
class JobBudget:
    """What one job may use: ``memory_mb`` beyond its process's own, ``timeout_s`` of wall-clock time."""

    memory_mb: int
    timeout_s: float


@dataclass(frozen=True)
class JobStopped:
    """A job that ended without an answer; ``message`` says why in a user's words.

    ``reason`` is one word for the job log: ``timeout``, ``killed``, ``crashed`` or ``error``.
    """

    message: str
    reason: str


def _status_kb(field_name: str) -> int | None:
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith(field_name + ":"):
                    return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        return None
    return None


def limit_memory(extra_bytes: int) -> None:
    """Cap this process's data segment (heap and private writable maps) at its current size plus ``extra_bytes``.

    Both soft and hard limits are lowered, so the job cannot raise them again.  Read-only
    and shared file maps are not counted (Linux ≥ 4.7), so a job may map input files of
    any size.  Where ``/proc`` is missing (not Linux) nothing is limited.
    """
    import resource

    current_kb = _status_kb("VmData")
    if current_kb is None:
        return
    limit = current_kb * 1024 + extra_bytes
    _, hard = resource.getrlimit(resource.RLIMIT_DATA)
    if hard != resource.RLIM_INFINITY:
        limit = min(limit, hard)
    resource.setrlimit(resource.RLIMIT_DATA, (limit, limit))


def _die_with_parent(parent: int) -> None:
    if sys.platform.startswith("linux"):
        import ctypes

        try:
            ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
        except (OSError, AttributeError):
            pass
    if os.getppid() != parent:  # the parent died before prctl took effect
        os._exit(1)


def _child_main(work: Callable[[Report], Any], memory_bytes: int, parent: int, channel) -> None:
    os.setpgid(0, 0)
    _die_with_parent(parent)
    limit_memory(memory_bytes)
    numpy_without_huge_pages()

    def report(stage: str, done: int, total: int) -> None:
        channel.send(("progress", (stage, done, total)))

    try:
        answer = work(report)
    except MemoryError:
        channel.send(("memory", None))
    except BaseException:  # noqa: BLE001 — everything must reach the runner as a message
        channel.send(("error", traceback.format_exc(limit=20)))
    else:
        channel.send(("done", answer))
    finally:
        channel.close()


def signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


def run_in_budget(
    work: Callable[[Report], Any],
    budget: JobBudget,
    *,
    report: Report | None = None,
    heartbeat: Callable[[], None] | None = None,
    on_child: Callable[[int], None] | None = None,
    after_child: Callable[[int], None] | None = None,
    poll_s: float = 0.1,
) -> Any:
    """Run ``work(report)`` in a child process within ``budget``; its return value or a :class:`JobStopped`.

    Parameters
    ----------
    work : callable
        ``work(report) -> picklable value``; runs in a forked child (closures are fine).
    budget : JobBudget
    report : callable, optional
        Receives the child's ``(stage, done, total)`` progress reports.
    heartbeat : callable, optional
        Called about every :data:`HEARTBEAT_S` while the child runs.
    on_child : callable, optional
        Called with the child's pid once it runs (tests use it to kill it).
    after_child : callable, optional
        Called with the child's pid once it is gone, whatever the end (removes its scratch folder).
    """
    # os.fork, not multiprocessing: a Celery pool process is "daemonic", and multiprocessing
    # refuses children there.  The runner is small and its fork is the job's only one.
    read_fd, write_fd = os.pipe()
    started = time.monotonic()
    parent = os.getpid()
    pid = os.fork()
    if pid == 0:  # the child: never return into the runner's stack
        try:
            os.close(read_fd)
            _child_main(work, budget.memory_mb * 1024 * 1024, parent, Connection(write_fd, readable=False))
        finally:
            os._exit(0)
    os.close(write_fd)
    receiver = Connection(read_fd, writable=False)
    child = _Child(pid)
    stage = "starting"
    if on_child is not None:
        on_child(pid)
    next_beat = 0.0
    try:
        while True:
            now = time.monotonic()
            if heartbeat is not None and now >= next_beat:
                heartbeat()
                next_beat = now + HEARTBEAT_S
            if now - started > budget.timeout_s:
                _kill_group(pid)
                return JobStopped(
                    f"Stopped after {budget.timeout_s:.0f} s (the job time limit, STAMP_JOB_TIMEOUT_S) "
                    f"at: {stage}. The file may be damaged or too large for this server.",
                    "timeout",
                )
            if not receiver.poll(poll_s):
                if child.alive():
                    continue
                if receiver.poll(0):  # the last messages arrived as it ended
                    continue
                return _ended_silently(child, stage)
            try:
                kind, payload = receiver.recv()
            except (EOFError, OSError):
                return _ended_silently(child, stage)
            if kind == "progress":
                stage = payload[0]
                if report is not None:
                    report(*payload)
            elif kind == "done":
                return payload
            elif kind == "memory":
                return JobStopped(
                    f"Stopped at: {stage}: the job needed more than its memory limit of {budget.memory_mb} MB "
                    "(STAMP_JOB_MEMORY_MB).",
                    "memory",
                )
            else:
                log.error("job failed unexpectedly in its process:\n%s", payload)
                return JobStopped("Processing failed unexpectedly; the server log has the details", "error")
    finally:
        if child.alive():
            _kill_group(pid)
        child.wait(5)
        receiver.close()
        if after_child is not None:
            after_child(pid)


class _Child:
    """A forked child's end: alive until reaped, then its exit code (negative: killed by that signal)."""

    def __init__(self, pid: int):
        self.pid = pid
        self.exitcode: int | None = None

    def alive(self) -> bool:
        if self.exitcode is None:
            try:
                done, status = os.waitpid(self.pid, os.WNOHANG)
            except ChildProcessError:
                self.exitcode = -1
                return False
            if done:
                self.exitcode = os.waitstatus_to_exitcode(status)
        return self.exitcode is None

    def wait(self, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        while self.alive() and time.monotonic() < deadline:
            time.sleep(0.02)


def _kill_group(pid: int) -> None:
    for kill in (lambda: os.killpg(pid, signal.SIGKILL), lambda: os.kill(pid, signal.SIGKILL)):
        try:
            kill()
        except (ProcessLookupError, PermissionError):
            pass


def _ended_silently(child: _Child, stage: str) -> JobStopped:
    child.wait(5)
    code = child.exitcode
    if code is not None and code < 0:
        name = signal_name(-code)
        if -code in (signal.SIGKILL, signal.SIGTERM):
            return JobStopped(
                f"The job's process was killed ({name}) at: {stage}. Nothing was kept; press Process again.",
                "killed",
            )
        return JobStopped(
            f"The job's process crashed ({name}) at: {stage}. A file reader failed on damaged data; "
            "check the files and press Process again.",
            "crashed",
        )
    return JobStopped(
        f"The job's process ended without an answer (exit status {code}) at: {stage}; press Process again.",
        "crashed",
    )
