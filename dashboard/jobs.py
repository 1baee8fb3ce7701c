"""The processing job behind the Process button, as a plain function.

The background callback (``features/job.py``) only forwards its arguments here and
the progress reports back to the progress bar, so the job's logic is tested
without Dash or a browser.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path, PurePath
from typing import Any, Callable, Mapping

from stamp_engine import noisy_channels, timeaxis
from stamp_engine.problems import NoUsableData, StampError
from stamp_engine.progress import Progress as Report

from . import summary
from .cache import source_digest
from .options import DataLimits, loaded_key, parse_element, parse_process_options
from .pipeline import CacheTooSmall, ThrottledProgress
from .server.data_folder import UnsafePath
from .server.datasets import Dataset, resolve
from .server.runner import run_guarded, run_in_child
from .server.services import Services
from .server.storage import disk_health
from .summary import limits_of, problem_records, summarize


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
    budgeted: bool = False,
    heartbeat: Callable[[], None] | None = None,
    on_child: Callable[[int], None] | None = None,
) -> JobOutcome:
    """Run one job within the job limits, in a scratch folder, and log it (see :func:`process_dataset`).

    Parameters
    ----------
    session : str, optional
        The page's session id.  When given, the job counts against that session's
        limit, may only open files uploaded by that session, and the result gets a
        ``ticket`` redeemable only by that session (:meth:`CubeService.redeem`).
    budgeted : bool
        Run it in a child process held to ``services.budget`` (:mod:`dashboard.server.budget`;
        ``heartbeat`` and ``on_child`` go to :func:`~dashboard.server.runner.run_in_child`):
        a child that is killed, crashes, runs out of memory or past the deadline becomes a
        :class:`JobOutcome` whose message says so (and a job log line); its scratch folder
        is removed at once.  ``report`` then receives the child's progress.

    Never raises: running out of memory (the job's budget, :mod:`dashboard.server.budget`)
    becomes a message naming what was being done; an unexpected error becomes a
    message (and a logged traceback); see :func:`dashboard.server.runner.run_guarded`.
    """
    if budgeted:
        return run_in_child(
            services,
            lambda child_report: run_job(services, descriptor, raw_options, previous, child_report, session=session),
            lambda message, reason: JobOutcome(message=message),
            session=session, record={"event": "job"}, report=report, heartbeat=heartbeat, on_child=on_child,
        )
    record: dict[str, Any] = {
        "event": "job",
        "dataset": (descriptor or {}).get("kind") if isinstance(descriptor, Mapping) else None,
        "options": {k: v for k, v in dict(raw_options or {}).items() if v is not None},
    }

    def check() -> tuple[JobOutcome, str] | None:
        if (
            session is not None
            and isinstance(descriptor, Mapping)
            and descriptor.get("kind") == "upload"
            and descriptor.get("session") != session
        ):
            return JobOutcome(message="Cannot open the data: it was uploaded from another page"), "refused"
        disk = disk_health(services.config)
        if disk != "ok":
            return JobOutcome(message=f"Not started: the server's cache disk is {disk}"), "refused"
        return None

    def work(workdir: Path, noted: Report) -> tuple[JobOutcome, str]:
        outcome, status = process_dataset(services, descriptor, raw_options, previous, noted, record, workdir=workdir)
        if outcome.result is not None and session is not None:
            outcome.result["ticket"] = services.cubes.issue(outcome.result["key"], session)
        return outcome, status

    return run_guarded(
        services, work, lambda message, status: JobOutcome(message=message), session=session, record=record,
        unexpected="Processing failed unexpectedly; the server log has the details", report=report, check=check,
    )


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


def summary_rows(services: Services, loaded_as: str, loaded, shown: str) -> list[list[str]]:
    """The summary card's rows of the cube ``loaded`` (cache key ``loaded_as``), with a last row on what is ``shown``.

    The rows of a cube read before are read back from the cube cache beside it (evicted with it):
    the noisy-channel scan of the full-resolution cube was most of the server's time in
    reopening a cached 10,000 × 2,040 observation (0.13 of 0.16 s).
    """
    stored = f"{loaded_as}/summary/{source_digest([summary.__file__, noisy_channels.__file__, timeaxis.__file__])}"
    rows = services.cubes.cache.get(stored)
    if rows is None:
        rows = [list(row) for row in summarize(loaded)]
        services.cubes.cache.set(stored, rows)
    return [*rows, ["Shown", shown]] if shown else rows


def process_dataset(
    services: Services,
    descriptor: Mapping[str, Any] | None,
    raw_options: Mapping[str, Any],
    previous: Mapping[str, Any] | None = None,
    report: Report | None = None,
    record: dict[str, Any] | None = None,
    *,
    workdir: Path | None = None,
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
    workdir : Path, optional
        The job's scratch folder (archives are expanded in it).
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
        # written to the cube cache while it is processed: run() below waits for the write
        loaded = services.cubes.loaded(dataset.paths, dataset.content_key, report, workdir=workdir, wait=False,
                                       element=element)
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
        services.cubes.finish_writes()
        return JobOutcome(
            message="Some controls need fixing: " + "; ".join(errors.values()),
            field_errors=dict(errors), problems=problems,
        ), "bad-options"
    try:
        key, _ = services.cubes.run(dataset.paths, dataset.content_key, options, report, workdir=workdir,
                                    element=element)
    except (StampError, ValueError) as exc:
        return JobOutcome(message=f"Processing failed: {exc}", problems=problems), "failed"
    result = {
        "key": key,
        "dataset": dict(descriptor),
        "limits": limits,
        "problems": problems,
        "label": loaded_label(dataset.label, loaded),
        "summary": summary_rows(services, loaded_key(dataset.content_key, element), loaded, services.cubes.shape(key)),
        "normalized": options.zaxis == "variability",
        # what was processed, for the view's link (features/url_state.py) and the element control
        "options": options.to_dict(),
        "elements": list(loaded.meta.get("elements_available") or []),
        "element": str(loaded.meta.get("element_used") or ""),
    }
    report("Done", 1, 1)
    return JobOutcome(result=result, problems=problems), "ok"
