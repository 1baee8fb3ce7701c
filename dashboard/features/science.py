"""The science panels: spectroscopic light curves, transmission / emission spectrum, variability.

Each panel is a tab beside the views.  Its figure is computed on the server from the
cached processed cube (full resolution) by the engine (:mod:`stamp_engine.channels`,
:mod:`stamp_engine.spectra`, :mod:`stamp_engine.periodogram`) and drawn by
:mod:`stamp_engine.science_figures`, only while its tab is open and only when what it
depends on changed.  These are ordinary callbacks (tens of ms on the demo, well under a
second at 10,000 × 2,040): band clicks and the other views never wait for them, since
highlighting runs in the browser.

The time windows of the transmission spectrum are typed in hours since the first
integration (whatever unit the light curves are drawn in: seconds for a short series), or filled from :data:`dashboard.ids.WINDOWS_STORE`, which a box-select on
the white-light curve writes (``{"baseline": [h0, h1], "in_transit": [h0, h1]}``).
Whatever the page sends is checked here; a bad value is a message, never an exception.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Sequence

import astropy.units as u
import dash_bootstrap_components as dbc
import plotly.graph_objects as go
from dash import Input, Output, State, ctx, dcc, html, no_update

from stamp_engine import science_figures
from stamp_engine.bands import Band, usable_bands
from stamp_engine.channels import divide_by_white
from stamp_engine.cube import Cube
from stamp_engine.periodogram import periodogram
from stamp_engine.windows import read_windows

from .. import ids
from ..view_figures import empty_figure
from ..server.services import Services

#: How channels are made: the choice's value → (label, the engine's keyword).
CHANNEL_MODES = {"width": ("width (µm)", "width"), "R": ("resolving power R", "R"), "n": ("count", "n")}
DEPTH_KINDS = {"transit": "Transit (1 − F_in/F_out)", "eclipse": "Eclipse (F_out/F_in − 1)"}
WAITING = "Processing…"
#: Longer light curves are averaged in time to this many points before their periodogram.
PERIODOGRAM_MAX_INTEGRATIONS = 1000


class ScienceInputError(ValueError):
    """A value typed in a science panel cannot be used; the message says which and why."""


# ------------------------------------------------------------------ reading inputs
def _number(value: Any, what: str) -> float | None:
    """A typed number, None when empty; anything else that is not a finite number is refused."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, bool):
        raise ScienceInputError(f"{what} must be a number")
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ScienceInputError(f"{what} must be a number, not {str(value)[:40]!r}") from None
    if not math.isfinite(number):
        raise ScienceInputError(f"{what} must be a finite number")
    return number


def channel_binning(mode: Any, value: Any) -> dict[str, float]:
    """The engine's channel keyword from the panel's choice: ``{"R": 30.0}``, ``{"width": 0.1}``, ``{"n": 12}``."""
    if mode not in CHANNEL_MODES:
        raise ScienceInputError(f"channels must be made by {', '.join(CHANNEL_MODES)}, not {str(mode)[:20]!r}")
    label, keyword = CHANNEL_MODES[mode]
    number = _number(value, f"the channel {label}")
    if number is None:
        raise ScienceInputError(f"give the channel {label}")
    if number <= 0:
        raise ScienceInputError(f"the channel {label} must be positive, not {number:g}")
    if keyword == "n":
        if number != int(number):
            raise ScienceInputError(f"the channel count must be a whole number, not {number:g}")
        return {"n": int(number)}
    return {keyword: number}


def window(start: Any, end: Any, what: str) -> tuple[float, float] | None:
    """``(start, end)`` in hours from two typed values; None when both are empty."""
    lo, hi = _number(start, f"the start of the {what} window"), _number(end, f"the end of the {what} window")
    if lo is None and hi is None:
        return None
    if lo is None or hi is None:
        raise ScienceInputError(f"give both the start and the end of the {what} window (hours)")
    if lo >= hi:
        raise ScienceInputError(f"the {what} window {lo:g}–{hi:g} h: its start must be before its end")
    return lo, hi


def display_binning(value: Any) -> int | None:
    """Integrations per point of the stacked light curves; None (empty) = automatic."""
    number = _number(value, "the display binning")
    if number is None:
        return None
    if number < 1 or number != int(number):
        raise ScienceInputError(f"the display binning must be a whole number of integrations ≥ 1, not {number:g}")
    return int(number)


# ------------------------------------------------------------------ the products
def channels_view(cube: Cube, mode: Any, value: Any, binning: Any, divide: bool,
                  baseline: tuple[float, float] | None) -> tuple[go.Figure, str]:
    """The stacked spectroscopic light curves (or residuals ÷ white light) and a note on what is shown."""
    curves = cube.channels(**channel_binning(mode, value))
    note = curves.description
    if divide:
        curves = divide_by_white(curves, baseline=baseline)
        note = ("Divided by the white light, then by each channel's level over the baseline "
                f"{baseline[0]:g}–{baseline[1]:g} h." if baseline is not None else
                "Divided by the white light, then by each channel's median: for a transit, give the baseline "
                "window in the Transmission spectrum tab (the median is biased when the channel is deeper).")
    return science_figures.channel_light_curves_figure(curves, bin_time=display_binning(binning)), note


@dataclass(frozen=True)
class DepthRequest:
    """What the transmission panel asks for, checked."""

    binning: dict[str, float]
    kind: str
    unit: str
    in_transit: tuple[float, float]
    baseline: tuple[tuple[float, float], ...]


def depth_request(mode, value, kind, unit, in_start, in_end, b1_start, b1_end, b2_start, b2_end) -> DepthRequest:
    """The panel's inputs as a :class:`DepthRequest`; a clear :class:`ScienceInputError` for any bad one."""
    if kind not in DEPTH_KINDS:
        raise ScienceInputError(f"the spectrum is of a transit or an eclipse, not {str(kind)[:20]!r}")
    if unit not in science_figures.DEPTH_UNITS:
        raise ScienceInputError(f"depths are shown in {' or '.join(science_figures.DEPTH_UNITS)}")
    name = "in-transit" if kind == "transit" else "in-eclipse"
    inside = window(in_start, in_end, name)
    baselines = tuple(w for w in (window(b1_start, b1_end, "baseline"), window(b2_start, b2_end, "second baseline"))
                      if w is not None)
    if inside is None or not baselines:
        missing = " and ".join(w for w, given in ((name, inside), ("baseline", baselines)) if not given)
        raise ScienceInputError(
            f"Set the {missing} window (hours since the first integration, whatever unit the light-curve axis is in): "
            "type them above, or box-select them on the white-light curve"
        )
    return DepthRequest(channel_binning(mode, value), kind, unit, inside, baselines)


def depth_view(cube: Cube, request: DepthRequest, bands: list[Band]) -> tuple[go.Figure, str]:
    """The transmission / emission spectrum figure and the sentence saying how it was made."""
    spectrum = cube.transmission_spectrum(request.in_transit, list(request.baseline), kind=request.kind,
                                          **request.binning)
    figure = science_figures.depth_spectrum_figure(spectrum, unit=request.unit, bands=usable_bands(cube, bands))
    return figure, spectrum.description


def variability_view(cube: Cube, bands: list[Band], mode: Any, value: Any, period: Any) -> tuple[go.Figure, go.Figure, str]:
    """Periodograms of the white light and of every band, and the amplitude spectrum at the peak or ``period``."""
    binning = channel_binning(mode, value)
    given = _number(period, "the period")
    if given is not None and given <= 0:
        raise ScienceInputError(f"the period must be a positive number of hours, not {given:g}")
    # Long series are averaged in time first (never across visits): the periodogram's cost grows with
    # points × frequencies, and periods far longer than the bins are unchanged by it.
    factor = max(1, math.ceil(cube.n_integrations / PERIODOGRAM_MAX_INTEGRATIONS))
    searched = cube.bin(time=factor) if factor > 1 else cube
    white = periodogram(searched.white_light())
    grams, notes = [white], []
    if factor > 1:
        notes.append(f"Periodograms of light curves averaged over {factor} integrations per point "
                     f"({searched.n_integrations} points), periods from {white.minimum_period.to_value(u.hour):.3g} h")
    for band in usable_bands(searched, bands):
        try:
            grams.append(periodogram(searched.light_curve(band)))
        except ValueError as error:  # a band with too few usable points: said, not dropped silently
            notes.append(f"{band.name}: no periodogram ({error})")
    summary = (f"White light: peak at {white.peak_period.to_value(u.hour):.5g} h, false-alarm probability "
               f"{science_figures.probability_text(white.false_alarm_probability)} ({100 * white.false_alarm:g} % level: power "
               f"{white.false_alarm_level:.3g}).")
    refusal = white.amplitude_refusal if given is None else None
    if refusal is not None:  # a sinusoid fitted there is degenerate (amplitudes of 10⁴ %, phases 0/±180°)
        amplitude_figure = science_figures.amplitude_not_drawn_figure(refusal)
        summary += f" No amplitude spectrum: {refusal}; type a period to fit one anyway."
    else:
        period_hours = float(white.peak_period.to_value(u.hour)) if given is None else given
        amplitude = cube.amplitude_spectrum(period_hours, **binning)
        warning = white.period_problem(period_hours) if given is not None else None
        amplitude_figure = science_figures.amplitude_spectrum_figure(
            amplitude, bands=usable_bands(cube, bands),
            warning=None if warning is None else f"the period typed is not resolved by the data ({warning})")
        source = "the white light's periodogram peak" if given is None else "the period typed"
        summary += f" Amplitude spectrum at {period_hours:.5g} h ({source})."
        if warning:
            summary += f" Warning: the period typed is not resolved by the data ({warning})."
    if notes:
        summary += " " + "; ".join(notes) + "."
    return science_figures.periodogram_figure(grams), amplitude_figure, summary


# ------------------------------------------------------------------------ layout
def _graph(graph_id: str) -> dcc.Graph:
    return dcc.Graph(id=graph_id, figure=empty_figure(WAITING), className="stamp-graph stamp-graph-science",
                     config={"displaylogo": False, "toImageButtonOptions": {"format": "png", "scale": 2}})


def _label(text: str) -> dbc.Col:
    return dbc.Col(html.Span(text, className="small text-muted"), width="auto")


def _number_input(input_id: str, value=None, placeholder: str = "", width: str = "6rem", **extra) -> dbc.Col:
    return dbc.Col(dbc.Input(id=input_id, type="number", value=value, placeholder=placeholder, size="sm",
                             debounce=True, style={"width": width}, **extra), width="auto")


def _channel_controls(mode_id: str, value_id: str, mode: str, value: float) -> list[dbc.Col]:
    return [
        _label("Channels by"),
        dbc.Col(dbc.Select(id=mode_id, value=mode, size="sm",
                           options=[{"label": label, "value": key} for key, (label, _) in CHANNEL_MODES.items()]),
                width="auto"),
        _number_input(value_id, value, min=0, step="any"),
    ]


def _row(children: list, class_name: str = "g-2 align-items-center mb-1") -> dbc.Row:
    return dbc.Row(children, className=class_name)


def channels_controls() -> html.Div:
    return html.Div([
        _row([
            *_channel_controls(ids.CHANNELS_BY, ids.CHANNELS_VALUE, "n", 10),
            _label("Display binning"),
            _number_input(ids.CHANNELS_BIN, placeholder="auto", min=1, step=1),
            _label("integrations per point"),
            dbc.Col(dbc.Checkbox(id=ids.CHANNELS_DIVIDE, value=False, label="Divide by the white light",
                                 className="small"), width="auto"),
        ], "g-2 align-items-center mt-2 mb-1"),
    ])


def depth_controls() -> html.Div:
    return html.Div([
        _row([
            *_channel_controls(ids.DEPTH_BY, ids.DEPTH_VALUE, "R", 30),
            dbc.Col(dbc.RadioItems(id=ids.DEPTH_KIND, value="transit", inline=True, className="small",
                                   options=[{"label": label, "value": key} for key, label in DEPTH_KINDS.items()]),
                    width="auto"),
            dbc.Col(dbc.RadioItems(id=ids.DEPTH_UNIT, value="ppm", inline=True, className="small",
                                   options=[{"label": key, "value": key} for key in science_figures.DEPTH_UNITS]),
                    width="auto"),
        ], "g-2 align-items-center mt-2 mb-1"),
    ])


def window_controls(windows: Sequence[Any] = (None,) * 6) -> dbc.Row:
    """The transmission panel's time windows; ``windows``: the values of :data:`WINDOW_CONTROLS`."""
    in_start, in_end, b_start, b_end, b2_start, b2_end = windows
    return _row([
        _label("In transit (h)"),
        _number_input(ids.IN_TRANSIT_START, in_start, placeholder="start", step="any"),
        _number_input(ids.IN_TRANSIT_END, in_end, placeholder="end", step="any"),
        _label("Baseline (h)"),
        _number_input(ids.WINDOW_BASELINE_START, b_start, placeholder="start", step="any"),
        _number_input(ids.WINDOW_BASELINE_END, b_end, placeholder="end", step="any"),
        _label("and"),
        _number_input(ids.WINDOW_BASELINE2_START, b2_start, placeholder="start", step="any"),
        _number_input(ids.WINDOW_BASELINE2_END, b2_end, placeholder="end", step="any"),
    ])


def variability_controls() -> html.Div:
    return html.Div([
        _row([
            *_channel_controls(ids.AMPLITUDE_BY, ids.AMPLITUDE_VALUE, "R", 30),
            _label("Period (h)"),
            _number_input(ids.AMPLITUDE_PERIOD, placeholder="peak", min=0, step="any"),
        ], "g-2 align-items-center mt-2 mb-1"),
    ])


#: The transmission panel's window inputs (hours), in :func:`depth_controls` order.
WINDOW_CONTROLS = (ids.IN_TRANSIT_START, ids.IN_TRANSIT_END, ids.WINDOW_BASELINE_START, ids.WINDOW_BASELINE_END,
                   ids.WINDOW_BASELINE2_START, ids.WINDOW_BASELINE2_END)


def windows_picked(picked: Any, typed: Sequence[Any] = (None,) * 6) -> list:
    """:data:`WINDOW_CONTROLS` values: ``typed``, with the windows a box-select picked
    (:data:`dashboard.ids.WINDOWS_STORE` data) in place of what was typed there."""
    found = read_windows(picked)
    values = list(typed)
    for start, name in ((0, "in_transit"), (2, "baseline")):
        if name in found:
            values[start:start + 2] = found[name]
    return values


def panes(windows: Sequence[Any] = (None,) * 6) -> dict[str, Any]:
    """The science tabs' controls: pane id (:data:`dashboard.ids.SCIENCE_PANES` values and
    :data:`dashboard.ids.WINDOW_PANE`) → its content."""
    return {ids.SCIENCE_PANES[ids.TAB_CHANNELS]: channels_controls(),
            ids.SCIENCE_PANES[ids.TAB_TRANSMISSION]: depth_controls(), ids.WINDOW_PANE: window_controls(windows),
            ids.SCIENCE_PANES[ids.TAB_VARIABILITY]: variability_controls()}


def tabs(mounted: bool = False) -> list[dbc.Tab]:
    """The science tabs (placed beside the views by :func:`dashboard.features.views.layout`).

    Their controls are left out until a science tab is first opened (``mounted=False``):
    the page opens without their ~60 components.  All three panes fill at once, since the
    Channels panel reads the Transmission panel's baseline window.  The graphs and
    messages stay in the layout: the panels' callbacks write them.
    """
    stores = [dcc.Store(id=store) for store in ids.SCIENCE_DRAWN.values()]  # WINDOWS_STORE lives in the explore layout
    stores.append(dcc.Store(id=ids.SCIENCE_MOUNTED, data=mounted))
    content = panes() if mounted else {}
    pane = {tab: html.Div(content.get(pane_id), id=pane_id) for tab, pane_id in ids.SCIENCE_PANES.items()}
    windows = html.Div(content.get(ids.WINDOW_PANE), id=ids.WINDOW_PANE)
    hint = html.Div("Hours since the first integration, as on the light-curve axis; a box-select on the white-light "
                    "curve fills them. The second baseline window (e.g. after the transit) is optional.",
                    className="small text-muted")

    def message(message_id: str, class_name: str = "small") -> html.Div:
        return html.Div(id=message_id, className=class_name)

    # Short labels: the seven tabs stay on one line at 1280 px (a second line pushes the plots out of view).
    return [
        dbc.Tab(html.Div([*stores, pane[ids.TAB_CHANNELS], message(ids.CHANNELS_MESSAGE, "small text-muted"),
                          _graph(ids.CHANNELS_GRAPH)]), label="Channels", tab_id=ids.TAB_CHANNELS),
        dbc.Tab(html.Div([pane[ids.TAB_TRANSMISSION], windows, hint, message(ids.DEPTH_MESSAGE),
                          _graph(ids.DEPTH_GRAPH)]),
                label="Transmission", tab_id=ids.TAB_TRANSMISSION),
        dbc.Tab(html.Div([pane[ids.TAB_VARIABILITY], message(ids.VARIABILITY_MESSAGE), _graph(ids.PERIODOGRAM_GRAPH),
                          _graph(ids.AMPLITUDE_GRAPH)]), label="Variability", tab_id=ids.TAB_VARIABILITY),
    ]


def _message(text: str, problem: bool) -> Any:
    if not text:
        return None
    return dbc.Alert(text, color="warning", className="py-1 px-2 mb-1 small") if problem else text


# ---------------------------------------------------------------------- callbacks
def _pane_input(control: str) -> Input:
    """A control of a science pane as an input: the panes are empty until a science tab opens, and
    until then the control reads as None (the panel computes only once they are mounted)."""
    return Input(control, "value", allow_optional=True)


def register(app, services: Services) -> None:
    from .views import EVICTED, BandsRefused, _bands, drawn_signature, when_shown

    cubes = services.cubes

    pane_ids = list(panes())

    @app.callback(
        *[Output(pane_id, "children") for pane_id in pane_ids], Output(ids.SCIENCE_MOUNTED, "data"),
        Input(ids.TABS, "active_tab"), Input(ids.WINDOWS_STORE, "data"), State(ids.SCIENCE_MOUNTED, "data"),
        *[State(control, "value", allow_optional=True) for control in WINDOW_CONTROLS],
        prevent_initial_call=True,
    )
    def mount_panes(active_tab, picked, mounted, *typed):
        unchanged = [no_update] * (len(pane_ids) + 1)
        if not mounted:
            if active_tab not in ids.SCIENCE_PANES:
                return unchanged
            return [*panes(windows_picked(picked)).values(), True]
        if ctx.triggered_id != ids.WINDOWS_STORE:
            return unchanged
        # A box-select on the white-light curve sets a window: it replaces what was typed there.
        unchanged[pane_ids.index(ids.WINDOW_PANE)] = window_controls(windows_picked(picked, typed))
        return unchanged

    def panel(graph: str, tab: str, extra_outputs: list[Output], inputs: list, compute) -> None:
        """Compute ``graph`` (and its extra outputs) while ``tab`` is open, when its inputs changed.

        ``compute(cube, *values)`` returns the figures then a message; a ValueError from
        the engine or the inputs becomes the message, beside an empty figure.
        """
        drawn_store = ids.SCIENCE_DRAWN[graph]
        figures = [Output(graph, "figure"), *[o for o in extra_outputs if o.component_property == "figure"]]
        n_figures = len(figures)
        message_output = next(o for o in extra_outputs if o.component_property == "children")

        # the bands change on any tab: they reach a hidden panel only when its tab opens
        shown = [Input(ids.RESULT, "data"), Input(ids.SCIENCE_MOUNTED, "data"),
                 *[i for i in inputs if i.component_id == ids.BANDS]]

        @app.callback(
            *figures, message_output, Output(drawn_store, "data"),
            when_shown(app, graph, tab, shown),
            State(ids.TABS, "active_tab"), State(ids.RESULT, "data"), State(ids.SCIENCE_MOUNTED, "data"),
            *[State(i.component_id, i.component_property) if i.component_id == ids.BANDS else i for i in inputs],
            State(drawn_store, "data"), State(ids.SESSION, "data"),
            prevent_initial_call=True,
        )
        def _compute(_shown, active_tab, result, mounted, *args):
            *values, drawn, session = args
            if active_tab != tab or not mounted or not isinstance(result, dict):
                return [no_update] * (n_figures + 2)
            signature = drawn_signature(result, *values)
            if signature == drawn:
                return [no_update] * (n_figures + 2)
            key = cubes.redeem(result.get("ticket"), session)
            cube = cubes.processed(key) if key is not None else None
            gone = (cubes.why_gone(key) if key is not None else None) or EVICTED
            if cube is None:
                return [empty_figure(gone)] * n_figures + [_message(gone, True), signature]
            try:
                *made, note = compute(cube, *values)
                message = _message(note, False)
            except (ValueError, BandsRefused) as error:
                text = str(error)
                made, message = [empty_figure(text)] * n_figures, _message(text[:1].upper() + text[1:], True)
            return [*made, message, signature]

        _compute.__name__ = f"compute_{graph.replace('-', '_')}"

    baseline_inputs = [_pane_input(ids.WINDOW_BASELINE_START), _pane_input(ids.WINDOW_BASELINE_END)]

    def draw_channels(cube, mode, value, binning, divide, b_start, b_end):
        try:
            baseline = window(b_start, b_end, "baseline")
        except ScienceInputError:
            baseline = None  # the transmission panel says what is wrong with it
        return channels_view(cube, mode, value, binning, bool(divide), baseline)

    panel(ids.CHANNELS_GRAPH, ids.TAB_CHANNELS, [Output(ids.CHANNELS_MESSAGE, "children")],
          [_pane_input(ids.CHANNELS_BY), _pane_input(ids.CHANNELS_VALUE), _pane_input(ids.CHANNELS_BIN),
           _pane_input(ids.CHANNELS_DIVIDE), *baseline_inputs], draw_channels)

    def draw_depth(cube, mode, value, kind, unit, in_start, in_end, b1s, b1e, b2s, b2e, bands):
        request = depth_request(mode, value, kind, unit, in_start, in_end, b1s, b1e, b2s, b2e)
        return depth_view(cube, request, _bands(bands))

    panel(ids.DEPTH_GRAPH, ids.TAB_TRANSMISSION, [Output(ids.DEPTH_MESSAGE, "children")],
          [_pane_input(ids.DEPTH_BY), _pane_input(ids.DEPTH_VALUE), _pane_input(ids.DEPTH_KIND),
           _pane_input(ids.DEPTH_UNIT), _pane_input(ids.IN_TRANSIT_START), _pane_input(ids.IN_TRANSIT_END),
           *baseline_inputs, _pane_input(ids.WINDOW_BASELINE2_START), _pane_input(ids.WINDOW_BASELINE2_END),
           Input(ids.BANDS, "data")], draw_depth)

    def draw_variability(cube, bands, mode, value, period):
        return variability_view(cube, _bands(bands), mode, value, period)

    panel(ids.PERIODOGRAM_GRAPH, ids.TAB_VARIABILITY,
          [Output(ids.AMPLITUDE_GRAPH, "figure"), Output(ids.VARIABILITY_MESSAGE, "children")],
          [Input(ids.BANDS, "data"), _pane_input(ids.AMPLITUDE_BY), _pane_input(ids.AMPLITUDE_VALUE),
           _pane_input(ids.AMPLITUDE_PERIOD)], draw_variability)
