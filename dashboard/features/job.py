"""The processing job: a background callback with a progress bar, Cancel, and the problems alert."""

from __future__ import annotations

import dash_bootstrap_components as dbc
from dash import Input, Output, State, html, no_update

from stamp_engine.problem_summary import summary_groups
from stamp_engine.problems import Problem

from .. import ids
from ..jobs import run_job
from ..services import Services
from .controls import process_states, raw_options

#: Milliseconds between the browser's polls of a running job's progress.
PROGRESS_POLL_MS = 400


def layout(services: Services) -> html.Div:
    return html.Div([
        dbc.Row([
            dbc.Col(dbc.Progress(id=ids.PROGRESS, value=0, striped=True, className="stamp-progress")),
            dbc.Col(dbc.Button("Cancel", id=ids.CANCEL, color="secondary", outline=True, size="sm", disabled=True,
                               className="py-0"), width="auto"),
        ], className="g-2 align-items-center mb-1"),
        html.Div(id=ids.PROGRESS_TEXT, className="small text-muted mb-2", children="Ready"),
        html.Div(id=ids.JOB_MESSAGE),
        html.Div(id=ids.PROBLEMS),
    ])


def progress_update(stage: str, done: int, total: int) -> tuple[float, str]:
    """Progress bar value (percent) and text for one report of the loader or the pipeline."""
    percent = 100.0 * done / total if total else 0.0
    return round(min(max(percent, 0.0), 100.0), 1), f"{stage} — {done} / {total}"


def problems_alert(problems: list[dict] | None, loaded: bool = True):
    """An alert listing each problem file and what is wrong with it, or None.

    Red when nothing could be loaded, amber when the other files loaded.
    """
    if not problems:
        return None
    errors = [p for p in problems if p.get("severity") == "error"]
    color = "warning" if loaded else "danger"
    # Repeated problems (an archive of 5,000 empty entries) are one line each, capped: the engine's rule.
    grouped = summary_groups([Problem(p["source"], p["message"], p.get("severity", "error")) for p in problems])
    items = [html.Li([html.Strong(g.source), ": ", g.message]) for g in grouped]
    title = f"{len(errors):,} file(s) could not be used" if errors else "Notes on the data"
    return dbc.Alert([html.Div(title, className="fw-semibold"), html.Ul(items, className="mb-0 small")],
                     color=color, dismissable=True, className="py-2 stamp-problems")


def browser_result(result: dict) -> dict:
    """What the page keeps of a job's result: its session-bound ``ticket``, never the cache key."""
    return {k: v for k, v in result.items() if k != "key"}


def register(app, services: Services) -> None:
    @app.callback(
        Output(ids.RESULT, "data"),
        Output(ids.JOB_MESSAGE, "children"),
        Output(ids.PROBLEMS, "children"),
        Input(ids.PROCESS, "n_clicks"),
        Input(ids.DATASET, "data"),
        *process_states(),
        State(ids.RESULT, "data"),
        State(ids.SESSION, "data"),
        background=True,
        progress=[Output(ids.PROGRESS, "value"), Output(ids.PROGRESS_TEXT, "children")],
        progress_default=[100, "Ready"],
        cancel=[Input(ids.CANCEL, "n_clicks")],
        running=[
            (Output(ids.PROCESS, "disabled"), True, False),
            (Output(ids.CANCEL, "disabled"), False, True),
            (Output(ids.PROGRESS, "animated"), True, False),
        ],
        interval=PROGRESS_POLL_MS,
    )
    def process_job(set_progress, _clicks, dataset, *args):
        *values, previous, session = args
        if not dataset:
            return no_update, dbc.Alert("Upload files or pick some to start.", color="info", className="py-2"), None

        def report(stage: str, done: int, total: int) -> None:
            set_progress(progress_update(stage, done, total))

        set_progress((0, "Starting…"))
        outcome = run_job(services, dataset, raw_options(values), previous, report, session=session)
        message = dbc.Alert(outcome.message, color="danger", className="py-2") if outcome.message else None
        result = browser_result(outcome.result) if outcome.result is not None else no_update
        return result, message, problems_alert(outcome.problems, loaded=outcome.result is not None)
