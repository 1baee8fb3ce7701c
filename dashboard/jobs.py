"""The processing job behind the Process button, as a plain function.

The background callback (``features/job.py``) only forwards its arguments here and
the progress reports back to the progress bar, so the job's logic is tested
without Dash or a browser.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass, field
from pathlib import PurePath
from typing import Any, Callable, Mapping

from stamp_engine.problems import NoUsableData, StampError

from .budget import run_in_budget
from .cache import session_hash
from .config import UnsafePath
from .datasets import Dataset, resolve
from .limits import JobRefused
from .options import DataLimits, parse_element, parse_process_options
from .pipeline import CacheTooSmall, ThrottledProgress
from .render import limits_of, problem_records, summarize
from .services import Services
from .storage import disk_health

Report = Callable[[str, int, int], None]

#: One JSON line per job (who, what, how long, outcome), never file contents.
job_log = logging.getLogger("stamp.jobs")


@dataclass
class JobOutcome:
    """What one job run produced.

    Attributes
    ----------
    result : dict or None
        For the browser's result store: ``key`` of the processed cube, ``dataset``
        descriptor, data ``limits``, ``problems``, ``label`` and ``summary`` rows.
        None when nothing new can be shown.
    message : str or None
        What went wrong, in a user's words (shown in an alert).
    field_errors : dict
        Control → message when options were refused.
    problems : list of dict
        The engine's per-file problems (also when nothing was usable).
    """

    result: dict[str, Any] | None = None
    message: str | None = None
    field_errors: dict[str, str] = field(default_factory=dict)
    problems: list[dict[str, str]] = field(default_factory=list)


def run_job(
    services: Services,
    descriptor: Mapping[str, Any] | None,
    raw_options: Mapping[str, Any],
    previous: Mapping[str, Any] | None = None,
    report: Report | None = None,
    *,
    session: str | None = None,
) -> JobOutcome:
    """Run one job within the job limits, in a scratch folder, and log it (see :func:`process_dataset`).

    Parameters
    ----------
    session : str, optional
        The page's session id.  When given, the job counts against that session's
        limit, may only open files uploaded by that session, and the result gets a
        ``ticket`` redeemable only by that session (:meth:`CubeService.redeem`).

    Never raises: running out of memory (the job's budget, :mod:`dashboard.budget`)
    becomes a message naming what was being done; an unexpected error becomes a
    message (and a logged traceback).
    """
    started = time.monotonic()
    record: dict[str, Any] = {
        "event": "job",
        "session": session_hash(session) if session else None,
        "dataset": (descriptor or {}).get("kind") if isinstance(descriptor, Mapping) else None,
        "options": {k: v for k, v in dict(raw_options or {}).items() if v is not None},
    }
    outcome = JobOutcome(message="Processing failed unexpectedly; the server log has the details")
    status = "error"
    stage = ["starting"]

    def noted(name: str, done: int, total: int) -> None:
        stage[0] = name
        if report is not None:
            report(name, done, total)
    try:
        if services.scratch is not None:
            services.scratch.sweep()
        if (
            session is not None
            and isinstance(descriptor, Mapping)
            and descriptor.get("kind") == "upload"
            and descriptor.get("session") != session
        ):
            outcome, status = JobOutcome(message="Cannot open the data: it was uploaded from another page"), "refused"
            return outcome
        disk = disk_health(services.config)
        if disk != "ok":
            outcome, status = JobOutcome(message=f"Not started: the server's cache disk is {disk}"), "refused"
            return outcome
        gate = services.gate.slot(record["session"]) if services.gate is not None else _no_slot()
        scratch = services.scratch.job() if services.scratch is not None else _no_slot()
        with gate, scratch:
            outcome, status = process_dataset(services, descriptor, raw_options, previous, noted, record)
        if outcome.result is not None and session is not None:
            outcome.result["ticket"] = services.cubes.issue(outcome.result["key"], session)
        return outcome
    except JobRefused as exc:
        outcome, status = JobOutcome(message=f"Not started: {exc}"), "refused"
        return outcome
    except MemoryError:
        outcome, status = JobOutcome(message=out_of_memory(stage[0], services)), "out-of-memory"
        return outcome
    except Exception as exc:  # noqa: BLE001 — a job must never take the page (or the worker) down
        record["error"] = type(exc).__name__
        job_log.exception("job failed unexpectedly")
        return outcome
    finally:
        record.update(outcome=status, duration_s=round(time.monotonic() - started, 3))
        if outcome.message:
            record["message"] = outcome.message
        job_log.info(json.dumps(record, default=str, sort_keys=True))


def run_job_in_budget(
    services: Services,
    descriptor: Mapping[str, Any] | None,
    raw_options: Mapping[str, Any],
    previous: Mapping[str, Any] | None = None,
    report: Report | None = None,
    *,
    session: str | None = None,
    heartbeat: Callable[[], None] | None = None,
    on_child: Callable[[int], None] | None = None,
) -> JobOutcome:
    """:func:`run_job` in a child process held to ``services.budget`` (see :mod:`dashboard.budget`).

    A child that is killed, crashes, runs out of memory or past the deadline becomes
    a :class:`JobOutcome` whose message says so (and a job log line); its scratch
    folder is removed at once.
    """
    if services.budget is None:
        return run_job(services, descriptor, raw_options, previous, report, session=session)
    started = time.monotonic()
    answer = in_budget(
        services,
        lambda child_report: run_job(services, descriptor, raw_options, previous, child_report, session=session),
        report=report, heartbeat=heartbeat, on_child=on_child,
    )
    if isinstance(answer, JobOutcome):
        return answer
    job_log.info(json.dumps({
        "event": "job", "session": session_hash(session) if session else None, "outcome": answer.reason,
        "message": answer.message, "duration_s": round(time.monotonic() - started, 3),
    }, sort_keys=True))
    return JobOutcome(message=answer.message)


def in_budget(services: Services, work: Callable[[Report], Any], *, report: Report | None = None,
              heartbeat: Callable[[], None] | None = None, on_child: Callable[[int], None] | None = None) -> Any:
    """``work(report)`` in a child held to ``services.budget`` whose scratch folder is removed when it ends.

    Returns what ``work`` returned, or a :class:`dashboard.budget.JobStopped`
    (see :func:`dashboard.budget.run_in_budget`).
    """
    return run_in_budget(
        work, services.budget, report=report, heartbeat=heartbeat, on_child=on_child,
        after_child=services.scratch.remove if services.scratch is not None else None,
    )


def out_of_memory(stage: str, services: Services) -> str:
    limit = f" of {services.budget.memory_mb} MB" if services.budget is not None else ""
    return (f"Stopped at: {stage}: the job needed more than its memory limit{limit} (STAMP_JOB_MEMORY_MB). "
            "The file may declare more data than it holds.")


class _no_slot:
    def __enter__(self):
        return None

    def __exit__(self, *exc):
        return False


def _describe_files(dataset: Dataset) -> dict[str, int]:
    total = 0
    for path in dataset.paths:
        try:
            total += path.stat().st_size
        except OSError:
            pass
    return {"files": len(dataset.paths), "bytes": total}


def loaded_label(label: str, loaded) -> str:
    """The dataset's label naming the files that loaded, not the ones that were refused.

    ``"Upload: b.fits (1 of 2 files used)"`` when some files could not be used.
    """
    files = [f for f in loaded.meta.get("files") or [] if isinstance(f, Mapping)]
    used = [PurePath(str(f.get("source"))).name for f in files if f.get("used")]
    if not files or len(used) == len(files):
        return label
    kind = label.split(":", 1)[0]
    names = ", ".join(used[:3]) + (f" and {len(used) - 3} more" if len(used) > 3 else "")
    return f"{kind}: {names} ({len(used)} of {len(files)} files used)"


def process_dataset(
    services: Services,
    descriptor: Mapping[str, Any] | None,
    raw_options: Mapping[str, Any],
    previous: Mapping[str, Any] | None = None,
    report: Report | None = None,
    record: dict[str, Any] | None = None,
) -> tuple[JobOutcome, str]:
    """Load (cached), check the options against the data, process (cached).

    Returns the outcome and a one-word status for the job log (``ok``,
    ``bad-options``, ``bad-dataset``, ``unusable-data``, ``failed``); ``record``
    receives what was processed (file count and bytes).

    Parameters
    ----------
    descriptor : mapping
        The dataset, as the browser holds it (re-checked here).
    raw_options : mapping
        The controls' raw values (see :func:`dashboard.options.parse_process_options`).
    previous : mapping, optional
        The previous result; its data limits are used only if it is the same dataset.
    report : callable, optional
        ``report(stage, done, total)``.
    """
    record = {} if record is None else record
    report = ThrottledProgress(report) if report else (lambda stage, done, total: None)
    same_data = bool(previous) and previous.get("dataset") == descriptor
    limits = DataLimits.from_dict(previous.get("limits")) if same_data else None
    options, errors = parse_process_options(raw_options, limits)
    if errors:
        message = "Some controls need fixing: " + "; ".join(errors.values())
        return JobOutcome(message=message, field_errors=dict(errors)), "bad-options"
    try:
        dataset = resolve(services.config, descriptor)
    except UnsafePath as exc:
        return JobOutcome(message=f"Cannot open the data: {exc}"), "bad-dataset"
    element, element_error = parse_element(descriptor.get("element"))
    if element_error:
        return JobOutcome(message=f"Cannot open the data: {element_error}"), "bad-dataset"
    record.update(_describe_files(dataset))
    try:
        loaded = services.cubes.loaded(dataset.paths, dataset.content_key, report, element)
    except CacheTooSmall as exc:
        return JobOutcome(message=f"Processing failed: {exc}"), "failed"
    except NoUsableData as exc:
        problems = [{"source": p.source, "message": p.message, "severity": p.severity} for p in exc.problems]
        message = "No usable time-series spectra were found in " + dataset.label
        return JobOutcome(message=message, problems=problems), "unusable-data"
    problems = problem_records(loaded)
    limits = limits_of(loaded)
    # The first run on new data could not check ranges against it: check now.
    options, errors = parse_process_options(raw_options, DataLimits.from_dict(limits))
    if errors:
        return JobOutcome(
            message="Some controls need fixing: " + "; ".join(errors.values()),
            field_errors=dict(errors), problems=problems,
        ), "bad-options"
    try:
        key, _ = services.cubes.run(dataset.paths, dataset.content_key, options, report, element)
    except (StampError, ValueError) as exc:
        return JobOutcome(message=f"Processing failed: {exc}", problems=problems), "failed"
    result = {
        "key": key,
        "dataset": dict(descriptor),
        "limits": limits,
        "problems": problems,
        "label": loaded_label(dataset.label, loaded),
        "summary": [list(row) for row in summarize(loaded, services.cubes.shape(key))],
        "normalized": options.zaxis == "variability",
        # what was processed, for the view's link (features/url_state.py) and the element control
        "options": options.to_dict(),
        "elements": list(loaded.meta.get("elements_available") or []),
        "element": str(loaded.meta.get("element_used") or ""),
    }
    report("Done", 1, 1)
    return JobOutcome(result=result, problems=problems), "ok"
