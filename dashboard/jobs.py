"""The processing job behind the Process button, as a plain function.

The background callback (``features/job.py``) only forwards its arguments here and
the progress reports back to the progress bar, so the job's logic is tested
without Dash or a browser.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

from stamp_engine.problems import NoUsableData, StampError

from .config import UnsafePath
from .datasets import resolve
from .options import DataLimits, parse_process_options
from .pipeline import ThrottledProgress
from .render import limits_of, problem_records, summarize
from .services import Services

Report = Callable[[str, int, int], None]


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
) -> JobOutcome:
    """Load (cached), check the options against the data, process (cached).

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
    report = ThrottledProgress(report) if report else (lambda stage, done, total: None)
    same_data = bool(previous) and previous.get("dataset") == descriptor
    limits = DataLimits.from_dict(previous.get("limits")) if same_data else None
    options, errors = parse_process_options(raw_options, limits)
    if errors:
        return JobOutcome(message="Some controls need fixing: " + "; ".join(errors.values()), field_errors=dict(errors))
    try:
        dataset = resolve(services.config, descriptor)
    except UnsafePath as exc:
        return JobOutcome(message=f"Cannot open the data: {exc}")
    try:
        loaded = services.cubes.loaded(dataset.paths, dataset.content_key, report)
    except NoUsableData as exc:
        problems = [{"source": p.source, "message": p.message, "severity": p.severity} for p in exc.problems]
        return JobOutcome(message="No usable time-series spectra were found in " + dataset.label, problems=problems)
    problems = problem_records(loaded)
    limits = limits_of(loaded)
    # The first run on new data could not check ranges against it: check now.
    options, errors = parse_process_options(raw_options, DataLimits.from_dict(limits))
    if errors:
        return JobOutcome(
            message="Some controls need fixing: " + "; ".join(errors.values()),
            field_errors=dict(errors), problems=problems,
        )
    try:
        key, _ = services.cubes.run(dataset.paths, dataset.content_key, options, report)
    except (StampError, ValueError) as exc:
        return JobOutcome(message=f"Processing failed: {exc}", problems=problems)
    result = {
        "key": key,
        "dataset": dict(descriptor),
        "limits": limits,
        "problems": problems,
        "label": dataset.label,
        "summary": [list(row) for row in summarize(loaded, services.cubes.shape(key))],
        "normalized": options.zaxis == "variability",
    }
    report("Done", 1, 1)
    return JobOutcome(result=result, problems=problems)
