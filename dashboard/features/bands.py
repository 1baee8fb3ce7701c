"""Band editor (rows of name/start/end, presets) and the highlight buttons.

Highlighting runs in the browser only: a click stores the band name
(``stampDashboard.selectBand`` in ``assets/stamp_dashboard.js``) and
``stamp.highlight`` (``assets/stamp_bands.js``, through ``stampDashboard.highlight``,
which skips figures with nothing to change) restyles the surface and the heatmap,
with no request to the server.
"""

from __future__ import annotations

import dash_bootstrap_components as dbc
from dash import ALL, ClientsideFunction, Input, Output, State, ctx, dash_table, dcc, html, no_update

from stamp_engine.bands import PRESETS

from .. import ids
from ..band_rows import check_band_rows, error_styles, error_tooltips, fitted_rows, preset_rows
from ..services import Services

DEFAULT_PRESET = "Molecules (near-IR)"


def editor_layout(services: Services) -> dbc.Card:
    table = dash_table.DataTable(
        id=ids.BAND_TABLE,
        columns=[
            {"name": "Band", "id": "name", "type": "text"},
            {"name": "Start (µm)", "id": "start", "type": "numeric"},
            {"name": "End (µm)", "id": "end", "type": "numeric"},
        ],
        data=preset_rows(DEFAULT_PRESET),
        editable=True,
        row_deletable=True,
        style_table={"maxHeight": "260px", "overflowY": "auto"},
        style_cell={"fontSize": "0.8rem", "padding": "2px 6px", "fontFamily": "inherit"},
        style_header={"fontWeight": "600"},
        tooltip_delay=0,
        tooltip_duration=None,
    )
    body = [
        dbc.Row([
            dbc.Col(dbc.Select(id=ids.BAND_PRESET, size="sm", placeholder="Load a preset…",
                               options=[{"label": name, "value": name} for name in PRESETS])),
            dbc.Col(dbc.Button("Add band", id=ids.BAND_ADD, size="sm", color="secondary"), width="auto"),
        ], className="g-1 mb-2"),
        table,
        html.Div(id=ids.BAND_MESSAGE, className="mt-2"),
    ]
    return dbc.Card([dbc.CardHeader("Bands"), dbc.CardBody(body)], className="mb-3")


def buttons_layout(services: Services) -> html.Div:
    return html.Div([
        html.Span("Highlight:", className="small text-muted me-2"),
        dbc.Button("All", id=ids.BAND_ALL, size="sm", color="primary", outline=True, active=True, className="me-1 mb-1"),
        html.Span(id=ids.BAND_BUTTONS),
        dcc.Store(id=ids.SELECTED_BAND, data="All"),
        dcc.Store(id=ids.BANDS, data=[]),
        dcc.Store(id=ids.BANDS_FITTED),
    ], className="stamp-band-bar mb-2")


def register(app, services: Services) -> None:
    @app.callback(
        Output(ids.BAND_TABLE, "data"),
        Output(ids.BANDS_FITTED, "data"),
        Input(ids.BAND_ADD, "n_clicks"),
        Input(ids.BAND_PRESET, "value"),
        Input(ids.RESULT, "data"),
        State(ids.BAND_TABLE, "data"),
        State(ids.BANDS_FITTED, "data"),
        State(ids.SESSION, "data"),
        prevent_initial_call=True,
    )
    def edit_rows(_, preset, result, rows, fitted, session):
        if ctx.triggered_id == ids.BAND_PRESET:
            return (preset_rows(preset) if preset else no_update), no_update
        if ctx.triggered_id == ids.RESULT:
            # New data: a preset left as it was (not edited) gives way to the one that fits the data.
            dataset = (result or {}).get("dataset")
            key = services.cubes.redeem(result.get("ticket"), session) if result else None
            wavelength = services.cubes.wavelength(key) if key is not None else None
            if wavelength is None or dataset == fitted:
                return no_update, no_update
            rows = fitted_rows(rows, wavelength)
            return (rows if rows is not None else no_update), dataset
        return [*(rows or []), {"name": "", "start": None, "end": None}], no_update

    @app.callback(
        Output(ids.BAND_TABLE, "style_data_conditional"),
        Output(ids.BAND_TABLE, "tooltip_data"),
        Output(ids.BAND_MESSAGE, "children"),
        Output(ids.BANDS, "data"),
        Input(ids.BAND_TABLE, "data"),
        Input(ids.RESULT, "data"),
        State(ids.SESSION, "data"),
    )
    def check_rows(rows, result, session):
        key = services.cubes.redeem(result.get("ticket"), session) if result else None
        wavelength = services.cubes.wavelength(key) if key is not None else None
        bands, errors = check_band_rows(rows, wavelength)
        message = None
        if errors:
            message = dbc.Alert(
                [html.Div(f"Row {i + 1}: {m}") for i, m in sorted(errors.items())],
                color="warning", className="py-1 small mb-0",
            )
        return error_styles(errors), error_tooltips(len(rows or []), errors), message, [b.to_dict() for b in bands]

    @app.callback(Output(ids.BAND_BUTTONS, "children"), Input(ids.BANDS, "data"))
    def band_buttons(bands):
        return [
            dbc.Button(b["name"], id=ids.band_button(b["name"]), size="sm", color="primary", outline=True,
                       className="me-1 mb-1", title=f"{b['start']:g}–{b['end']:g} µm")
            for b in bands or []
        ]

    app.clientside_callback(
        ClientsideFunction(namespace="stampDashboard", function_name="selectBand"),
        Output(ids.SELECTED_BAND, "data"),
        Input(ids.BAND_ALL, "n_clicks"),
        Input({"type": ids.BAND_BUTTON_TYPE, "band": ALL}, "n_clicks"),
        prevent_initial_call=True,
    )
    app.clientside_callback(
        ClientsideFunction(namespace="stampDashboard", function_name="markSelected"),
        Output(ids.BAND_ALL, "active"),
        Output({"type": ids.BAND_BUTTON_TYPE, "band": ALL}, "active"),
        Input(ids.SELECTED_BAND, "data"),
        State({"type": ids.BAND_BUTTON_TYPE, "band": ALL}, "id"),
    )
    for graph in (ids.SURFACE, ids.HEATMAP):
        app.clientside_callback(
            ClientsideFunction(namespace="stampDashboard", function_name="highlight"),
            Output(graph, "figure", allow_duplicate=True),
            Input(ids.SELECTED_BAND, "data"),
            State(graph, "figure"),
            prevent_initial_call=True,
        )
