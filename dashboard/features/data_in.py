"""Data in: upload (one ZIP or several FITS/HDF5), the server data folder, the demo."""

from __future__ import annotations

import dash_bootstrap_components as dbc
from dash import ClientsideFunction, Input, Output, State, dcc, html, no_update

from .. import ids
from ..config import list_data_files
from ..datasets import UploadRejected, prune_uploads, save_upload
from ..sessions import NOT_ISSUED, is_issued
from ..services import Services

ACCEPT = ".fits,.fit,.gz,.h5,.hdf5,.zip,.tar,.tgz"


def layout(services: Services) -> dbc.Card:
    config = services.config
    upload = dcc.Upload(
        id=ids.UPLOAD,
        multiple=True,
        accept=ACCEPT,
        className="stamp-upload",
        className_active="stamp-upload stamp-upload-active",
        children=html.Div([
            html.Strong("Drop files here"), " or ", html.A("choose files", href="#", className="link-primary"),
            html.Div(f"One ZIP, or several x1dints FITS / Eureka! HDF5 files · up to {config.max_upload_mb} MB",
                     className="small text-muted"),
        ]),
    )
    body = [
        html.Div(id=ids.DATASET_LABEL, className="small mb-2 text-truncate"),
        upload,
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
        dcc.Store(id=ids.UPLOAD_LIMIT, data=config.max_upload_bytes),
        dcc.Store(id=ids.UPLOAD_PENDING),
    ]
    return dbc.Card([dbc.CardHeader("Data"), dbc.CardBody(body + stores)], className="mb-3")


def register(app, services: Services) -> None:
    config = services.config

    # Size check in the browser first: an upload over the limit never leaves it.
    app.clientside_callback(
        ClientsideFunction(namespace="stampDashboard", function_name="checkUpload"),
        Output(ids.UPLOAD_PENDING, "data"),
        Output(ids.UPLOAD_MESSAGE, "children"),
        Input(ids.UPLOAD, "contents"),
        State(ids.UPLOAD, "filename"),
        State(ids.UPLOAD_LIMIT, "data"),
        prevent_initial_call=True,
    )

    @app.callback(
        Output(ids.DATASET, "data", allow_duplicate=True),
        Output(ids.UPLOAD_MESSAGE, "children", allow_duplicate=True),
        Input(ids.UPLOAD_PENDING, "data"),
        State(ids.SESSION, "data"),
        prevent_initial_call=True,
    )
    def receive_upload(pending, session):
        if not pending or not pending.get("contents"):
            return no_update, no_update
        if not is_issued(config, session):
            return no_update, dbc.Alert(f"Upload refused: {NOT_ISSUED}", color="danger", className="py-2 small mb-0")
        prune_uploads(config)
        try:
            descriptor = save_upload(config, session, pending["contents"], pending["filename"])
        except UploadRejected as exc:
            return no_update, dbc.Alert(f"Upload refused: {exc}", color="danger", className="py-2 small mb-0")
        names = descriptor["names"]
        text = f"Received {names[0]}" if len(names) == 1 else f"Received {len(names)} files"
        return descriptor, dbc.Alert(html.Span(text, title=", ".join(names)), color="light",
                                     className="py-1 small mb-0 text-truncate")

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
