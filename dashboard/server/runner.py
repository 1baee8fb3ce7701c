"""How every job runs on the server — processing and downloads alike.

:func:`run_guarded` holds one job slot (:class:`~dashboard.server.gate.JobGate`),
hands the work a fresh scratch folder as its ``workdir``
(:class:`~dashboard.server.scratch.ScratchSpace`), turns a refusal, running out of
memory or an unexpected error into the job's own outcome carrying a message in a
user's words, and writes one JSON line per job on the ``stamp.jobs`` logger (who,
what, how long, outcome — never file contents).  :func:`run_in_child` runs a job in a
child process held to the job budget (:mod:`dashboard.server.budget`).
"""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path
from typing import Any, Callable, TypeVar

from stamp_engine.progress import Progress as Report

from ..cache import session_hash
from .budget import JobStopped, run_in_budget
from .gate import JobRefused
from .services import Services

Outcome = TypeVar("Outcome")

#: One JSON line per job (who, what, how long, outcome), never file contents.
job_log = logging.getLogger("stamp.jobs")


def run_guarded(
    services: Services,
    work: Callable[[Path, Report], tuple[Outcome, str]],
    failed: Callable[[str, str], Outcome],
    *,
    session: str | None,
    record: dict[str, Any],
    unexpected: str,
    report: Report | None = None,
    check: Callable[[], tuple[Outcome, str] | None] | None = None,
) -> Outcome:
    """``work(workdir, report) -> (outcome, status)`` within the job limits, in a scratch folder, logged.

    Parameters
    ----------
    work : callable
        The job; ``status`` is one word for the log (``ok``, ``failed``, …).  It may
        add to ``record`` (e.g. how many bytes it read).
    failed : callable
        ``failed(message, status)``: the outcome of a job stopped by the runner —
        ``refused`` (``"Not started: …"``, the job limits), ``out-of-memory`` (the
        stage it reached and the memory limit) or ``error`` (``unexpected``; the
        traceback goes to the log).
    session : str, optional
        The page's session id: the job counts against that session's limit (its
        hash is what is logged); None for calls outside a page.
    record : dict
        The log line's fields (``event`` and what the job is about).
    report : callable, optional
        ``report(stage, done, total)``, forwarded to ``work``.
    check : callable, optional
        ``check() -> (outcome, status)`` to refuse before a job slot is taken, or None to go on.

    Never raises.
    """
    started = time.monotonic()
    owner = session_hash(session) if session else None
    record.setdefault("session", owner)
    stage = ["starting"]

    def noted(name: str, done: int, total: int) -> None:
        stage[0] = name
        if report is not None:
            report(name, done, total)

    outcome, status = failed(unexpected, "error"), "error"
    try:
        services.scratch.sweep()
        refused = check() if check is not None else None
        if refused is not None:
            outcome, status = refused
            return outcome
        with services.gate.slot(owner), services.scratch.job(prefix=f"stamp-{record.get('event', 'job')}-") as workdir:
            outcome, status = work(workdir, noted)
    except JobRefused as exc:
        outcome, status = failed(f"Not started: {exc}", "refused"), "refused"
    except MemoryError:
        outcome, status = failed(out_of_memory(stage[0], services), "out-of-memory"), "out-of-memory"
    except Exception as exc:  # noqa: BLE001 — a job must never take the page (or the worker) down
        record["error"] = type(exc).__name__
        job_log.exception("%s failed unexpectedly", record.get("event", "job"))
    finally:
        record.update(outcome=status, duration_s=round(time.monotonic() - started, 3))
        message = getattr(outcome, "message", None)
        if message:
            record["message"] = message
        job_log.info(json.dumps(record, default=str, sort_keys=True))
    return outcome


def run_in_child(
    services: Services,
    work: Callable[[Report], Outcome],
    stopped: Callable[[str, str], Outcome],
    *,
    session: str | None,
    record: dict[str, Any],
    report: Report | None = None,
    heartbeat: Callable[[], None] | None = None,
    on_child: Callable[[int], None] | None = None,
) -> Outcome:
    """``work(report)`` in a child process held to ``services.budget`` (in this process when there is none).

    A child that is killed, crashes, runs out of memory or past the deadline
    (:class:`dashboard.server.budget.JobStopped`) becomes ``stopped(message, reason)``
    and a job log line with ``record``'s fields; its scratch folder is removed at once.
    """
    if services.budget is None:
        return work(report if report is not None else (lambda stage, done, total: None))
    started = time.monotonic()
    answer = run_in_budget(
        work, services.budget, report=report, heartbeat=heartbeat, on_child=on_child,
        after_child=services.scratch.remove,
    )
    if not isinstance(answer, JobStopped):
        return answer
    job_log.info(json.dumps({
        **record, "session": session_hash(session) if session else None, "outcome": answer.reason,
        "message": answer.message, "duration_s": round(time.monotonic() - started, 3),
    }, default=str, sort_keys=True))
    return stopped(answer.message, answer.reason)


def out_of_memory(stage: str, services: Services) -> str:
    """What a job stopped for lack of memory says: where it was and the limit."""
    limit = f" of {services.budget.memory_mb} MB" if services.budget is not None else ""
    return (f"Stopped at: {stage}: the job needed more than its memory limit{limit} (STAMP_JOB_MEMORY_MB). "
            "The file may declare more data than it holds.")
