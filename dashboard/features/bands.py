"""Band editor (rows of name/start/end, presets) and the highlight buttons.

Highlighting runs in the browser only (``stamp_engine/web/stamp_bands.js``, namespace ``stamp``):
the buttons are built from the usable bands, a click (and only a click) stores the band
name, and each view follows the stored band when its tab is open — the heatmap and the
surface grey out the other wavelengths, the light curves dim the other curves, the
spectrum shades the band. A figure redrawn by the server (new result, tab shown) gets
the stored band again, so the selection survives reprocessing and tab switches.
"""

from __future__ import annotations

import json

import dash_bootstrap_components as dbc
from dash import ALL, ClientsideFunction, Input, Output, State, ctx, dash_table, dcc, html, no_update

from stamp_engine.bands import PRESETS

from .. import ids
from ..band_rows import check_band_rows, error_styles, error_tooltips, fitted_rows, preset_rows
from ..server.services import Services

DEFAULT_PRESET = "Molecules (near-IR)"
#: Each view that follows the selected band, and the tab it is on.
VIEW_TABS = {
    ids.SURFACE: ids.TAB_SURFACE,
    ids.HEATMAP: ids.TAB_HEATMAP,
    ids.LIGHTCURVES: ids.TAB_LIGHTCURVES,
    ids.SPECTRUM: ids.TAB_SPECTRUM,
}


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


def rows_for_result(services: Services, result, rows, fitted, session) -> tuple:
    """``(rows, fitted, wavelength)`` once the band editor has seen ``result``.

    New data: a preset left as it was (not edited) gives way to the one that fits the data;
    ``rows`` and ``fitted`` are ``no_update`` when they stay as they are.
    """
    key = services.cubes.redeem(result.get("ticket"), session) if result else None
    wavelength = services.cubes.wavelength(key) if key is not None else None
    new_rows, new_fitted = no_update, no_update
    dataset = (result or {}).get("dataset")
    if wavelength is not None and dataset != fitted:
        refitted = fitted_rows(rows, wavelength)
        new_rows, new_fitted = (refitted if refitted is not None else no_update), dataset
    return new_rows, new_fitted, wavelength


def bands_for_result(services: Services, result, rows, fitted, session) -> list[dict]:
    """The bands (as the BANDS store holds them) the band editor gives once it has seen ``result``."""
    new_rows, _, wavelength = rows_for_result(services, result, rows, fitted, session)
    bands, _ = check_band_rows(rows if new_rows is no_update else new_rows, wavelength)
    return [b.to_dict() for b in bands]


def unless_held(value, held):
    """``value``, or ``no_update`` when the page holds the same already (as JSON; no rules, no
    tooltips and no message count as the same however they are written)."""
    return no_update if _as_held(value) == _as_held(held) else value


def _as_held(value):
    from plotly.utils import PlotlyJSONEncoder  # writes a Dash component as the page holds it

    value = json.loads(json.dumps(value, cls=PlotlyJSONEncoder))
    if isinstance(value, list) and not any(value):
        return None
    return value or None


def register(app, services: Services) -> None:
    # One callback for the rows and the bands drawn from them: a new result then reaches the
    # views' BANDS input in one round trip (rows refitted and checked together), not two, and
    # the heatmap, which waits for BANDS, is asked for one round trip sooner on page open.
    @app.callback(
        Output(ids.BAND_TABLE, "data"),
        Output(ids.BANDS_FITTED, "data"),
        Output(ids.BAND_TABLE, "style_data_conditional"),
        Output(ids.BAND_TABLE, "tooltip_data"),
        Output(ids.BAND_MESSAGE, "children"),
        Output(ids.BANDS, "data"),
        Input(ids.BAND_ADD, "n_clicks"),
        Input(ids.BAND_PRESET, "value"),
        Input(ids.RESULT, "data"),
        Input(ids.BAND_TABLE, "data"),
        State(ids.BANDS_FITTED, "data"),
        State(ids.SESSION, "data"),
        State(ids.BAND_TABLE, "style_data_conditional"),
        State(ids.BAND_TABLE, "tooltip_data"),
        State(ids.BAND_MESSAGE, "children"),
        State(ids.BANDS, "data"),
    )
    def edit_and_check_rows(_, preset, result, rows, fitted, session, *held):
        refitted_rows, refitted, wavelength = rows_for_result(services, result, rows, fitted, session)
        new_rows, new_fitted = no_update, no_update
        if ctx.triggered_id == ids.BAND_PRESET:
            new_rows = preset_rows(preset) if preset else no_update
        elif ctx.triggered_id == ids.RESULT:
            new_rows, new_fitted = refitted_rows, refitted
        elif ctx.triggered_id == ids.BAND_ADD:
            new_rows = [*(rows or []), {"name": "", "start": None, "end": None}]
        shown = rows if new_rows is no_update else new_rows
        bands, errors = check_band_rows(shown, wavelength)
        message = None
        if errors:
            message = dbc.Alert(
                [html.Div(f"Row {i + 1}: {m}") for i, m in sorted(errors.items())],
                color="warning", className="py-1 small mb-0",
            )
        if new_rows is not no_update:
            new_rows = unless_held(new_rows, rows)
        if new_fitted is not no_update:
            new_fitted = unless_held(new_fitted, fitted)
        # What the page holds already is not sent again: each change re-renders the table, and
        # BANDS redraws the views (page open: the refitted preset is the layout's rows).
        answer = (error_styles(errors), error_tooltips(len(shown or []), errors), message, [b.to_dict() for b in bands])
        return (new_rows, new_fitted, *(unless_held(new, old) for new, old in zip(answer, held)))

    app.clientside_callback(
        ClientsideFunction(namespace="stamp", function_name="band_bar"),
        Output(ids.BAND_BUTTONS, "children"),
        Output(ids.SELECTED_BAND, "data", allow_duplicate=True),
        Input(ids.BANDS, "data"),
        State(ids.SELECTED_BAND, "data"),
        prevent_initial_call="initial_duplicate",
    )
    app.clientside_callback(
        ClientsideFunction(namespace="stamp", function_name="select_band"),
        Output(ids.SELECTED_BAND, "data"),
        Input(ids.BAND_ALL, "n_clicks"),
        Input({"type": ids.BAND_BUTTON_TYPE, "band": ALL}, "n_clicks"),
        prevent_initial_call=True,
    )
    app.clientside_callback(
        ClientsideFunction(namespace="stamp", function_name="mark_selected"),
        Output(ids.BAND_ALL, "active"),
        Output({"type": ids.BAND_BUTTON_TYPE, "band": ALL}, "active"),
        Input(ids.SELECTED_BAND, "data"),
        State({"type": ids.BAND_BUTTON_TYPE, "band": ALL}, "id"),
    )
    for graph, tab in VIEW_TABS.items():
        app.clientside_callback(
            f"function (band, tab, drawn, bands) {{"
            f" return window.dash_clientside.stamp.highlight_shown(band, tab, drawn, bands,"
            f" {json.dumps(tab)}, {json.dumps(graph)}); }}",
            Output(graph, "figure", allow_duplicate=True),
            Input(ids.SELECTED_BAND, "data"),
            Input(ids.TABS, "active_tab"),
            # the server's signature of each figure it sends: the figure itself as an
            # input would make Dash copy megabytes on every click
            Input(ids.DRAWN[graph], "data"),
            State(ids.BANDS, "data"),
            prevent_initial_call=True,
        )
