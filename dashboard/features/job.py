"""The processing job: a background callback with a progress bar, Cancel, and the problems alert."""

from __future__ import annotations

import json
import time

import dash_bootstrap_components as dbc
from dash import ClientsideFunction, Input, Output, State, ctx, dcc, html, no_update
from plotly.utils import PlotlyJSONEncoder

from stamp_engine.io.containers import declared_bytes
from stamp_engine.problem_summary import summary_groups
from stamp_engine.problems import Problem

from .. import ids
from ..jobs import run_job
from ..options import loaded_key, parse_element, parse_process_options
from ..server.background import job_error_message, job_heartbeat
from ..server.datasets import resolve
from ..server.services import Services
from ..server.sessions import NOT_ISSUED, is_issued
from .controls import PROCESS_ORDER, process_states, raw_options
from .bands import bands_for_result
from .views import graph_update, heatmap_states, map_drawer, summary_children

#: Where the bands are among :func:`heatmap_states`.
HEATMAP_BANDS = [state.component_id for state in heatmap_states()].index(ids.BANDS)

#: Milliseconds between the browser's polls of a running job's progress (each poll is one
#: cheap request; the answer of a finished job waits for the next poll).
PROGRESS_POLL_MS = 100
#: Data that expand to at most this many bytes (and data already loaded in the cube cache)
#: are opened in a plain request, with the heatmap in its answer: no background-job start,
#: no progress polls, no chain of callbacks before the first view is drawn.  Larger data
#: go to the background job, with its progress bar and Cancel.
PLAIN_REQUEST_MAX_BYTES = 10 * 2**20
#: Shown from the moment a job is asked for until a worker starts it (can take seconds).
WAITING = "Waiting for a worker…"


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
        dcc.Store(id=ids.FIRST_JOB),
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


def _pending_label(descriptor: dict | None) -> str:
    kind = (descriptor or {}).get("kind")
    if kind == "demo":
        return "Demo"
    names = [str(n) for n in (descriptor or {}).get("names") or (descriptor or {}).get("paths") or []]
    shown = ", ".join(names[:3]) + (f" and {len(names) - 3} more" if len(names) > 3 else "")
    return {"upload": "Upload", "server": "Server"}.get(kind, "Data") + (f": {shown}" if shown else "")


def dataset_label(descriptor: dict | None, result: dict | None) -> str:
    """What the sidebar calls the data: the files that loaded when the views show the chosen
    dataset; else the chosen dataset (the one Process will load) and that it is not shown yet."""
    if not descriptor:
        return ""
    if result and result.get("dataset") == descriptor:
        return str(result.get("label") or _pending_label(descriptor))
    return f"{_pending_label(descriptor)} — not processed yet: press Process"


def dataset_label_span(descriptor: dict | None, result: dict | None) -> html.Span:
    """:func:`dataset_label` as the sidebar shows it (the whole text also as a tooltip)."""
    label = dataset_label(descriptor, result)
    return html.Span(label, title=label)


def shown_with_result(dataset, result) -> tuple:
    """The dataset label and the summary card for a job's new ``result`` (unchanged without one):
    in the job's own answer, not in two more round trips after it."""
    if not isinstance(result, dict):
        return no_update, no_update
    return dataset_label_span(dataset, result), summary_children(result)


def browser_result(result: dict) -> dict:
    """What the page keeps of a job's result: its session-bound ``ticket``, never the cache key."""
    return {k: v for k, v in result.items() if k != "key"}


def job_answer(services: Services, dataset, values, previous, session, report, heartbeat=None, on_start=None,
               budgeted: bool = True) -> tuple:
    """The (result, message, problems) outputs of one job on ``dataset`` with the controls' ``values``
    (``on_start()`` is called when the job is accepted, before it runs; ``budgeted``: in a child
    process held to the job budget, see :func:`dashboard.jobs.run_job`)."""
    if not dataset:
        return no_update, dbc.Alert("Upload files or pick some to start.", color="info", className="py-2"), None
    if not is_issued(services.config, session):
        return no_update, dbc.Alert(NOT_ISSUED, color="danger", className="py-2"), None
    if on_start is not None:
        on_start()
    outcome = run_job(services, dataset, raw_options(values), previous, report, session=session, budgeted=budgeted,
                      heartbeat=heartbeat)
    message = dbc.Alert(outcome.message, color="danger", className="py-2") if outcome.message else None
    result = browser_result(outcome.result) if outcome.result is not None else no_update
    return result, message, problems_alert(outcome.problems, loaded=outcome.result is not None)


def opens_quickly(services: Services, descriptor) -> bool:
    """Whether ``descriptor``'s data are opened in a plain request: loaded in the cube cache
    already, or expanding to at most :data:`PLAIN_REQUEST_MAX_BYTES` (their headers say)."""
    try:
        dataset = resolve(services.config, descriptor)
    except Exception:  # noqa: BLE001 - a bad descriptor: the job says what is wrong, at once
        return True
    element, _ = parse_element(descriptor.get("element") if isinstance(descriptor, dict) else None)
    if loaded_key(dataset.content_key, element) in services.cubes.cache:
        return True
    size = declared_bytes(dataset.paths)
    return size is not None and size <= PLAIN_REQUEST_MAX_BYTES


def needs_budget(services: Services, descriptor, values) -> bool:
    """Whether a plain request on ``descriptor`` (:func:`opens_quickly`) with the controls'
    ``values`` runs its job in a child process held to the job budget.

    Not when there is nothing to compute (its display cube is in the cube cache already)
    or the data are small (at most :data:`PLAIN_REQUEST_MAX_BYTES`, their headers say;
    they are read by the engine's sandboxed reader child, under its own limits): the fork
    and the pickled answer would be most of the request's time.  Processing a large cube
    from the cube cache with new options keeps the budget.
    """
    try:
        dataset = resolve(services.config, descriptor)
    except Exception:  # noqa: BLE001 - a bad descriptor: the job says what is wrong, at once
        return False
    element, element_error = parse_element(descriptor.get("element") if isinstance(descriptor, dict) else None)
    if element_error:
        return False
    size = declared_bytes(dataset.paths)
    if size is not None and size <= PLAIN_REQUEST_MAX_BYTES:
        return False
    options, errors = parse_process_options(raw_options(values))
    return not errors and not services.cubes.is_processed(dataset.content_key, options, element)


def _as_browser_holds(value):
    """``value`` as it comes back from the browser (after its JSON round trip)."""
    return json.loads(json.dumps(value, cls=PlotlyJSONEncoder))


def heatmap_with_result(services: Services, result, active_tab, band_rows, fitted, shown: list, session) -> tuple:
    """``(figure, signature)`` of the heatmap that goes in the same answer as a job's ``result``,
    or ``(no_update, no_update)`` (no result, or the heatmap tab is not open).

    One rule for every path that makes a result (the plain request and the background job):
    the heatmap is drawn with the bands the band editor will hold once it has seen
    ``result`` (new data refit an unedited preset), so its drawn signature already matches
    the inputs the heatmap callback then gets, and it is neither sent nor drawn twice.
    ``shown`` are the :func:`heatmap_states` values.
    """
    keep = (no_update, no_update)
    if not isinstance(result, dict):
        return keep
    values = [_as_browser_holds(result), *shown]
    values[1 + HEATMAP_BANDS] = _as_browser_holds(bands_for_result(services, result, band_rows, fitted, session))
    update = graph_update(services.cubes, ids.TAB_HEATMAP, map_drawer(services, "heatmap"), active_tab, values,
                          None, session)
    return update if update is not None else keep


def heatmap_states_with_result() -> list[State]:
    """What :func:`heatmap_with_result` reads of the page, after the job's result."""
    return [State(ids.TABS, "active_tab"), State(ids.BAND_TABLE, "data"), State(ids.BANDS_FITTED, "data"),
            *heatmap_states()]


def register(app, services: Services) -> None:
    @app.callback(
        Output(ids.RESULT, "data"),
        Output(ids.JOB_MESSAGE, "children"),
        Output(ids.PROBLEMS, "children"),
        Output(ids.HEATMAP, "figure", allow_duplicate=True),
        Output(ids.DRAWN[ids.HEATMAP], "data", allow_duplicate=True),
        Output(ids.DATASET_LABEL, "children", allow_duplicate=True),
        Output(ids.SUMMARY, "children", allow_duplicate=True),
        Input(ids.PROCESS, "n_clicks"),
        Input(ids.FIRST_JOB, "data"),
        State(ids.DATASET, "data"),
        *process_states(),
        State(ids.RESULT, "data"),
        State(ids.SESSION, "data"),
        *heatmap_states_with_result(),
        background=True,
        progress=[Output(ids.PROGRESS, "value"), Output(ids.PROGRESS_TEXT, "children")],
        progress_default=[100, "Ready"],
        cancel=[Input(ids.CANCEL, "n_clicks")],
        running=[
            (Output(ids.PROCESS, "disabled"), True, False),
            (Output(ids.CANCEL, "disabled"), False, True),
            # No moving stripes (dbc "animated"): Chromium repaints them 60 times a second, which
            # took 0.4–0.5 of a core from the job on 2 cores (10k ZIP cold: heatmap 9.9 s → 8.0 s).
            # Until the worker reports, the bar is empty and says so (not full and "Ready").
            (Output(ids.PROGRESS, "value"), 0, 100),
            (Output(ids.PROGRESS_TEXT, "children"), WAITING, "Ready"),
        ],
        interval=PROGRESS_POLL_MS,
        prevent_initial_call=True,  # the page's first view and new data: open_view (which may start this)
        # A job that ended without an answer (killed, crashed, its worker lost) still ends with a message.
        on_error=lambda error: (no_update, dbc.Alert(job_error_message(error), color="danger", className="py-2"),
                                None, no_update, no_update, no_update, no_update),
    )
    def process_job(set_progress, _clicks, _first, dataset, *args):
        values, (previous, session, active_tab, band_rows, fitted, *shown) = (
            args[:len(PROCESS_ORDER)], args[len(PROCESS_ORDER):])

        def report(stage: str, done: int, total: int) -> None:
            set_progress(progress_update(stage, done, total))

        answer = job_answer(services, dataset, values, previous, session, report, heartbeat=job_heartbeat(),
                            on_start=lambda: set_progress((0, "Starting…")))
        return (*answer, *heatmap_with_result(services, answer[0], active_tab, band_rows, fitted, shown, session),
                *shown_with_result(dataset, answer[0]))

    # The page's first view, and each new dataset, without the background-job round trips
    # (worker start, progress polls, then a chain of callbacks before the heatmap is asked
    # for): data loaded in the cube cache already, or small (opens_quickly), are processed
    # in this request, in the same job budget, and the heatmap (when its tab is open) comes
    # in the same answer.  Other data (a first read that may be slow), or data chosen while
    # a job runs (which that job's callback replaces), go through FIRST_JOB to process_job,
    # with its progress bar and Cancel.  SESSION is set once per page and never changed.
    @app.callback(
        Output(ids.RESULT, "data", allow_duplicate=True),
        Output(ids.JOB_MESSAGE, "children", allow_duplicate=True),
        Output(ids.PROBLEMS, "children", allow_duplicate=True),
        Output(ids.FIRST_JOB, "data"),
        Output(ids.HEATMAP, "figure", allow_duplicate=True),
        Output(ids.DRAWN[ids.HEATMAP], "data", allow_duplicate=True),
        Output(ids.DATASET_LABEL, "children", allow_duplicate=True),
        Output(ids.SUMMARY, "children", allow_duplicate=True),
        Input(ids.SESSION, "data"),
        Input(ids.DATASET, "data"),
        *process_states(),
        State(ids.RESULT, "data"),
        State(ids.PROCESS, "disabled"),
        *heatmap_states_with_result(),
        prevent_initial_call="initial_duplicate",
        running=[(Output(ids.PROCESS, "disabled"), True, False)],
    )
    def open_view(session, dataset, *args):
        values, (previous, job_running, active_tab, band_rows, fitted, *shown) = (
            args[:len(PROCESS_ORDER)], args[len(PROCESS_ORDER):])
        chosen_during_job = ctx.triggered_id == ids.DATASET and job_running
        if dataset and (chosen_during_job or not opens_quickly(services, dataset)):
            return (no_update, no_update, no_update, {"dataset": dataset, "asked": time.time()},
                    no_update, no_update, dataset_label_span(dataset, previous), no_update)
        result, message, problems = job_answer(services, dataset, values, previous, session, None,
                                               budgeted=needs_budget(services, dataset, values))
        label, summary = shown_with_result(dataset, result)
        return (result, message, problems, no_update,
                *heatmap_with_result(services, result, active_tab, band_rows, fitted, shown, session),
                dataset_label_span(dataset, previous) if label is no_update else label, summary)

    # Cancel ends the job without an answer from it: the browser says what happened.
    app.clientside_callback(
        ClientsideFunction(namespace="stampDashboard", function_name="cancelled"),
        Output(ids.JOB_MESSAGE, "children", allow_duplicate=True),
        Input(ids.CANCEL, "n_clicks"),
        prevent_initial_call=True,
    )

