"""The download card: a button per product of :mod:`stamp_engine.export.catalogue`, progress, Cancel.

Each button starts one background job; the callback only turns the page's controls into a
:class:`~dashboard.exports.PageState` and forwards to :func:`dashboard.exports.run_download`
(the job itself, tested without a browser).  The job returns a link, never the file: the
browser fetches it (``stampDownloads.fetchLink`` in ``assets/stamp_downloads.js``).
"""

from __future__ import annotations

from typing import Any

import dash_bootstrap_components as dbc
from dash import ClientsideFunction, Input, Output, State, ctx, dcc, html, no_update

from stamp_engine.export.catalogue import PRODUCTS, progress_text

from .. import ids
from ..exports import DownloadOutcome, PageState, run_download
from ..pipeline import ThrottledProgress
from ..server.background import job_error_message, job_heartbeat
from ..server.runner import run_in_child
from ..server.services import Services
from ..server.sessions import NOT_ISSUED, is_issued
from .controls import process_states, raw_options
from .science import WINDOW_CONTROLS, windows_picked

#: Milliseconds between the browser's polls of a running download's progress.
PROGRESS_POLL_MS = 400

#: Download kind → its button's label, in the order of :data:`~stamp_engine.export.catalogue.PRODUCTS`.
BUTTON_LABELS = {
    "package": "Download package", "surface": "Surface HTML", "heatmap": "Heatmap HTML", "combined": "Combined HTML",
    "video": "Spectrum MP4", "ecsv": "Light curves ECSV", "csv": "Light curves CSV", "fits": "Cube FITS",
    "periodogram": "Periodogram ECSV", "amplitude": "Amplitude spectrum ECSV", "transit": "Transit spectrum ECSV",
}
_KIND_OF_BUTTON = {button: kind for kind, button in ids.DOWNLOAD_BUTTONS.items()}

_WINDOW_NAMES = ("in_transit", "baseline", "baseline2")


def layout(services: Services) -> dbc.Card:
    single = [
        dbc.Button(BUTTON_LABELS[kind], id=ids.DOWNLOAD_BUTTONS[kind], size="sm", color="secondary", outline=True,
                   className="me-1 mb-1", title=f"Download {product.filename.format(stamp='<date_time>')}")
        for kind, product in PRODUCTS.items() if kind != "package"
    ]
    body = [
        dbc.Button(BUTTON_LABELS["package"], id=ids.DOWNLOAD_BUTTONS["package"], color="primary", size="sm",
                   className="w-100 mb-2",
                   title="ZIP: HTML plots that open offline, spectrum video, light-curve tables, cube FITS and README"),
        html.Div("Single files:", className="small text-muted mb-1"),
        html.Div(single, className="mb-2"),
        dbc.Row([
            dbc.Col(dbc.Progress(id=ids.DOWNLOAD_PROGRESS, value=0, striped=True, className="stamp-progress")),
            dbc.Col(dbc.Button("Cancel", id=ids.DOWNLOAD_CANCEL, color="secondary", outline=True, size="sm",
                               disabled=True, className="py-0"), width="auto"),
        ], className="g-2 align-items-center mb-1"),
        html.Div(id=ids.DOWNLOAD_STAGE, className="small text-muted"),
        html.Div(id=ids.DOWNLOAD_MESSAGE, className="mt-2"),
        dcc.Store(id=ids.DOWNLOAD_LINK),
        dcc.Store(id=ids.DOWNLOAD_STARTED),
    ]
    return dbc.Card([dbc.CardHeader("Download"), dbc.CardBody(body)], id=ids.DOWNLOAD_CARD, className="mb-3")


def register(app, services: Services) -> None:
    buttons = [ids.DOWNLOAD_BUTTONS[kind] for kind in PRODUCTS]

    @app.callback(
        Output(ids.DOWNLOAD_LINK, "data"),
        Output(ids.DOWNLOAD_MESSAGE, "children"),
        *[Input(button, "n_clicks") for button in buttons],
        State(ids.RESULT, "data"),
        State(ids.SESSION, "data"),
        State(ids.COLORSCALE, "value"),
        State(ids.Z_MIN, "value"),
        State(ids.Z_MAX, "value"),
        State(ids.BAND_TABLE, "data"),
        State(ids.SCIENCE_MOUNTED, "data"),
        State(ids.WINDOWS_STORE, "data"),
        # the Transmission pane is empty until a science tab opens (features/science.py)
        *[State(window_input, "value", allow_optional=True) for window_input in WINDOW_CONTROLS],
        *process_states(),
        background=True,
        progress=[Output(ids.DOWNLOAD_PROGRESS, "value"), Output(ids.DOWNLOAD_STAGE, "children")],
        progress_default=[0, ""],
        cancel=[Input(ids.DOWNLOAD_CANCEL, "n_clicks")],
        running=[
            *[(Output(button, "disabled"), True, False) for button in buttons],
            (Output(ids.DOWNLOAD_CANCEL, "disabled"), False, True),
            # no moving stripes: repainting them 60 times a second takes CPU from the export (see job.py)
        ],
        interval=PROGRESS_POLL_MS,
        prevent_initial_call=True,
        on_error=lambda error: (no_update, dbc.Alert(job_error_message(error), color="danger", dismissable=True,
                                                     className="py-1 small mb-0")),
    )
    def download_job(set_progress, *args):
        result, session, colorscale, z_min, z_max, band_rows, mounted, picked, *rest = args[len(buttons):]
        window_values, process_values = rest[:len(WINDOW_CONTROLS)], rest[len(WINDOW_CONTROLS):]
        if not mounted:  # no window typed yet: those picked on the white-light curve, as the pane would show
            window_values = windows_picked(picked)
        kind = _KIND_OF_BUTTON.get(ctx.triggered_id)
        if kind is None:
            return no_update, no_update
        page = PageState(
            colorscale=colorscale, z_min=z_min, z_max=z_max, band_rows=band_rows,
            raw_options=raw_options(process_values) if process_values else None,
            windows={name: window_values[2 * i:2 * i + 2] for i, name in enumerate(_WINDOW_NAMES)},
        )

        def report(stage: str, done: int, total: int) -> None:
            set_progress(progress_text(kind, stage, done, total))

        if not is_issued(services.config, session):
            return job_outputs(DownloadOutcome(message=NOT_ISSUED))
        set_progress((0, f"Preparing the {PRODUCTS[kind].what}…"))

        def build(child_report):
            return run_download(services, kind, result, session, page, report=ThrottledProgress(child_report))

        return job_outputs(run_in_child(
            services, build, lambda message, reason: DownloadOutcome(message=message), session=session,
            record={"event": "download", "kind": kind}, report=report, heartbeat=job_heartbeat(),
        ))

    app.clientside_callback(
        ClientsideFunction(namespace="stampDownloads", function_name="fetchLink"),
        Output(ids.DOWNLOAD_STARTED, "data"),
        Input(ids.DOWNLOAD_LINK, "data"),
        prevent_initial_call=True,
    )


def job_outputs(outcome: DownloadOutcome) -> tuple[Any, dbc.Alert]:
    """The job's outputs: the link the browser fetches the file from (never its bytes) and the message."""
    alert = dbc.Alert(outcome.message, color=outcome.color, dismissable=True, className="py-1 small mb-0")
    if outcome.download is None:
        return no_update, alert
    link = {"url": outcome.download.url, "filename": outcome.download.filename, "token": outcome.download.token}
    return link, alert
