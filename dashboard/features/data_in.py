"""Data in: upload (one ZIP or several FITS/HDF5), the server data folder, the demo.

Uploads travel in chunks straight to the session's folder on disk
(``assets/stamp_upload.js`` → :mod:`dashboard.server.upload_route`), with a progress bar;
when every byte has arrived, :func:`register`'s ``receive_upload`` turns the upload
into the dataset the page shows, as any other data source.
"""

from __future__ import annotations

import dash_bootstrap_components as dbc
from dash import ClientsideFunction, Input, Output, State, dcc, html, no_update

from stamp_engine.io.containers import ACCEPTED_SUFFIXES

from .. import ids
from ..server.config import format_size
from ..server.data_folder import list_data_files
from ..server.datasets import UploadRejected
from ..server.services import Services
from ..server.sessions import NOT_ISSUED, is_issued
from ..server.upload_route import SESSION_HEADER, finish_upload
from .job import dataset_label_span

#: The file chooser's ``accept``: what the engine reads.
ACCEPT = ",".join(ACCEPTED_SUFFIXES)
#: Pauses (ms) of the browser between retries after a failed upload request (~31 s), then it gives up
#: and says that choosing the same files again resumes the upload.
RETRY_DELAYS_MS = (1000, 2000, 4000, 8000, 8000, 8000)


def layout(services: Services) -> dbc.Card:
    config = services.config
    limit = format_size(config.max_upload_bytes)
    # Dash has no file input that leaves files unread: stamp_upload.js adds a plain
    # <input type="file" multiple> (id and accepted types from these attributes) to the label.
    upload = html.Div(
        id=ids.UPLOAD,
        className="stamp-upload",
        **{"data-request-store": ids.UPLOAD_REQUEST, "data-input-id": ids.UPLOAD_INPUT, "data-accept": ACCEPT},
        children=html.Label([
            html.Strong("Drop files here"), " or ", html.Span("choose files", className="link-primary"),
            html.Div(f"One ZIP, or several x1dints FITS / Eureka! HDF5 files · up to {limit}",
                     className="small text-muted"),
        ], className="d-block mb-0", style={"cursor": "pointer"}),
    )
    progress = html.Div(id=ids.UPLOAD_PROGRESS_BOX, hidden=True, className="mt-2", children=[
        dbc.Progress(id=ids.UPLOAD_PROGRESS, value=0, label="", style={"height": "1rem"},
                     className="stamp-upload-progress"),
        html.Div(id=ids.UPLOAD_PROGRESS_TEXT, className="small text-muted"),
    ])
    body = [
        html.Div(id=ids.DATASET_LABEL, className="small mb-2 text-truncate"),
        upload,
        progress,
        html.Div(id=ids.UPLOAD_MESSAGE, className="mt-2"),
    ]
    if config.data_dir is not None:
        body += [
            dbc.Label("Server data folder", html_for=ids.SERVER_FILES, className="mt-2 mb-1 small"),
            dcc.Dropdown(id=ids.SERVER_FILES, options=list_data_files(config.data_dir), multi=True,
                         placeholder="Pick files…", className="small"),
            dbc.Button("Open picked files", id=ids.SERVER_OPEN, size="sm", color="secondary", className="mt-2 me-2"),
        ]
    if config.demo_path is not None:
        body.append(dbc.Button("Back to the demo", id=ids.DEMO_OPEN, size="sm", color="link", className="mt-2 px-0"))
    stores = [
        dcc.Store(id=ids.UPLOAD_SETTINGS, data=upload_settings(services)),
        dcc.Store(id=ids.UPLOAD_REQUEST),
        dcc.Store(id=ids.UPLOAD_DONE),
    ]
    return dbc.Card([dbc.CardHeader("Data"), dbc.CardBody(body + stores)], className="mb-3")


def upload_settings(services: Services) -> dict:
    """What ``stamp_upload.js`` needs: the limit (checked before any byte is read), the route, the ids it updates."""
    config = services.config
    return {
        "limit": config.max_upload_bytes,
        "url": f"{config.url_prefix}upload/",
        "header": SESSION_HEADER,
        "message": ids.UPLOAD_MESSAGE,
        "progress_box": ids.UPLOAD_PROGRESS_BOX,
        "progress": ids.UPLOAD_PROGRESS,
        "progress_text": ids.UPLOAD_PROGRESS_TEXT,
        "done": ids.UPLOAD_DONE,
        "retry_ms": list(RETRY_DELAYS_MS),
    }


def register(app, services: Services) -> None:
    config = services.config

    # In the browser: refuse a choice over the limit before reading it, else send it in chunks.
    app.clientside_callback(
        ClientsideFunction(namespace="stampUpload", function_name="start"),
        Output(ids.UPLOAD_MESSAGE, "children"),
        Input(ids.UPLOAD_REQUEST, "data"),
        State(ids.SESSION, "data"),
        State(ids.UPLOAD_SETTINGS, "data"),
        prevent_initial_call=True,
    )

    @app.callback(
        Output(ids.DATASET, "data", allow_duplicate=True),
        Output(ids.UPLOAD_MESSAGE, "children", allow_duplicate=True),
        Output(ids.UPLOAD_PROGRESS_BOX, "hidden"),
        Output(ids.DATASET_LABEL, "children", allow_duplicate=True),
        Input(ids.UPLOAD_DONE, "data"),
        State(ids.SESSION, "data"),
        State(ids.RESULT, "data"),
        prevent_initial_call=True,
    )
    def receive_upload(done, session, result):
        if not isinstance(done, dict) or not done.get("upload"):
            return no_update, no_update, no_update, no_update
        if not is_issued(config, session):
            return no_update, dbc.Alert(f"Upload refused: {NOT_ISSUED}", color="danger",
                                        className="py-2 small mb-0"), True, no_update
        try:
            descriptor = finish_upload(config, session, done["upload"], services.upload_digests)
        except UploadRejected as exc:
            return (no_update, dbc.Alert(f"Upload refused: {exc}", color="danger", className="py-2 small mb-0"),
                    True, no_update)
        names = descriptor["names"]
        text = f"Received {names[0]}" if len(names) == 1 else f"Received {len(names)} files"
        # The label travels with the dataset: a separate label callback, started while the
        # job this dataset starts is being set up, was seen losing its answer in the browser.
        return (descriptor, dbc.Alert(html.Span(text, title=", ".join(names)), color="light",
                                      className="py-1 small mb-0 text-truncate"), True,
                dataset_label_span(descriptor, result if isinstance(result, dict) else None))

    if config.data_dir is not None:
        @app.callback(
            Output(ids.DATASET, "data", allow_duplicate=True),
            Input(ids.SERVER_OPEN, "n_clicks"),
            State(ids.SERVER_FILES, "value"),
            prevent_initial_call=True,
        )
        def open_server_files(_, picked):
            if not picked:
                return no_update
            return {"kind": "server", "paths": list(picked)}

    if config.demo_path is not None:
        @app.callback(
            Output(ids.DATASET, "data", allow_duplicate=True),
            Input(ids.DEMO_OPEN, "n_clicks"),
            prevent_initial_call=True,
        )
        def open_demo(_):
            return {"kind": "demo"}
