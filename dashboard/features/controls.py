"""Processing and display controls, validated as they are typed."""

from __future__ import annotations

import dash_bootstrap_components as dbc
from dash import Input, Output, State, ctx, html, no_update

from .. import ids
from ..options import AUTO_COLORSCALE, NORMALIZATIONS, ZAXES, DataLimits, ProcessOptions, parse_display_options, parse_process_options
from ..server.services import Services

#: Control id → (ProcessOptions field, position in a range or None).
PROCESS_INPUTS: dict[str, tuple[str, int | None]] = {
    ids.N_INTEGRATIONS: ("n_integrations", None),
    ids.GAP_HOURS: ("gap_hours", None),
    ids.BASELINE_START: ("baseline", 0),
    ids.BASELINE_END: ("baseline", 1),
    ids.WAVE_MIN: ("wavelength", 0),
    ids.WAVE_MAX: ("wavelength", 1),
    ids.TIME_MIN: ("hours", 0),
    ids.TIME_MAX: ("hours", 1),
    ids.SIGMA_TIME: ("sigma_time", None),
    ids.SIGMA_WAVE: ("sigma_wavelength", None),
    ids.BIN_TIME: ("bin_time", None),
    ids.BIN_WAVE: ("bin_wavelength", None),
    ids.CLIP_SIGMA: ("clip_sigma", None),
}
PROCESS_CHOICES = {ids.INTERPOLATE_GAPS: "interpolate_gaps", ids.ZAXIS: "zaxis", ids.NORMALIZATION: "normalization"}
#: Order of the controls' values in the callbacks' arguments.
PROCESS_ORDER = [*PROCESS_INPUTS, *PROCESS_CHOICES]


def process_states() -> list[State]:
    """The processing controls as callback States, in :data:`PROCESS_ORDER`."""
    return [State(i, "value") for i in PROCESS_ORDER]


def raw_options(values) -> dict:
    """Controls' values (in :data:`PROCESS_ORDER`) → the raw mapping :func:`parse_process_options` takes."""
    raw: dict = {}
    for control, value in zip(PROCESS_ORDER, values):
        if control in PROCESS_CHOICES:
            field = PROCESS_CHOICES[control]
            raw[field] = bool(value) if field == "interpolate_gaps" else value
            continue
        field, position = PROCESS_INPUTS[control]
        if position is None:
            raw[field] = value
        else:
            raw.setdefault(field, [None, None])[position] = value
    return raw


def _number(control: str, placeholder: str, unit: str, *, value=None, tooltip: str = "", disabled: bool = False):
    # No step or min for the browser: a value it finds invalid (2.5 for a step of 1, below a min)
    # reaches Dash as None and would silently become the default. parse_process_options checks
    # every value and says what is wrong instead.
    group = dbc.InputGroup([
        dbc.Input(id=control, type="number", value=value, step="any", placeholder=placeholder,
                  debounce=True, size="sm", disabled=disabled),
        dbc.InputGroupText(unit, className="small") if unit else None,
    ], size="sm")
    return html.Div(group, title=tooltip)


def _row(label: str, *controls, help_text: str = "") -> html.Div:
    return html.Div([
        dbc.Label(label, className="small mb-1"),
        dbc.Row([dbc.Col(c) for c in controls], className="g-1"),
        html.Div(help_text, className="form-text small mt-0") if help_text else None,
    ], className="mb-2")


def processing_layout(services: Services) -> dbc.Card:
    defaults = ProcessOptions()
    # drawn as the callbacks would set them, so the page needs no first round trip for them
    baseline_off, _, normalization_off = normalization_controls_disabled(defaults.normalization, defaults.zaxis)
    body = [
        element_layout(),
        _row("Z axis", dbc.RadioItems(id=ids.ZAXIS, value=defaults.zaxis, inline=True, className="small",
                                      options=[{"label": v, "value": k} for k, v in ZAXES.items()])),
        _row("Normalization", dbc.Select(id=ids.NORMALIZATION, value=defaults.normalization, size="sm",
                                         disabled=normalization_off,
                                         options=[{"label": v, "value": k} for k, v in NORMALIZATIONS.items()])),
        _row("Baseline window", _number(ids.BASELINE_START, "from", "h", disabled=baseline_off),
             _number(ids.BASELINE_END, "to", "h", disabled=baseline_off),
             help_text="Hours since the first integration; used by the baseline normalization."),
        _row("Wavelength range", _number(ids.WAVE_MIN, "min", "µm"), _number(ids.WAVE_MAX, "max", "µm")),
        _row("Time range", _number(ids.TIME_MIN, "min", "h"), _number(ids.TIME_MAX, "max", "h")),
        _row("Integrations to plot", _number(ids.N_INTEGRATIONS, "0 = all", "", value=0),
             help_text="Evenly spaced; 0 plots all."),
        _row("Visits", dbc.Switch(id=ids.INTERPOLATE_GAPS, label="Interpolate gaps", value=defaults.interpolate_gaps,
                                  className="small"),
             _number(ids.GAP_HOURS, "gap", "h", value=defaults.gap_hours,
                     tooltip="A gap longer than this starts a new visit")),
        _row("Smoothing σ", _number(ids.SIGMA_TIME, "time", "int.", value=0),
             _number(ids.SIGMA_WAVE, "wavelength", "px", value=0)),
        _row("Binning", _number(ids.BIN_TIME, "time", "int.", value=1),
             _number(ids.BIN_WAVE, "wavelength", "px", value=1)),
        _row("Sigma clipping", _number(ids.CLIP_SIGMA, "0 = off", "σ", value=0),
             help_text="Values further than this from the median along time (per wavelength and visit) "
                       "become NaN; the heatmap masks the columns mostly lost. 0 = off."),
        html.Div(id=ids.OPTIONS_MESSAGE),
        dbc.Button("Process", id=ids.PROCESS, color="primary", size="sm", className="mt-2"),
    ]
    return dbc.Card([dbc.CardHeader("Processing"), dbc.CardBody(body)], className="mb-3")


#: Element control value for "every detector, joined in wavelength" (the loader's default for NIRSpec).
ALL_ELEMENTS = "all"


def normalization_controls_disabled(normalization: str, zaxis: str) -> tuple[bool, bool, bool]:
    """Whether the baseline window's start and end, and the normalization, are disabled."""
    variability = zaxis == "variability"
    baseline_off = not (variability and normalization == "baseline")
    return baseline_off, baseline_off, not variability


def display_checks(z_min, z_max, colorscale, stretch, zaxis: str) -> tuple[bool, bool, dbc.Alert | None]:
    """Whether the colour range's min and max are invalid, and the display options' message (None when all is well)."""
    from stamp_engine.figures import COLORSCALES

    options, errors = parse_display_options(colorscale, [z_min, z_max], COLORSCALES, stretch)
    bad = "zrange" in errors
    notes = [errors["zrange"]] if bad else []
    notes += display_notes(options, zaxis)
    message = dbc.Alert([html.Div(n) for n in notes], color="warning", className="py-1 small") if notes else None
    return bad, bad, message


def element_layout() -> html.Div:
    """The spectral element picker, hidden until the data hold more than one element."""
    return html.Div(_row(
        "Spectral element", dbc.Select(id=ids.ELEMENT, options=[], size="sm"),
        help_text="The data hold several spectra (SOSS orders or NIRSpec detectors): choose which is shown.",
    ), id=ids.ELEMENT_BOX, hidden=True)


def element_choices(result: dict | None) -> tuple[list[dict], str | None]:
    """Options and value of the element picker for a job result (no options when it holds one element)."""
    elements = [str(e) for e in (result or {}).get("elements") or []]
    if len(elements) < 2:
        return [], None
    choices = [{"label": e.capitalize() if e.startswith("order ") else e, "value": e} for e in elements]
    if not any(e.startswith("order ") for e in elements):
        choices.append({"label": "All detectors, joined in wavelength", "value": ALL_ELEMENTS})
    shown = str(result.get("element") or "")
    return choices, shown if shown in elements else ALL_ELEMENTS


def dataset_with_element(result: dict | None, value: str | None) -> dict | None:
    """The shown dataset's descriptor asking for element ``value``; None when that is what is shown."""
    choices, shown = element_choices(result)
    if not choices or value in (None, shown) or not isinstance(result.get("dataset"), dict):
        return None
    descriptor = {k: v for k, v in result["dataset"].items() if k != "element"}
    if value != ALL_ELEMENTS:
        descriptor["element"] = value
    return descriptor


def _select(control: str, value: str, choices: dict[str, str], disabled: bool = False) -> dbc.Select:
    return dbc.Select(id=control, value=value, size="sm", disabled=disabled,
                      options=[{"label": v, "value": k} for k, v in choices.items()])


def display_layout(services: Services) -> dbc.Card:
    from stamp_engine.colour import STRETCHES
    from stamp_engine.figures import COLORSCALES, DIVERGING_COLORSCALES
    from stamp_engine.timeaxis import VISIT_LAYOUTS

    choices = [{"label": "Automatic (RdBu_r for variability, Viridis for flux)", "value": AUTO_COLORSCALE}]
    choices += [{"label": name + (" (diverging, centred on 0)" if name in DIVERGING_COLORSCALES else ""), "value": name}
                for name in COLORSCALES]
    body = [
        _row("Colour scale", dbc.Select(id=ids.COLORSCALE, value=AUTO_COLORSCALE, size="sm", options=choices)),
        _row("Colour range", _number(ids.Z_MIN, "auto", ""), _number(ids.Z_MAX, "auto", ""),
             help_text="In the z-axis unit (variability % or flux); empty for automatic (from the "
                       "well-measured wavelengths). Reset when the Z axis changes."),
        _row("Stretch (raw flux only)", _select(ids.STRETCH, "linear", STRETCHES,
                                                     disabled=ProcessOptions().zaxis == "variability")),
        _row("Visits in the heatmap", _select(ids.VISIT_LAYOUT, "auto", VISIT_LAYOUTS)),
        html.Div(display_checks(None, None, AUTO_COLORSCALE, "linear", ProcessOptions().zaxis)[2],
                 id=ids.DISPLAY_MESSAGE),
    ]
    return dbc.Card([dbc.CardHeader("Display"), dbc.CardBody(body)], className="mb-3")


def register(app, services: Services) -> None:
    range_controls = [c for c, (_, pos) in PROCESS_INPUTS.items()]

    # One callback for what a new result changes in these controls (the element picker, and the
    # options checked against the data's limits): one round trip after each result, not two.
    @app.callback(
        [Output(c, "invalid") for c in range_controls],
        Output(ids.OPTIONS_MESSAGE, "children"),
        Output(ids.ELEMENT, "options"),
        Output(ids.ELEMENT, "value"),
        Output(ids.ELEMENT_BOX, "hidden"),
        [Input(i, "value") for i in PROCESS_ORDER],
        Input(ids.RESULT, "data"),
        State(ids.ELEMENT, "value"),
    )
    def check_options_and_offer_elements(*args):
        *values, result, picked = args
        result = result if isinstance(result, dict) else None
        limits = DataLimits.from_dict((result or {}).get("limits"))
        _, errors = parse_process_options(raw_options(values), limits)
        flags = [PROCESS_INPUTS[c][0] in errors for c in range_controls]
        message = dbc.Alert([html.Div(m) for m in errors.values()], color="warning", className="py-1 small") if errors else None
        if ctx.triggered_prop_ids and f"{ids.RESULT}.data" not in ctx.triggered_prop_ids:
            return *flags, message, no_update, no_update, no_update  # options typed: the elements are as they were
        choices, shown = element_choices(result)
        # the value is set only when it changes: setting it starts choose_element, a round trip for nothing
        return *flags, message, choices, shown if shown != picked else no_update, not choices

    # Another element is other data: the dataset changes, and with it the job starts at once.
    @app.callback(Output(ids.DATASET, "data", allow_duplicate=True), Input(ids.ELEMENT, "value"),
                  State(ids.RESULT, "data"), prevent_initial_call=True)
    def choose_element(value, result):
        descriptor = dataset_with_element(result if isinstance(result, dict) else None, value)
        return descriptor if descriptor is not None else no_update

    @app.callback(
        Output(ids.BASELINE_START, "disabled"),
        Output(ids.BASELINE_END, "disabled"),
        Output(ids.NORMALIZATION, "disabled"),
        Input(ids.NORMALIZATION, "value"),
        Input(ids.ZAXIS, "value"),
        prevent_initial_call=True,  # the layout is drawn with normalization_controls_disabled already
    )
    def enable_normalization(normalization, zaxis):
        return normalization_controls_disabled(normalization, zaxis)

    @app.callback(
        Output(ids.Z_MIN, "value"),
        Output(ids.Z_MAX, "value"),
        Output(ids.STRETCH, "disabled"),
        Input(ids.ZAXIS, "value"),
        State(ids.Z_MIN, "value"),
        State(ids.Z_MAX, "value"),
        State(ids.LOCATION, "search"),
        prevent_initial_call=True,
    )
    def reset_colour_range(zaxis, z_min, z_max, search):
        from .url_state import keeps_colour_range

        if keeps_colour_range(search, zaxis, z_min, z_max):
            return no_update, no_update, zaxis == "variability"  # set with this z axis by the opened link
        # a range in % means nothing in mJy (and back): the new z axis starts automatic
        return None, None, zaxis == "variability"

    @app.callback(
        Output(ids.Z_MIN, "invalid"),
        Output(ids.Z_MAX, "invalid"),
        Output(ids.DISPLAY_MESSAGE, "children"),
        Input(ids.Z_MIN, "value"),
        Input(ids.Z_MAX, "value"),
        Input(ids.COLORSCALE, "value"),
        Input(ids.STRETCH, "value"),
        State(ids.ZAXIS, "value"),
        prevent_initial_call=True,  # the layout is drawn with display_checks already
    )
    def check_display_options(z_min, z_max, colorscale, stretch, zaxis):
        return display_checks(z_min, z_max, colorscale, stretch, zaxis)


def display_notes(options, zaxis: str) -> list[str]:
    """What the display options will not do as asked, said plainly."""
    from stamp_engine.figures import zero_is_centred

    notes = []
    variability = zaxis != "flux"
    if options.zrange and not zero_is_centred(variability, options.colorscale, options.zrange):
        lo, hi = options.zrange
        notes.append(f"0 % is outside the colour range {lo:g}…{hi:g}: the scale's centre colour "
                     "is not drawn, so no colour means 0 %.")
    if variability and options.stretch != "linear":
        notes.append("The stretch applies to raw flux only; variability is drawn linearly, centred on 0.")
    if not variability and options.stretch == "log" and options.zrange and options.zrange[0] <= 0:
        notes.append("A log stretch needs a colour range above 0.")
    return notes
