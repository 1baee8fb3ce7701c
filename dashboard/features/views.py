"""The views: 3D surface, heatmap, light curves, spectrum player; and the summary card."""

from __future__ import annotations

import hashlib
import json

import dash_bootstrap_components as dbc
from dash import ClientsideFunction, Input, Output, State, dcc, html, no_update

from stamp_engine.bands import Band

from .. import ids
from ..options import parse_display_options
from ..render import empty_figure, grid_figure, light_curves, slider_marks, spectrum
from ..services import Services

#: Milliseconds between frames of the spectrum player.
PLAY_INTERVAL_MS = 600

WAITING = "Processing…"
EVICTED = "This result is no longer on the server (or belongs to another page): press Process again."


def _graph(graph_id: str, height: str) -> dcc.Graph:
    return dcc.Graph(
        id=graph_id, figure=empty_figure(WAITING), style={"height": height},
        config={"displaylogo": False, "toImageButtonOptions": {"format": "png", "scale": 2}},
    )


def layout(services: Services) -> html.Div:
    player = html.Div([
        dbc.Row([
            dbc.Col(dbc.Button("▶ Play", id=ids.PLAY, size="sm", color="secondary"), width="auto"),
            dbc.Col(dcc.Slider(id=ids.SPECTRUM_SLIDER, min=0, max=0, step=1, value=0, updatemode="drag",
                               marks=None, tooltip={"placement": "bottom"})),
        ], className="g-2 align-items-center mt-2"),
        dcc.Interval(id=ids.PLAY_INTERVAL, interval=PLAY_INTERVAL_MS, disabled=True),
        _graph(ids.SPECTRUM, "62vh"),
    ])
    drawn = [dcc.Store(id=store) for store in ids.DRAWN.values()]
    return html.Div([*drawn, dcc.Location(id=ids.LOCATION, refresh=False), dbc.Tabs([
        dbc.Tab(_graph(ids.SURFACE, "72vh"), label="3D surface", tab_id=ids.TAB_SURFACE),
        dbc.Tab(_graph(ids.HEATMAP, "72vh"), label="Heatmap", tab_id=ids.TAB_HEATMAP),
        dbc.Tab(_graph(ids.LIGHTCURVES, "72vh"), label="Light curves", tab_id=ids.TAB_LIGHTCURVES),
        dbc.Tab(player, label="Spectrum player", tab_id=ids.TAB_SPECTRUM),
    ], id=ids.TABS, active_tab=ids.TAB_SURFACE)])


def summary_layout(services: Services) -> dbc.Card:
    return dbc.Card([dbc.CardHeader("Observation"), dbc.CardBody(id=ids.SUMMARY, className="small")], className="mb-3")


def summary_table(rows) -> html.Table:
    """The summary card's body from the job's (label, value) rows."""
    return html.Table(
        [html.Tr([html.Th(label, className="pe-2 text-muted fw-normal"), html.Td(value)]) for label, value in rows],
        className="stamp-summary",
    )


def _bands(data) -> list[Band]:
    return [Band(b["name"], float(b["start"]), float(b["end"])) for b in data or []]


def drawn_signature(*values) -> str:
    """A short digest of everything a graph's figure depends on."""
    text = json.dumps(values, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def register(app, services: Services) -> None:
    from stamp_engine.figures import COLORSCALES

    cubes = services.cubes

    def lazy_graph(graph: str, tab: str, inputs: list, draw) -> None:
        """Draw ``graph`` only while its tab is open and only when its inputs changed.

        Each figure can be a few MB: sending the ones nobody looks at would slow every
        change down, and a 3D surface costs the browser seconds to build.
        """
        outputs = [Output(graph, "figure"), Output(ids.DRAWN[graph], "data")]

        @app.callback(
            *outputs,
            Input(ids.TABS, "active_tab"),
            *inputs,
            State(ids.DRAWN[graph], "data"),
            State(ids.SESSION, "data"),
            prevent_initial_call=True,
        )
        def _draw(active_tab, *args):
            *values, drawn, session = args
            result = values[0]
            skip = [no_update] * len(outputs)
            if active_tab != tab or not result:
                return skip
            signature = drawn_signature(*values)
            if signature == drawn:
                return skip
            key = cubes.redeem(result.get("ticket"), session)
            figure = draw(key, *values[1:]) if key is not None else empty_figure(EVICTED)
            # It arrives unhighlighted; features/bands.py highlights it in the browser.
            return [figure, signature]

        _draw.__name__ = f"draw_{graph.replace('-', '_')}"

    def maps(kind: str):
        def draw(key, colorscale, z_min, z_max, bands):
            display = cubes.display(key)
            if display is None:
                return empty_figure(EVICTED)
            options, _ = parse_display_options(colorscale, [z_min, z_max], COLORSCALES)
            return grid_figure(display, _bands(bands), options, kind, **services.config.display_limits)

        return draw

    display_inputs = [Input(ids.RESULT, "data"), Input(ids.COLORSCALE, "value"), Input(ids.Z_MIN, "value"),
                      Input(ids.Z_MAX, "value"), Input(ids.BANDS, "data")]
    lazy_graph(ids.SURFACE, ids.TAB_SURFACE, display_inputs, maps("surface"))
    lazy_graph(ids.HEATMAP, ids.TAB_HEATMAP, display_inputs, maps("heatmap"))

    def draw_light_curves(key, bands):
        cube = cubes.processed(key)
        if cube is None:
            cube = cubes.display(key)
        if cube is None:
            return empty_figure(EVICTED)
        return light_curves(cube, _bands(bands))

    lazy_graph(ids.LIGHTCURVES, ids.TAB_LIGHTCURVES, [Input(ids.RESULT, "data"), Input(ids.BANDS, "data")],
               draw_light_curves)

    def draw_spectrum(key, index):
        display = cubes.display(key)
        if display is None:
            return empty_figure(EVICTED)
        return spectrum(display, index)

    lazy_graph(ids.SPECTRUM, ids.TAB_SPECTRUM, [Input(ids.RESULT, "data"), Input(ids.SPECTRUM_SLIDER, "value")],
               draw_spectrum)

    @app.callback(
        Output(ids.SPECTRUM_SLIDER, "max"),
        Output(ids.SPECTRUM_SLIDER, "marks"),
        Output(ids.SPECTRUM_SLIDER, "value"),
        Input(ids.RESULT, "data"),
        State(ids.SESSION, "data"),
        prevent_initial_call=True,
    )
    def reset_player(result, session):
        key = cubes.redeem(result.get("ticket"), session) if result else None
        display = cubes.display(key) if key is not None else None
        if display is None:
            return 0, None, 0
        return display.n_integrations - 1, slider_marks(display), 0

    # ?view=heatmap (or surface, lightcurves, spectrum) opens on that tab: links from a portal.
    app.clientside_callback(
        ClientsideFunction(namespace="stampDashboard", function_name="tabFromUrl"),
        Output(ids.TABS, "active_tab"),
        Input(ids.LOCATION, "search"),
    )

    # Playing only moves the slider (in the browser); each position draws one spectrum.
    app.clientside_callback(
        ClientsideFunction(namespace="stampDashboard", function_name="togglePlay"),
        Output(ids.PLAY_INTERVAL, "disabled"),
        Output(ids.PLAY, "children"),
        Input(ids.PLAY, "n_clicks"),
        State(ids.PLAY_INTERVAL, "disabled"),
        prevent_initial_call=True,
    )
    app.clientside_callback(
        ClientsideFunction(namespace="stampDashboard", function_name="nextFrame"),
        Output(ids.SPECTRUM_SLIDER, "value", allow_duplicate=True),
        Input(ids.PLAY_INTERVAL, "n_intervals"),
        State(ids.SPECTRUM_SLIDER, "value"),
        State(ids.SPECTRUM_SLIDER, "max"),
        prevent_initial_call=True,
    )

    @app.callback(
        Output(ids.SUMMARY, "children"),
        Output(ids.DATASET_LABEL, "children"),
        Input(ids.RESULT, "data"),
    )
    def show_summary(result):
        if not result:
            return html.Div("No data yet.", className="text-muted"), ""
        return summary_table(result.get("summary", [])), html.Span(result.get("label", ""), title=result.get("label", ""))
