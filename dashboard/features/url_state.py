"""The view in the page URL: open a link, get the same view; change the view, the link follows.

The query string holds the dataset when it can be named without data (the demo, or
files of the server data folder — never an upload, a session or a key), every
processing option under its :class:`~stamp_engine.recipe.ProcessOptions` field name,
the display options, the bands, the highlighted band, the tab and the spectrum mode::

    ?data=server&file=wasp39/seg1.fits&element=order+2&zaxis=flux&bin_time=4
     &colorscale=Viridis&band=CO2:4.2:4.4&highlight=CO2&view=lightcurves

Values left at their default are not written.  Opening a link validates every value
(names case-insensitively, numbers and ranges by :func:`dashboard.options.parse_process_options`,
bands by :func:`dashboard.band_rows.check_band_rows`); a value that cannot be used is
named in a message and its default is used instead — a link never raises.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields
from typing import Any, Iterable, Mapping
from urllib.parse import parse_qsl, urlencode

import dash_bootstrap_components as dbc
from dash import ClientsideFunction, Input, Output, State, dcc, html, no_update

from stamp_engine.bands import Band

from .. import ids
from ..band_rows import check_band_rows
from ..options import DisplayOptions, ProcessOptions, parse_display_options, parse_element, parse_process_options
from ..server.services import Services
from .controls import PROCESS_CHOICES, PROCESS_INPUTS, PROCESS_ORDER, raw_options

#: Tab names in links (``?view=heatmap``) → tab ids.
TABS = {"heatmap": ids.TAB_HEATMAP, "surface": ids.TAB_SURFACE, "lightcurves": ids.TAB_LIGHTCURVES,
        "spectrum": ids.TAB_SPECTRUM, "channels": ids.TAB_CHANNELS, "transmission": ids.TAB_TRANSMISSION,
        "variability": ids.TAB_VARIABILITY}
DEFAULT_TAB = ids.TAB_HEATMAP
ALL_BANDS = "All"
#: Longest query string read (a link holds names and numbers only; 40 bands fit easily).
MAX_QUERY_CHARS = 8000
#: Most bands a link may hold (as many as a view draws: views.MAX_VIEW_BANDS).
MAX_LINK_BANDS = 40
#: Most server files a link may name.
MAX_LINK_FILES = 200
_DISPLAY_KEYS = ("colorscale", "zrange", "stretch", "visits")
_OTHER_KEYS = ("data", "file", "element", "band", "highlight", "view", "spectrum")
_PROCESS_FIELDS = {f.name: f for f in fields(ProcessOptions)}
_CHOICE_FIELDS = {"zaxis", "normalization"}
_TRUE, _FALSE = ("true", "1", "yes", "on"), ("false", "0", "no", "off")


@dataclass(frozen=True)
class ViewState:
    """Everything a link restores.

    Attributes
    ----------
    dataset : dict or None
        ``{"kind": "demo"}`` or ``{"kind": "server", "paths": [...]}`` (see
        :mod:`dashboard.datasets`), with ``"element"`` when one was chosen; None: keep
        the page's dataset.
    options, display
        Processing and display options.
    bands : tuple of Band or None
        None: leave the band editor as it is.
    highlight : str
        Highlighted band name, or ``"All"``.
    tab : str
        Tab id (:data:`TABS` values).
    spectrum_mode : str
        Spectrum player mode (:data:`stamp_engine.figures.SPECTRUM_MODES`).
    """

    dataset: dict[str, Any] | None = None
    options: ProcessOptions = field(default_factory=ProcessOptions)
    display: DisplayOptions = field(default_factory=DisplayOptions)
    bands: tuple[Band, ...] | None = None
    highlight: str = ALL_BANDS
    tab: str = DEFAULT_TAB
    spectrum_mode: str = "variability"


# ------------------------------------------------------------------ writing
def _number_text(value: float | int) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    text = repr(float(value))  # shortest text that reads back as the same float
    return text[:-2] if text.endswith(".0") else text


def _range_text(values: Iterable[float | None]) -> str:
    return ",".join("" if v is None else _number_text(v) for v in values)


def linkable_dataset(descriptor: Any) -> dict[str, Any] | None:
    """The part of a dataset descriptor a link may carry: demo or server files (and element); None otherwise."""
    if not isinstance(descriptor, Mapping):
        return None
    kind = descriptor.get("kind")
    if kind == "demo":
        linked: dict[str, Any] = {"kind": "demo"}
    elif kind == "server" and isinstance(descriptor.get("paths"), list):
        linked = {"kind": "server", "paths": [str(p) for p in descriptor["paths"]]}
    else:
        return None  # an upload lives in one browser session: a link cannot carry it
    if descriptor.get("element"):
        linked["element"] = str(descriptor["element"])
    return linked


def to_query(state: ViewState) -> str:
    """The query string (with its ``?``, or ``""``) of a view; options at their default are left out."""
    pairs: list[tuple[str, str]] = []
    dataset = linkable_dataset(state.dataset)
    if dataset is not None:
        pairs.append(("data", dataset["kind"]))
        pairs += [("file", path) for path in dataset.get("paths", [])]
        if dataset.get("element"):
            pairs.append(("element", dataset["element"]))
    defaults = ProcessOptions()
    for name in _PROCESS_FIELDS:
        value = getattr(state.options, name)
        if value == getattr(defaults, name) or value is None:
            continue
        if isinstance(value, (tuple, list)):
            pairs.append((name, _range_text(value)))
        elif isinstance(value, str):
            pairs.append((name, value))
        else:
            pairs.append((name, _number_text(value)))
    display = state.display
    if display.colorscale:
        pairs.append(("colorscale", display.colorscale))
    if display.zrange:
        pairs.append(("zrange", _range_text(display.zrange)))
    if display.stretch != "linear":
        pairs.append(("stretch", display.stretch))
    if display.visits != "auto":
        pairs.append(("visits", display.visits))
    for band in state.bands or ():
        pairs.append(("band", f"{band.name}:{_number_text(band.start)}:{_number_text(band.end)}"))
    if state.highlight != ALL_BANDS:
        pairs.append(("highlight", state.highlight))
    tab_names = {tab: name for name, tab in TABS.items()}
    if state.tab != DEFAULT_TAB and state.tab in tab_names:
        pairs.append(("view", tab_names[state.tab]))
    if state.spectrum_mode != "variability":
        pairs.append(("spectrum", state.spectrum_mode))
    return "?" + urlencode(pairs, safe=",:/") if pairs else ""


# ------------------------------------------------------------------ reading
def _choice(text: str, choices: Iterable[str]) -> str | None:
    """``text`` as spelled in ``choices``, matched without regard to case or surrounding space."""
    wanted = text.strip().casefold()
    return next((c for c in choices if c.casefold() == wanted), None)


def _one_of(key: str, text: str, choices: Iterable[str], messages: list[str], default: str) -> str:
    choices = list(choices)
    found = _choice(text, choices)
    if found is None:
        messages.append(f"Link setting {key}={text!r} is not one of {', '.join(choices)}; {default} is used")
        return default
    return found


def _split_range(text: str) -> list[str | None]:
    parts = [p.strip() or None for p in text.split(",")]
    return parts if len(parts) == 2 else [text, None]  # not two values: parse_process_options names it


def parse_query(
    search: str | None,
    *,
    colorscales: Iterable[str],
    has_demo: bool = True,
    server_files: Iterable[str] | None = None,
) -> tuple[ViewState | None, list[str]]:
    """The view a query string asks for, and a message for each value that could not be used.

    Parameters
    ----------
    search : str
        ``location.search`` (with or without ``?``).
    colorscales : iterable of str
        Colour scale names offered.
    has_demo : bool
        Whether this server has the demo observation.
    server_files : iterable of str, optional
        Relative paths of the server data folder's files; None when there is no folder.

    Returns
    -------
    state, messages
        ``state`` is None when the query names nothing a view has (an empty link);
        otherwise every unusable value is replaced by its default and named in ``messages``.
        Never raises.
    """
    text = (search or "").lstrip("?")
    if not text:
        return None, []
    if len(text) > MAX_QUERY_CHARS:
        return None, [f"The link's settings are longer than {MAX_QUERY_CHARS} characters and were not read"]
    messages: list[str] = []
    given: dict[str, list[str]] = {}
    for key, value in parse_qsl(text, keep_blank_values=True):
        name = key.strip().lower()
        if name in _PROCESS_FIELDS or name in _DISPLAY_KEYS or name in _OTHER_KEYS:
            given.setdefault(name, []).append(value)
        else:
            messages.append(f"Link setting {key!r} is not known and was ignored")
    if not given:
        return None, messages

    def last(name: str) -> str | None:
        return given[name][-1] if name in given else None

    dataset = _dataset(given, has_demo, server_files, messages)
    options = _process_options(given, messages)
    display = _display_options(given, colorscales, messages)
    bands = _bands(given.get("band"), messages) if "band" in given else None
    highlight = ALL_BANDS
    if last("highlight") not in (None, ""):
        names = [b.name for b in bands] if bands is not None else None
        wanted = last("highlight").strip()
        if wanted.casefold() == ALL_BANDS.casefold():
            highlight = ALL_BANDS
        elif names is None:
            highlight = wanted[:80]
        else:
            found = _choice(wanted, names)
            if found is None:
                messages.append(f"Link setting highlight={wanted!r} is not one of the link's bands; all are shown")
            highlight = found or ALL_BANDS
    tab = DEFAULT_TAB
    if last("view") is not None:
        tab = TABS[_one_of("view", last("view"), TABS, messages, "heatmap")]
    from stamp_engine.figures import SPECTRUM_MODES

    mode = "variability"
    if last("spectrum") is not None:
        mode = _one_of("spectrum", last("spectrum"), SPECTRUM_MODES, messages, "variability")
    return ViewState(dataset, options, display, bands, highlight, tab, mode), messages


def _dataset(given: Mapping[str, list[str]], has_demo: bool, server_files: Iterable[str] | None,
             messages: list[str]) -> dict[str, Any] | None:
    kind_text = given.get("data", [None])[-1]
    if kind_text is None:
        if "file" in given or "element" in given:
            messages.append("The link names files or an element without data=server or data=demo; they were ignored")
        return None
    kind = _choice(kind_text, ("demo", "server"))
    if kind is None:
        messages.append(f"Link setting data={kind_text!r} is not demo or server (uploaded data cannot be linked); "
                        "the data shown stay as they are")
        return None
    if kind == "demo":
        if not has_demo:
            messages.append("The link asks for the demo, which this server does not have")
            return None
        dataset: dict[str, Any] = {"kind": "demo"}
    else:
        if server_files is None:
            messages.append("The link names server files, but this server has no data folder")
            return None
        available = list(server_files)
        paths = []
        for name in given.get("file", [])[:MAX_LINK_FILES]:
            found = name if name in available else _choice(name, available)
            if found is None:
                messages.append(f"The link's file {name!r} is not in this server's data folder; it was left out")
            else:
                paths.append(found)
        if len(given.get("file", [])) > MAX_LINK_FILES:
            messages.append(f"The link names more than {MAX_LINK_FILES} files; only the first {MAX_LINK_FILES} were read")
        if not paths:
            messages.append("The link names no usable server file; the data shown stay as they are")
            return None
        dataset = {"kind": "server", "paths": paths}
    element, error = parse_element(given.get("element", [None])[-1])
    if error:
        messages.append(f"Link setting element: {error}; the default element is shown")
    elif element:
        dataset["element"] = element
    return dataset


def _process_options(given: Mapping[str, list[str]], messages: list[str]) -> ProcessOptions:
    from stamp_engine.recipe import NORMALIZATIONS, ZAXES

    defaults = ProcessOptions()
    raw: dict[str, Any] = {}
    for name in _PROCESS_FIELDS:
        if name not in given:
            continue
        text = given[name][-1]
        default = getattr(defaults, name)
        if name in _CHOICE_FIELDS:
            raw[name] = _one_of(name, text, ZAXES if name == "zaxis" else NORMALIZATIONS, messages, default)
        elif isinstance(default, bool):
            flag = text.strip().lower()
            if flag not in _TRUE + _FALSE:
                messages.append(f"Link setting {name}={text!r} is not true or false; {str(default).lower()} is used")
            raw[name] = flag in _TRUE
        elif isinstance(default, tuple) or name == "baseline":
            raw[name] = _split_range(text)
        else:
            raw[name] = text.strip() or None
    options, errors = parse_process_options(raw)
    messages += [f"Link setting {name}: {message}; the default is used" for name, message in errors.items()]
    validate = getattr(options, "validate", None)  # the engine's own checks, where it has them
    if callable(validate):
        messages += [f"Link setting {name}: {message}" for name, message in (validate() or {}).items()
                     if name not in errors]
    return options


def _display_options(given: Mapping[str, list[str]], colorscales: Iterable[str], messages: list[str]) -> DisplayOptions:
    from stamp_engine.colour import STRETCHES
    from stamp_engine.timeaxis import VISIT_LAYOUTS

    names = list(colorscales)

    def named(key: str, choices: Iterable[str], default: str) -> str | None:
        text = given.get(key, [None])[-1]
        return None if text in (None, "") else _one_of(key, text, choices, messages, default)

    colorscale = named("colorscale", ["auto", *names], "auto")
    zrange = _split_range(given["zrange"][-1]) if "zrange" in given else None
    options, errors = parse_display_options(colorscale, zrange, names, named("stretch", STRETCHES, "linear"),
                                            named("visits", VISIT_LAYOUTS, "auto"))
    messages += [f"Link setting {name}: {message}" for name, message in errors.items()]
    return options


def _bands(entries: list[str], messages: list[str]) -> tuple[Band, ...]:
    if len(entries) > MAX_LINK_BANDS:
        messages.append(f"The link holds {len(entries)} bands; the first {MAX_LINK_BANDS} are used")
    rows = []
    for entry in entries[:MAX_LINK_BANDS]:
        parts = entry.rsplit(":", 2)  # a band name may hold ':'; its numbers do not
        if len(parts) != 3 or not parts[0].strip():
            messages.append(f"Link band {entry!r} is not name:start:end (µm); it was left out")
            continue
        rows.append({"name": parts[0].strip()[:80], "start": parts[1], "end": parts[2]})
    bands, errors = check_band_rows(rows)
    messages += [f"Link band {rows[i]['name']!r}: {message}; it was left out" for i, message in sorted(errors.items())]
    return tuple(bands)


# ------------------------------------------------------------------ the page's controls
def state_from_page(dataset: Any, result: Any, process_values: list, colorscale: Any, z_min: Any, z_max: Any,
                    stretch: Any, visits: Any, bands: Any, highlight: Any, tab: Any, mode: Any,
                    colorscales: Iterable[str]) -> ViewState:
    """The view the page shows: processing options as processed when the result is of this
    dataset (else as the controls hold them), display options as the controls hold them."""
    if isinstance(result, Mapping) and result.get("dataset") == dataset and isinstance(result.get("options"), Mapping):
        options = options_from_dict(result["options"])
    else:
        options, _ = parse_process_options(raw_options(process_values))
    display, _ = parse_display_options(colorscale, [z_min, z_max], list(colorscales), stretch, visits)
    shown_bands = []
    for entry in bands if isinstance(bands, list) else []:
        try:
            shown_bands.append(Band(str(entry["name"]), float(entry["start"]), float(entry["end"])))
        except (KeyError, TypeError, ValueError):
            continue
    return ViewState(
        dataset=linkable_dataset(dataset), options=options, display=display, bands=tuple(shown_bands),
        highlight=str(highlight) if highlight else ALL_BANDS, tab=tab if tab in TABS.values() else DEFAULT_TAB,
        spectrum_mode=mode or "variability",
    )


def options_from_dict(data: Mapping[str, Any]) -> ProcessOptions:
    """:class:`ProcessOptions` from its :meth:`~ProcessOptions.to_dict` (after a JSON trip: lists for tuples)."""
    values = {name: (tuple(v) if isinstance(v, list) else v) for name, v in data.items() if name in _PROCESS_FIELDS}
    return ProcessOptions(**values)


def control_values(options: ProcessOptions) -> list:
    """The processing controls' values (in :data:`controls.PROCESS_ORDER`) that give ``options``."""
    values = []
    for control in PROCESS_ORDER:
        if control in PROCESS_CHOICES:
            values.append(getattr(options, PROCESS_CHOICES[control]))
            continue
        name, position = PROCESS_INPUTS[control]
        value = getattr(options, name)
        if position is not None:
            value = None if value is None else value[position]
        values.append(value)
    return values


def keeps_colour_range(search: str | None, zaxis: Any, z_min: Any, z_max: Any) -> bool:
    """Whether a colour range is the one the page's link sets for this z axis (so a z-axis change
    made by opening the link does not reset it, as a user's change does)."""
    text = (search or "").lstrip("?")
    if not text or z_min is None or z_max is None:
        return False
    given = {k.lower(): v for k, v in parse_qsl(text, keep_blank_values=True)}
    if (given.get("zaxis") or ProcessOptions().zaxis).strip().lower() != str(zaxis).lower():
        return False
    try:
        lo, hi = (float(v) for v in given.get("zrange", "").split(","))
    except ValueError:
        return False
    return math.isclose(lo, float(z_min)) and math.isclose(hi, float(z_max))


def layout(services: Services) -> html.Div:
    return html.Div([dcc.Store(id=ids.URL_WRITTEN), dcc.Store(id=ids.URL_OPENED), dcc.Store(id=ids.URL_READ, data=False),
                     html.Div(id=ids.URL_MESSAGE)])


def register(app, services: Services) -> None:
    from stamp_engine.figures import COLORSCALES

    from ..server.data_folder import list_data_files

    config = services.config
    has_folder = config.data_dir is not None
    display_controls = [ids.COLORSCALE, ids.Z_MIN, ids.Z_MAX, ids.STRETCH, ids.VISIT_LAYOUT]
    restored = [
        Output(ids.DATASET, "data", allow_duplicate=True),
        *[Output(c, "value", allow_duplicate=True) for c in PROCESS_ORDER],
        *[Output(c, "value", allow_duplicate=True) for c in display_controls],
        Output(ids.BAND_TABLE, "data", allow_duplicate=True),
        Output(ids.BANDS_FITTED, "data", allow_duplicate=True),
        Output(ids.SELECTED_BAND, "data", allow_duplicate=True),
        Output(ids.TABS, "active_tab", allow_duplicate=True),
        Output(ids.SPECTRUM_MODE, "value", allow_duplicate=True),
        Output(ids.URL_MESSAGE, "children"),
        Output(ids.URL_READ, "data"),
    ]
    message_at = len(restored) - 2
    if has_folder:
        restored.append(Output(ids.SERVER_FILES, "value", allow_duplicate=True))

    # In the browser: only a URL the page did not write itself goes to the server to be read.
    app.clientside_callback(
        ClientsideFunction(namespace="stampUrlState", function_name="linkToRead"),
        Output(ids.URL_OPENED, "data"),
        Input(ids.LOCATION, "search"),
        State(ids.URL_WRITTEN, "data"),
        State(ids.URL_READ, "data"),
    )

    @app.callback(*restored, Input(ids.URL_OPENED, "data"), State(ids.DATASET, "data"),
                  *[State(c, "value") for c in PROCESS_ORDER], prevent_initial_call="initial_duplicate")
    def restore_view(search, current, *process_values):
        skip = [no_update] * len(restored)
        if not isinstance(search, str):
            return skip  # the page has not reported its URL yet
        skip[message_at + 1] = True
        state, messages = parse_query(
            search, colorscales=COLORSCALES, has_demo=config.demo_path is not None,
            server_files=list_data_files(config.data_dir) if has_folder else None,
        )
        message = dbc.Alert([html.Div("Some of the link's settings could not be used:", className="fw-semibold"),
                             html.Ul([html.Li(m) for m in messages], className="mb-0 small")],
                            color="warning", dismissable=True, className="py-2") if messages else None
        if state is None:
            skip[message_at] = message
            return skip
        display = state.display
        zrange = display.zrange or (None, None)
        typed, _ = parse_process_options(raw_options(process_values))
        # A new dataset or new options start the job; a link that only opens a tab (?view=…) does not.
        dataset = state.dataset if state.dataset is not None else (current if state.options != typed else no_update)
        values = [
            dataset,
            *control_values(state.options),
            display.colorscale or "auto", zrange[0], zrange[1], display.stretch, display.visits,
            [b.to_dict() for b in state.bands] if state.bands is not None else no_update,
            (state.dataset or current) if state.bands is not None else no_update,  # the link's bands stay, no preset
            state.highlight, state.tab, state.spectrum_mode, message, True,
        ]
        if has_folder:
            values.append(state.dataset["paths"] if state.dataset and state.dataset["kind"] == "server" else no_update)
        return values

    @app.callback(
        Output(ids.LOCATION, "search"),
        Output(ids.URL_WRITTEN, "data"),
        Input(ids.DATASET, "data"),
        Input(ids.RESULT, "data"),
        *[Input(c, "value") for c in display_controls],
        Input(ids.BANDS, "data"),
        Input(ids.TABS, "active_tab"),
        Input(ids.SPECTRUM_MODE, "value"),
        State(ids.SELECTED_BAND, "data"),  # a band click changes the link in the browser (stamp_url_state.js)
        *[State(c, "value") for c in PROCESS_ORDER],
        State(ids.LOCATION, "search"),
        State(ids.URL_READ, "data"),
        prevent_initial_call=True,
    )
    def write_view(dataset, result, colorscale, z_min, z_max, stretch, visits, bands, tab, mode, highlight, *rest):
        *process_values, search, read = rest
        if not read:
            return no_update, no_update  # the link the page was opened with is not read yet: keep it
        state = state_from_page(dataset, result, process_values, colorscale, z_min, z_max, stretch, visits,
                                bands, highlight, tab, mode, COLORSCALES)
        query = to_query(state)
        if query == (search or ""):
            return no_update, query
        return query, query

    app.clientside_callback(
        ClientsideFunction(namespace="stampUrlState", function_name="highlightInUrl"),
        Output(ids.LOCATION, "search", allow_duplicate=True),
        Output(ids.URL_WRITTEN, "data", allow_duplicate=True),
        Input(ids.SELECTED_BAND, "data"),
        State(ids.LOCATION, "search"),
        State(ids.URL_READ, "data"),
        prevent_initial_call=True,
    )

