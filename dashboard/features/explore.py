"""Linked exploration: point at the map, see its spectrum and light curve; box-select windows and bands.

A click on the heatmap or the 3D surface (or a hover with Shift held) draws, beside the
map, the spectrum at that time and the light curve at that wavelength, with crosshair
lines through the point; both follow the band highlight (the spectrum shades the band,
the light curve panel adds the band's curve).  All of that runs in the browser
(``assets/stamp_explore.js``) from the display cube sent once per result
(:func:`stamp_engine.explore_figures.explore_payload`): a click makes no server request.

A box drawn on a light curve (the Light curves tab or the panel here) sets, as the toggle
says, the baseline window (also the baseline normalization's inputs), the in-transit
window, or the time range; the windows go to :data:`dashboard.ids.WINDOWS_STORE` for the
science panels.  A box on a spectrum (player or panel) adds a band or sets the wavelength range.
"""

from __future__ import annotations

import dash_bootstrap_components as dbc
from dash import ClientsideFunction, Input, Output, State, dcc, html, no_update

from .. import ids
from ..view_figures import empty_figure
from ..server.services import Services
from .views import EVICTED, drawn_signature

#: What a box on a light curve sets (value → label); the first two are WINDOWS_STORE keys.
TIME_BOX_TARGETS = {"baseline": "baseline window", "in_transit": "in-transit window", "time range": "time range"}
#: What a box on a spectrum sets.
WAVE_BOX_TARGETS = {"band": "a new band", "wavelength range": "wavelength range"}
#: Tabs whose graphs the panels explore.
MAP_TABS = (ids.TAB_HEATMAP, ids.TAB_SURFACE)
#: A page probe for tests and benchmarks (``driver.execute_script(PAYLOAD_HELD_JS, ids.EXPLORE_SENT, ids.HEATMAP)``):
#: true once the page holds the exploration payload of the result its heatmap shows, i.e. the
#: page is at rest after a first view (the payload is asked for after it, and makes a request).
PAYLOAD_HELD_JS = """
const s = window.store && window.store.getState(); if (!s) { return false; }
let node = s.layout; (s.paths.strs[arguments[0]] || []).forEach(k => { node = node && node[k]; });
const sent = node && node.props ? node.props.data : null;
const gd = document.querySelector('#' + arguments[1] + ' .js-plotly-plot');
const shows = gd && gd.layout && gd.layout.meta ? gd.layout.meta.result : null;
return !!sent && sent === shows;
"""
HINT = "Click the map (or hover with Shift held) to see the spectrum and the light curve through that point."


def _panel_graph(graph_id: str) -> dcc.Graph:
    return dcc.Graph(id=graph_id, figure=empty_figure(""), className="stamp-explore-graph",
                     config={"displaylogo": False, "toImageButtonOptions": {"format": "png", "scale": 2}})


def box_controls() -> html.Div:
    """The toggles saying what a box selection sets, and what the last one did."""
    return html.Div([
        dbc.Row([
            dbc.Col(html.Span("Box on a light curve sets the", className="small text-muted"), width="auto"),
            dbc.Col(dbc.RadioItems(id=ids.TIME_BOX_SETS, value="baseline", inline=True, className="small",
                                   options=[{"label": v, "value": k} for k, v in TIME_BOX_TARGETS.items()]),
                    width="auto"),
            dbc.Col(html.Span("· on a spectrum:", className="small text-muted"), width="auto"),
            dbc.Col(dbc.RadioItems(id=ids.WAVE_BOX_SETS, value="band", inline=True, className="small",
                                   options=[{"label": v, "value": k} for k, v in WAVE_BOX_TARGETS.items()]),
                    width="auto"),
        ], className="g-2 align-items-center"),
        html.Div(id=ids.BOX_MESSAGE, className="mt-1"),
    ], className="stamp-box-controls mb-2")


def layout(services: Services) -> html.Div:
    return html.Div([
        dcc.Store(id=ids.EXPLORE_DATA),
        dcc.Store(id=ids.EXPLORE_SENT),
        dcc.Store(id=ids.EXPLORE_WANTED),
        dcc.Store(id=ids.EXPLORE_POINT),
        dcc.Store(id=ids.WINDOWS_STORE, data={"baseline": None, "in_transit": None}),
        html.Div([
            html.Div(HINT, id=ids.EXPLORE_HINT, className="small text-muted mb-1"),
            dbc.Row([
                dbc.Col(_panel_graph(ids.EXPLORE_SPECTRUM), md=6),
                dbc.Col(_panel_graph(ids.EXPLORE_LIGHTCURVE), md=6),
            ], className="g-2"),
        ], id=ids.EXPLORE),
        box_controls(),
    ], className="stamp-explore mt-2")


def register(app, services: Services) -> None:
    from stamp_engine.explore_figures import (
        explore_payload,
        point_light_curve_figure,
        point_spectrum_figure,
    )

    cubes = services.cubes

    # The payload is asked for when the pointer first comes onto a map, or once the page has
    # been idle a moment after a map was drawn, not with the drawing itself: decoding it and
    # drawing the panels held the page's main thread for ~0.5 s just as the first view became
    # usable (page open → usable 2.4–2.6 s, the map drawn at 1.8 s).
    app.clientside_callback(
        ClientsideFunction(namespace="stampExplore", function_name="wanted"),
        Output(ids.EXPLORE_WANTED, "data"),
        Input(ids.TABS, "active_tab"),
        Input(ids.DRAWN[ids.HEATMAP], "data"),
        Input(ids.DRAWN[ids.SURFACE], "data"),
        prevent_initial_call=True,
    )

    @app.callback(
        Output(ids.EXPLORE_DATA, "data"),
        Output(ids.EXPLORE_SENT, "data"),
        Output(ids.EXPLORE_SPECTRUM, "figure"),
        Output(ids.EXPLORE_LIGHTCURVE, "figure"),
        Output(ids.EXPLORE_POINT, "data"),
        Output(ids.EXPLORE_HINT, "style", allow_duplicate=True),
        Input(ids.EXPLORE_WANTED, "data"),
        State(ids.TABS, "active_tab"),
        State(ids.RESULT, "data"),
        State(ids.EXPLORE_SENT, "data"),
        State(ids.SESSION, "data"),
        prevent_initial_call=True,
    )
    def send_cube(_wanted, active_tab, result, sent, session):
        # Once per result, and only when a map is shown: every click then stays in the browser.
        if active_tab not in MAP_TABS or not isinstance(result, dict):
            return [no_update] * 6
        signature = drawn_signature(result)
        if signature == sent:
            return [no_update] * 6
        key = cubes.redeem(result.get("ticket"), session)
        display = cubes.display(key) if key is not None else None
        if display is None or display.n_integrations == 0 or display.n_wavelengths == 0:
            gone = empty_figure(EVICTED)
            return None, signature, gone, gone, None, {"display": "none"}
        # "result": the heatmap drawn from the same result (its layout.meta.result) takes its hover errors from it
        return ({**explore_payload(display), "result": signature}, signature, point_spectrum_figure(display),
                point_light_curve_figure(display), None, {})

    app.clientside_callback(
        ClientsideFunction(namespace="stampExplore", function_name="pick"),
        Output(ids.EXPLORE_POINT, "data", allow_duplicate=True),
        Input(ids.HEATMAP, "clickData"),
        Input(ids.SURFACE, "clickData"),
        Input(ids.HEATMAP, "hoverData"),
        Input(ids.SURFACE, "hoverData"),
        Input(ids.EXPLORE_DATA, "data"),  # a click made before the payload came is answered when it comes
        State(ids.EXPLORE_POINT, "data"),
        prevent_initial_call=True,
    )
    app.clientside_callback(
        ClientsideFunction(namespace="stampExplore", function_name="draw"),
        Output(ids.EXPLORE_SPECTRUM, "figure", allow_duplicate=True),
        Output(ids.EXPLORE_LIGHTCURVE, "figure", allow_duplicate=True),
        Output(ids.EXPLORE_HINT, "style"),
        Input(ids.EXPLORE_POINT, "data"),
        Input(ids.SELECTED_BAND, "data"),
        State(ids.EXPLORE_DATA, "data"),
        State(ids.BANDS, "data"),
        State(ids.EXPLORE_SPECTRUM, "figure"),
        State(ids.EXPLORE_LIGHTCURVE, "figure"),
        prevent_initial_call=True,
    )
    app.clientside_callback(
        ClientsideFunction(namespace="stampExplore", function_name="hoverErrors"),
        Output(ids.EXPLORE_POINT, "data", allow_duplicate=True),
        Input(ids.EXPLORE_DATA, "data"),
        prevent_initial_call=True,
    )
    app.clientside_callback(
        ClientsideFunction(namespace="stampExplore", function_name="shown"),
        Output(ids.EXPLORE, "style"),
        Input(ids.TABS, "active_tab"),
    )
    app.clientside_callback(
        ClientsideFunction(namespace="stampExplore", function_name="timeBox"),
        Output(ids.WINDOWS_STORE, "data"),
        Output(ids.BASELINE_START, "value", allow_duplicate=True),
        Output(ids.BASELINE_END, "value", allow_duplicate=True),
        Output(ids.TIME_MIN, "value", allow_duplicate=True),
        Output(ids.TIME_MAX, "value", allow_duplicate=True),
        Output(ids.BOX_MESSAGE, "children"),
        Input(ids.LIGHTCURVES, "selectedData"),
        Input(ids.EXPLORE_LIGHTCURVE, "selectedData"),
        State(ids.TIME_BOX_SETS, "value"),
        State(ids.WINDOWS_STORE, "data"),
        prevent_initial_call=True,
    )
    app.clientside_callback(
        ClientsideFunction(namespace="stampExplore", function_name="waveBox"),
        Output(ids.BAND_TABLE, "data", allow_duplicate=True),
        Output(ids.WAVE_MIN, "value", allow_duplicate=True),
        Output(ids.WAVE_MAX, "value", allow_duplicate=True),
        Output(ids.BOX_MESSAGE, "children", allow_duplicate=True),
        Input(ids.SPECTRUM, "selectedData"),
        Input(ids.EXPLORE_SPECTRUM, "selectedData"),
        State(ids.WAVE_BOX_SETS, "value"),
        State(ids.BAND_TABLE, "data"),
        prevent_initial_call=True,
    )
