"""The views: 3D surface, heatmap, light curves, spectrum player; and the summary card."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import dash_bootstrap_components as dbc
from dash import ClientsideFunction, Input, Output, State, ctx, dcc, html, no_update

from stamp_engine.bands import Band, band_from_record

from .. import ids
from ..options import parse_display_options
from ..server.services import Services
from ..view_figures import empty_figure, grid_figure, light_curves, slider_marks, spectrum_player

#: Speeds offered by the spectrum player (frames per second; frames are drawn in the browser).
PLAY_SPEEDS = (2, 5, 10, 20, 30)
DEFAULT_FPS = 10

WAITING = "Processing…"
EVICTED = "This result is no longer on the server (or belongs to another page): press Process again."


def _graph(graph_id: str, class_name: str = "stamp-graph") -> dcc.Graph:
    # Heights come from stamp.css: the plot fits the window (1280×720 included) beside the scrolling controls.
    return dcc.Graph(
        id=graph_id, figure=empty_figure(WAITING), className=class_name,
        config={"displaylogo": False, "toImageButtonOptions": {"format": "png", "scale": 2}},
    )


def player_layout() -> html.Div:
    """Play/Pause, speed, what is shown, and the frame slider (frames numbered from 1, as in the title)."""
    from stamp_engine.figures import SPECTRUM_MODES

    return html.Div([
        dbc.Row([
            dbc.Col(dbc.Button("▶ Play", id=ids.PLAY, size="sm", color="secondary"), width="auto"),
            dbc.Col(html.Div(dbc.Select(id=ids.SPECTRUM_SPEED, value=str(DEFAULT_FPS), size="sm",
                                        options=[{"label": f"{fps} frames/s", "value": str(fps)} for fps in PLAY_SPEEDS]),
                             title="Playback speed"), width="auto"),
            dbc.Col(dbc.RadioItems(id=ids.SPECTRUM_MODE, value="variability", inline=True, className="small",
                                   options=[{"label": label, "value": mode} for mode, label in SPECTRUM_MODES.items()]),
                    width="auto"),
            dbc.Col(dcc.Slider(id=ids.SPECTRUM_SLIDER, min=1, max=1, step=1, value=1, updatemode="drag",
                               marks=None, tooltip={"placement": "bottom"})),
        ], className="g-2 align-items-center mt-2"),
        dcc.Interval(id=ids.PLAY_INTERVAL, interval=round(1000 / DEFAULT_FPS), disabled=True),
        dcc.Store(id=ids.SPECTRUM_FRAMES),
        _graph(ids.SPECTRUM, "stamp-graph stamp-graph-player"),
    ])


def layout(services: Services) -> html.Div:
    from . import science

    drawn = [dcc.Store(id=store) for store in (*ids.DRAWN.values(), *ids.SHOWN.values(), ids.COLOUR_REQUEST)]
    # Opens on the heatmap: it draws in seconds everywhere; the 3D surface (slow without a GPU) is one click away.
    return html.Div([*drawn, dcc.Location(id=ids.LOCATION, refresh=False), dbc.Tabs([
        dbc.Tab(_graph(ids.HEATMAP), label="Heatmap", tab_id=ids.TAB_HEATMAP),
        dbc.Tab(_graph(ids.SURFACE), label="3D surface", tab_id=ids.TAB_SURFACE),
        dbc.Tab(_graph(ids.LIGHTCURVES), label="Light curves", tab_id=ids.TAB_LIGHTCURVES),
        dbc.Tab(player_layout(), label="Spectrum player", tab_id=ids.TAB_SPECTRUM),
        *science.tabs(),
    ], id=ids.TABS, active_tab=ids.TAB_HEATMAP)])


def summary_layout(services: Services) -> dbc.Card:
    return dbc.Card([dbc.CardHeader("Observation"), dbc.CardBody(summary_children(None), id=ids.SUMMARY,
                                                                 className="small")], className="mb-3")


def summary_children(result: dict | None):
    """The summary card's body for a job's result (None: no data yet)."""
    if not result or not isinstance(result, dict):
        return html.Div("No data yet.", className="text-muted")
    return summary_table(result.get("summary", []))


def summary_table(rows) -> html.Table:
    """The summary card's body from the job's (label, value) rows."""
    return html.Table(
        [html.Tr([html.Th(label, className="pe-2 text-muted fw-normal"), html.Td(value)]) for label, value in rows],
        className="stamp-summary",
    )


#: Most bands a view draws (each is a trace set: hundreds made a 13.7 MB response).
MAX_VIEW_BANDS = 40


class BandsRefused(ValueError):
    """The band list the browser sent cannot be drawn; the message says why."""


def _bands(data) -> list[Band]:
    """The browser's band list as bands, checked: it comes from the client and may be anything.

    Raises
    ------
    BandsRefused
        For a list that is not one, too long, or holds an entry without a name and
        finite start < end in µm.
    """
    if data is None:
        return []
    if not isinstance(data, list):
        raise BandsRefused("The band list sent by the page is not a list: reload the page.")
    if len(data) > MAX_VIEW_BANDS:
        raise BandsRefused(f"{len(data)} bands were sent; at most {MAX_VIEW_BANDS} are drawn. Remove some bands.")
    bands = []
    for number, entry in enumerate(data, 1):
        try:
            bands.append(band_from_record(entry))
        except ValueError:
            raise BandsRefused(
                f"Band {number} sent by the page is not usable (it needs a name and numeric start < end in µm): "
                "fix it in the band editor."
            ) from None
    return bands


def _as_page_holds(value):
    """``value`` as the page sends it back: JavaScript has one number type, so a whole float
    (``2.0``, in a job's result) returns as the integer ``2``; tuples return as lists."""
    if isinstance(value, float):
        return int(value) if value.is_integer() else value
    if isinstance(value, dict):
        return {str(k): _as_page_holds(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_as_page_holds(v) for v in value]
    return value


def drawn_signature(*values) -> str:
    """A short digest of everything a graph's figure depends on.

    The same for values made on the server and the same values after their trip through
    the page (a figure sent with a job's result is then not sent again for that result).
    """
    text = json.dumps(_as_page_holds(json.loads(json.dumps(values, default=str))), sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def graph_update(cubes, tab: str, draw, active_tab, values: list, drawn, session) -> tuple | None:
    """``(figure, signature)`` of a lazily drawn graph, or None when it is to stay as it is.

    ``values`` are the graph's inputs, the job's result first; nothing is drawn while
    ``tab`` is not the open one or when the ``drawn`` signature already matches them.
    """
    result = values[0]
    if active_tab != tab or not result or not isinstance(result, dict):
        return None
    signature = drawn_signature(*values)
    if signature == drawn:
        return None
    key = cubes.redeem(result.get("ticket"), session)
    try:
        figure = draw(key, *values[1:]) if key is not None else empty_figure(EVICTED)
    except BandsRefused as exc:
        figure = empty_figure(str(exc))
    if key is not None and cubes.why_gone(key):
        figure = empty_figure(cubes.why_gone(key))
    elif isinstance(figure, dict) and isinstance(figure.get("layout", {}).get("meta"), dict):
        # which result it shows: the page matches it with the exploration's payload of that result
        figure["layout"]["meta"]["result"] = drawn_signature(result)
    # It arrives unhighlighted; features/bands.py highlights it in the browser.
    return figure, signature


def _figure_code() -> str:
    """A digest of the code that builds the map figures: a cached figure made by other code is not used."""
    from stamp_engine import figures

    from .. import view_figures

    from ..cache import source_digest

    return source_digest([*Path(figures.__file__).parent.glob("*.py"), view_figures.__file__, __file__])


def map_drawer(services: Services, kind: str):
    """``draw(key, colorscale, z_min, z_max, bands, stretch, visits=None)``: the ``kind`` map ("heatmap", "surface").

    Each figure drawn is kept in the cube cache beside its cube (evicted with it), as the JSON
    the page gets: the same view of the same cube again (a page opened on the demo, data
    reopened from the cube cache) is read back (milliseconds) instead of built (0.1–1 s).
    """
    from stamp_engine.figures import COLORSCALES

    cubes = services.cubes
    code = _figure_code()

    def draw(key, colorscale, z_min, z_max, bands, stretch, visits=None):
        checked = _bands(bands)
        stored = (f"{key}/figure/{kind}/"
                  f"{drawn_signature(code, colorscale, z_min, z_max, bands, stretch, visits, services.config.display_limits)}")
        figure = cubes.cache.get(stored)
        if figure is not None:
            return figure
        display = cubes.display(key)
        if display is None:
            return empty_figure(EVICTED)
        options, _ = parse_display_options(colorscale, [z_min, z_max], COLORSCALES, stretch, visits)
        # The page holds the display cube's errors once (the exploration's payload): the
        # heatmap's hover reads them there (stamp_explore.js), not from a copy in the figure.
        figure = json.loads(grid_figure(display, checked, options, kind, heatmap_errors="rows",
                                        **services.config.display_limits).to_json())
        cubes.cache.set(stored, figure)
        return figure

    return draw


def when_shown(app, graph: str, tab: str, inputs: list[Input]) -> Input:
    """The input that fires ``graph``'s server callback: set in the browser, only while ``tab`` is
    open, when it opens or one of ``inputs`` changes.

    A view's callback used to be asked on every new result and band edit, hidden or not, to answer
    "nothing" (six requests after each result, on page open too, in the browser's time before the
    page is usable); the browser now leaves a hidden view's callback alone, and opening its tab
    asks for it then.  The callback reads ``inputs`` as States.
    """
    app.clientside_callback(
        "function (active) { if (active !== %s) { return window.dash_clientside.no_update; }"
        " window.stampShownCount = (window.stampShownCount || 0) + 1; return window.stampShownCount; }"
        % json.dumps(tab),
        Output(ids.SHOWN[graph], "data"), Input(ids.TABS, "active_tab"), *inputs,
        prevent_initial_call=True,
    )
    return Input(ids.SHOWN[graph], "data")


def as_states(dependencies: list) -> list[State]:
    """``dependencies`` (Inputs and States) as States."""
    return [State(d.component_id, d.component_property, allow_optional=d.allow_optional) for d in dependencies]


def heatmap_states() -> list[State]:
    """The heatmap's inputs after the job's result (as States), in the order :func:`graph_update` takes them."""
    return [State(ids.COLORSCALE, "value"), State(ids.Z_MIN, "value"), State(ids.Z_MAX, "value"),
            State(ids.BANDS, "data"), State(ids.STRETCH, "value"), State(ids.VISIT_LAYOUT, "value")]


def register(app, services: Services) -> None:
    cubes = services.cubes

    def lazy_graph(graph: str, tab: str, inputs: list, draw) -> None:
        """Draw ``graph`` only while its tab is open and only when its inputs changed.

        Each figure can be a few MB: sending the ones nobody looks at would slow every
        change down, and a 3D surface costs the browser seconds to build.
        """
        outputs = [Output(graph, "figure"), Output(ids.DRAWN[graph], "data")]
        triggers = [Input(ids.COLOUR_REQUEST, "data"), *[i for i in inputs if isinstance(i, Input)]]

        @app.callback(
            *outputs,
            when_shown(app, graph, tab, triggers),
            State(ids.TABS, "active_tab"),
            *as_states(inputs),
            State(ids.DRAWN[graph], "data"),
            State(ids.SESSION, "data"),
            prevent_initial_call=True,
        )
        def _draw(_shown, active_tab, *args):
            *values, drawn, session = args
            update = graph_update(cubes, tab, draw, active_tab, values, drawn, session)
            return list(update) if update is not None else [no_update] * len(outputs)

        _draw.__name__ = f"draw_{graph.replace('-', '_')}"

    def maps(kind: str):
        return map_drawer(services, kind)

    # The colour controls are states: the browser re-colours the shown heatmap itself
    # (stampDashboard.applyColour) and asks for a redraw through COLOUR_REQUEST only when
    # it cannot; a hidden view's signature then differs, so it is redrawn when shown.
    display_inputs = [Input(ids.RESULT, "data"), State(ids.COLORSCALE, "value"), State(ids.Z_MIN, "value"),
                      State(ids.Z_MAX, "value"), Input(ids.BANDS, "data"), Input(ids.STRETCH, "value")]
    lazy_graph(ids.SURFACE, ids.TAB_SURFACE, display_inputs, maps("surface"))
    lazy_graph(ids.HEATMAP, ids.TAB_HEATMAP, [*display_inputs, Input(ids.VISIT_LAYOUT, "value")], maps("heatmap"))

    def draw_light_curves(key, bands):
        cube = cubes.processed(key)
        if cube is None:
            cube = cubes.display(key)
        if cube is None:
            return empty_figure(EVICTED)
        return light_curves(cube, _bands(bands))

    lazy_graph(ids.LIGHTCURVES, ids.TAB_LIGHTCURVES, [Input(ids.RESULT, "data"), Input(ids.BANDS, "data")],
               draw_light_curves)

    @app.callback(
        Output(ids.SPECTRUM, "figure"),
        Output(ids.SPECTRUM_FRAMES, "data"),
        Output(ids.DRAWN[ids.SPECTRUM], "data"),
        Output(ids.SPECTRUM_SLIDER, "max"),
        Output(ids.SPECTRUM_SLIDER, "marks"),
        Output(ids.SPECTRUM_SLIDER, "value"),
        when_shown(app, ids.SPECTRUM, ids.TAB_SPECTRUM, [Input(ids.RESULT, "data")]),
        Input(ids.SPECTRUM_MODE, "value"),  # on the player's own tab
        State(ids.TABS, "active_tab"),
        State(ids.RESULT, "data"),
        State(ids.DRAWN[ids.SPECTRUM], "data"),
        State(ids.SESSION, "data"),
        State(ids.SPECTRUM_SLIDER, "value"),
        prevent_initial_call=True,
    )
    def draw_spectrum_player(_shown, mode, active_tab, result, drawn, session, position):
        # Every frame goes to the browser once; playing and sliding then never ask the server.
        skip = [no_update] * 6
        if active_tab != ids.TAB_SPECTRUM or not isinstance(result, dict):
            return skip
        signature = drawn_signature(result, mode)
        if signature == drawn:
            return skip
        key = cubes.redeem(result.get("ticket"), session)
        display = cubes.display(key) if key is not None else None
        if display is None or display.n_integrations == 0:
            return empty_figure(EVICTED), None, signature, 1, None, 1
        figure, frames = spectrum_player(display, mode or "variability")
        same_data = drawn is not None and ctx.triggered_id == ids.SPECTRUM_MODE
        value = min(int(position or 1), display.n_integrations) if same_data else 1
        return figure, frames, signature, display.n_integrations, slider_marks(display), value

    app.clientside_callback(
        ClientsideFunction(namespace="stampDashboard", function_name="applyColour"),
        Output(ids.COLOUR_REQUEST, "data"),
        Input(ids.COLORSCALE, "value"),
        Input(ids.Z_MIN, "value"),
        Input(ids.Z_MAX, "value"),
        State(ids.TABS, "active_tab"),
        prevent_initial_call=True,
    )
    app.clientside_callback(
        ClientsideFunction(namespace="stampDashboard", function_name="showFrame"),
        Output(ids.SPECTRUM, "figure", allow_duplicate=True),
        Input(ids.SPECTRUM_SLIDER, "value"),
        Input(ids.SPECTRUM_FRAMES, "data"),
        State(ids.SPECTRUM, "figure"),
        prevent_initial_call=True,
    )
    app.clientside_callback(
        ClientsideFunction(namespace="stampDashboard", function_name="playInterval"),
        Output(ids.PLAY_INTERVAL, "interval"),
        Input(ids.SPECTRUM_SPEED, "value"),
    )

    # ?view=heatmap (or surface, lightcurves, spectrum) opens on that tab: features/url_state.py reads it.

    # Playing only moves the slider (in the browser); showFrame draws that frame from the frames store.
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

    # The summary comes with the job's answer (dashboard.features.job), not a round trip after it.
