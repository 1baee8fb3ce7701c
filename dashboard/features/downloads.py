"""Downloads: the export package and each of its files, made from the processed cube on the server.

Every download is one background job (progress bar, Cancel) that builds the file in
a private folder under the cache directory and moves the finished file to the page
session's download folder (:mod:`dashboard.server.download_route`).  The job's result is
only a URL: the browser then fetches the file from the route that streams it, so a
package of hundreds of MB never passes through the job store, the callback response
or the browser's memory as base64.  What is drawn and tabulated is what the page shows: the processed cube behind the page's ticket, the current colour scale
and colour range, and the band editor's rows (checked as the editor checks them).

The callback only forwards to :func:`run_download`, a plain function tested without
a browser.
"""

from __future__ import annotations

import datetime as _dt
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Sequence

import dash_bootstrap_components as dbc
from dash import Input, Output, State, ctx, dcc, html, no_update

from stamp_engine.bands import Band, usable_bands
from stamp_engine.cube import Cube
from stamp_engine.export import (
    DEFAULT_MAX_VIDEO_FRAMES,
    build_package,
    combined_html,
    light_curve_table,
    package_stamp,
    standalone_html,
    write_cube_fits,
    write_light_curves,
    write_science_product,
)
from stamp_engine.export.science import SciencePlan, science_products
from stamp_engine.history import last_step
from stamp_engine.problems import StampError
from stamp_engine.progress import Progress
from stamp_engine.recipe import ProcessOptions

from .. import ids
from ..band_rows import check_band_rows
from ..options import (
    DataLimits,
    DisplayOptions,
    parse_display_options,
    parse_element,
    parse_process_options,
    processed_key,
)
from ..pipeline import ThrottledProgress
from ..server import download_route
from ..server.background import job_error_message, job_heartbeat
from ..server.data_folder import UnsafePath
from ..server.datasets import resolve
from ..server.download_route import Download
from ..server.runner import run_guarded, run_in_child
from ..server.services import Services
from ..server.sessions import NOT_ISSUED, is_issued
from ..server.storage import StorageFull, check_room
from ..view_figures import grid_figure
from .controls import process_states, raw_options
from .science import stored_windows

log = logging.getLogger("stamp.downloads")

# --- component ids (named here, not in dashboard.ids, so this feature stays in one file)
DOWNLOAD_CARD = "download-card"
DOWNLOAD_PACKAGE = "download-package"
DOWNLOAD_SURFACE = "download-surface"
DOWNLOAD_HEATMAP = "download-heatmap"
DOWNLOAD_COMBINED = "download-combined"
DOWNLOAD_VIDEO = "download-video"
DOWNLOAD_ECSV = "download-ecsv"
DOWNLOAD_CSV = "download-csv"
DOWNLOAD_FITS = "download-fits"
DOWNLOAD_PERIODOGRAM = "download-periodogram"
DOWNLOAD_AMPLITUDE = "download-amplitude"
DOWNLOAD_TRANSIT = "download-transit"
DOWNLOAD_CANCEL = "download-cancel"
DOWNLOAD_PROGRESS = "download-progress"
DOWNLOAD_STAGE = "download-stage"
DOWNLOAD_MESSAGE = "download-message"
DOWNLOAD_LINK = "download-link"  # store: URL of the built file, which the browser then fetches
DOWNLOAD_STARTED = "download-started"  # store: token of the last download the browser started

#: Milliseconds between the browser's polls of a running download's progress.
PROGRESS_POLL_MS = 400
#: Spectrum video: the package's frame rate, size and frame limit.
VIDEO_FPS = 20.0
VIDEO_SIZE = (1280, 720)

NO_RESULT = "Nothing to download yet: open data and press Process first."
EVICTED = "This result is no longer on the server (or belongs to another page): press Process again, then download."


@dataclass(frozen=True)
class Export:
    """One kind of download: its button, what to call it in messages, its file name and type."""

    button: str
    label: str
    what: str
    filename: str  # with "{stamp}" = YYYYMMDD_HHMMSS, as in the package
    mime: str


#: Kind → download, in the order of the buttons.  File names are those of the package
#: (:func:`stamp_engine.export.package_files`).
EXPORTS: dict[str, Export] = {
    "package": Export(DOWNLOAD_PACKAGE, "Download package", "package", "stamp_package_{stamp}.zip", "application/zip"),
    "surface": Export(DOWNLOAD_SURFACE, "Surface HTML", "3D surface page", "surface_plot_{stamp}.html", "text/html"),
    "heatmap": Export(DOWNLOAD_HEATMAP, "Heatmap HTML", "heatmap page", "heatmap_plot_{stamp}.html", "text/html"),
    "combined": Export(DOWNLOAD_COMBINED, "Combined HTML", "combined page", "combined_plots_{stamp}.html", "text/html"),
    "video": Export(DOWNLOAD_VIDEO, "Spectrum MP4", "spectrum video", "spectrum_{stamp}.mp4", "video/mp4"),
    "ecsv": Export(DOWNLOAD_ECSV, "Light curves ECSV", "light-curve table (ECSV)", "lightcurves_{stamp}.ecsv",
                   "text/plain"),
    "csv": Export(DOWNLOAD_CSV, "Light curves CSV", "light-curve table (CSV)", "lightcurves_{stamp}.csv", "text/csv"),
    "fits": Export(DOWNLOAD_FITS, "Cube FITS", "cube FITS file", "stamp_cube_{stamp}.fits", "application/fits"),
    "periodogram": Export(DOWNLOAD_PERIODOGRAM, "Periodogram ECSV", "white-light periodogram (ECSV)",
                          "periodogram_white_light_{stamp}.ecsv", "text/plain"),
    "amplitude": Export(DOWNLOAD_AMPLITUDE, "Amplitude spectrum ECSV", "amplitude spectrum (ECSV)",
                        "amplitude_spectrum_{stamp}.ecsv", "text/plain"),
    "transit": Export(DOWNLOAD_TRANSIT, "Transit spectrum ECSV", "transit spectrum (ECSV)",
                      "transit_spectrum_{stamp}.ecsv", "text/plain"),
}
#: Science products among the single files: the product of :func:`science_products` each one is.
SCIENCE_KINDS = {"periodogram": "periodogram_white_light", "amplitude": "amplitude_spectrum", "transit": "transit_spectrum"}
_KIND_OF_BUTTON = {export.button: kind for kind, export in EXPORTS.items()}

#: Stages :func:`stamp_engine.export.build_package` and the single files report, in words.
STAGE_WORDS = {
    "light curves": "Measuring light curves",
    "tables": "Writing light-curve tables",
    "science": "Computing periodograms and spectra",
    "figures": "Drawing figures",
    "html": "Writing HTML pages",
    "video": "Encoding the spectrum video",
    "fits": "Writing the cube as FITS",
    "readme": "Writing README.txt",
    "zip": "Zipping",
    "done": "Sending",
}


class DownloadRefused(Exception):
    """Nothing can be built from what the page holds; the message says why in a user's words."""


# ------------------------------------------------------------------------ what to export
@dataclass(frozen=True)
class ExportRequest:
    """Everything a download is built from.

    Attributes
    ----------
    key : str
        Cache key of the processed cube (redeemed from the page's ticket).
    cube : Cube
        The processed cube at full resolution.
    display : DisplayOptions
        Colour scale and colour range as the page shows them.
    bands : tuple of Band
        Usable rows of the band editor (the package leaves out, and lists, those with
        no sample in the processed cube).
    options : dict
        What the README and the FITS provenance record: processing and display options.
    process_options : ProcessOptions or None
        The options the cube was processed with, when the page's controls still show them
        (then the package has ``recipe.py``).
    science : SciencePlan
        Channels and time windows of the spectra.
    """

    key: str
    cube: Cube
    display: DisplayOptions
    bands: tuple[Band, ...]
    options: dict[str, Any] = field(default_factory=dict)
    process_options: ProcessOptions | None = None
    science: SciencePlan = field(default_factory=SciencePlan)


def display_options_of(colorscale: Any, z_min: Any, z_max: Any) -> DisplayOptions:
    """The display controls' values, validated as the views validate them.

    Raises
    ------
    DownloadRefused
        When the colour range is half-filled or not increasing (the page shows why).
    """
    from stamp_engine.figures import COLORSCALES

    options, errors = parse_display_options(colorscale, [z_min, z_max], COLORSCALES)
    if "zrange" in errors:
        raise DownloadRefused(f"Fix the colour range first: {errors['zrange']}.")
    return options


def bands_of(rows: Sequence[Mapping[str, Any]] | None, result: Mapping[str, Any] | None) -> tuple[Band, ...]:
    """Well-formed bands of the band editor's rows (flagged rows left out, as from the band buttons).

    Whether each holds a wavelength sample is decided on the cube itself, by the
    engine's :func:`stamp_engine.bands.usable_bands` (the package lists those that do not).
    """
    rows = [row for row in rows if isinstance(row, Mapping)] if isinstance(rows, (list, tuple)) else []
    bands, _ = check_band_rows(rows)
    return tuple(bands)


def recorded_options(
    services: Services,
    key: str,
    cube: Cube,
    result: Mapping[str, Any],
    process_values: Sequence[Any] | None,
    display: DisplayOptions,
    bands: Sequence[Band],
) -> dict[str, Any]:
    """Options for the README and the FITS provenance.

    The processing controls are recorded only when they are the ones the cube was
    made with (their cache key is the cube's); a control changed since Process was
    pressed is not what the data went through, so then only the normalization is
    taken from the cube's history (which the README lists step by step anyway).
    """
    options: dict[str, Any] = {}
    processing = processed_with(services, key, result, process_values)
    if processing is not None:
        options.update(processing.describe())
    else:
        normalized = last_step(cube.history, "normalize")
        if normalized is not None:
            options["normalize"] = normalized.parameters["method"]
    options["colour scale"] = display.colorscale or "automatic"
    options["colour range"] = display.zrange if display.zrange is not None else "automatic"
    if bands:
        options["bands"] = list(bands)
    return options


def processed_with(services: Services, key: str, result: Mapping[str, Any], values) -> ProcessOptions | None:
    """The processing controls' options when they are those the cube ``key`` was made with, else None."""
    if not values:
        return None
    try:
        dataset = resolve(services.config, result.get("dataset"))
    except (UnsafePath, TypeError, AttributeError, OSError):  # whatever the browser sent, it made no cube
        return None
    options, errors = parse_process_options(raw_options(values), DataLimits.from_dict(result.get("limits")))
    element, _ = parse_element((result.get("dataset") or {}).get("element"))
    if errors or processed_key(dataset.content_key, options, element) != key:
        return None
    return options


def science_plan(windows: Mapping[str, Any] | None) -> SciencePlan:
    """The package's spectra plan with the page's time windows (hours since the first integration):
    ``{"in_transit": [h0, h1], "baseline": [h0, h1], "baseline2": [h0, h1]}`` (the second baseline optional).

    A window that is not two finite, increasing numbers is left out (then no transit spectrum,
    and the README says so), never an exception — the rule of the science tabs
    (:func:`dashboard.features.science.stored_windows`).
    """
    windows = windows if isinstance(windows, Mapping) else {}
    found = stored_windows(windows)
    second = stored_windows({"baseline": windows.get("baseline2")}).get("baseline")
    baseline = tuple(w for w in (found.get("baseline"), second) if w is not None) or None
    in_transit = (found["in_transit"],) if "in_transit" in found else None
    return SciencePlan(in_transit=in_transit, baseline=baseline)


def export_request(
    services: Services,
    result: Mapping[str, Any] | None,
    session: str | None,
    *,
    colorscale: Any = None,
    z_min: Any = None,
    z_max: Any = None,
    band_rows: Sequence[Mapping[str, Any]] | None = None,
    process_values: Sequence[Any] | None = None,
    windows: Mapping[str, Any] | None = None,
) -> ExportRequest:
    """The processed cube behind the page's result and the page's current options.

    Parameters
    ----------
    result : mapping
        The page's result store (holds the session-bound ``ticket``).
    session : str
        The page's session id.
    colorscale, z_min, z_max
        Display controls' values.
    band_rows : sequence of mapping
        The band editor's rows.
    process_values : sequence, optional
        The processing controls' values (:data:`~dashboard.features.controls.PROCESS_ORDER`).
    windows : mapping, optional
        The page's in-transit and baseline windows (hours), for the transit spectrum.

    Raises
    ------
    DownloadRefused
        No result yet, the cube was evicted (or the ticket is not this page's), or the
        display options are unusable.
    """
    if not result or not isinstance(result, Mapping):
        raise DownloadRefused(NO_RESULT)
    key = services.cubes.redeem(result.get("ticket"), session)
    cube = services.cubes.processed(key) if key is not None else None
    if cube is None:
        raise DownloadRefused(EVICTED)
    display = display_options_of(colorscale, z_min, z_max)
    bands = bands_of(band_rows, result)
    options = recorded_options(services, key, cube, result, process_values, display, bands)
    return ExportRequest(key=key, cube=cube, display=display, bands=bands, options=options,
                         process_options=processed_with(services, key, result, process_values),
                         science=science_plan(windows))


# ---------------------------------------------------------------------------- building
def package_for(
    request: ExportRequest,
    folder: Path,
    progress: Progress | None = None,
    *,
    video_size: tuple[int, int] = VIDEO_SIZE,
    when: _dt.datetime | None = None,
) -> Path:
    """Write the export package ZIP of ``request`` into ``folder``; returns its path."""
    return build_package(
        request.cube, folder, bands=request.bands, options=request.options, video=True, fps=VIDEO_FPS,
        size=video_size, max_video_frames=DEFAULT_MAX_VIDEO_FRAMES, colorscale=request.display.colorscale,
        zrange=request.display.zrange, progress=progress, when=when, process_options=request.process_options,
        science=request.science,
    )


def single_file(
    services: Services,
    kind: str,
    request: ExportRequest,
    folder: Path,
    progress: Progress | None = None,
    *,
    video_size: tuple[int, int] = VIDEO_SIZE,
    when: _dt.datetime | None = None,
) -> Path:
    """Write one file of the package (``kind`` of :data:`EXPORTS`, not ``"package"``) into ``folder``.

    Surface and heatmap pages show the cube at the page's display resolution, as the
    views draw it; tables, video and FITS use the full-resolution processed cube.
    """
    from stamp_engine import figures
    from stamp_engine.export.video import write_spectrum_video

    report = progress or (lambda stage, done, total: None)
    cube = request.cube
    stamp = package_stamp(when)
    path = folder / EXPORTS[kind].filename.format(stamp=stamp)
    bands = usable_bands(cube, request.bands)
    title = f"{cube.target} — STAMP"

    def grid(which: str):
        shown = services.cubes.display(request.key)
        if shown is None:
            shown = figures.display_cube(cube, **services.config.display_limits)
        return grid_figure(shown, bands, request.display, which, **services.config.display_limits)

    if kind in ("surface", "heatmap"):
        report("figures", 0, 2)
        fig = grid(kind)
        report("html", 1, 2)
        what = "3D surface" if kind == "surface" else "heatmap"
        path.write_text(standalone_html(fig, bands, f"{title}: {what}"), encoding="utf-8")
    elif kind == "combined":
        report("figures", 0, 2)
        views = {
            "3D surface": grid("surface"),
            "Heatmap": grid("heatmap"),
            "Light curves": figures.light_curve_figure(cube.light_curves(bands)),
            "Spectrum over time": figures.spectrum_player_figure(cube),
        }
        report("html", 1, 2)
        path.write_text(combined_html(views, bands, title), encoding="utf-8")
    elif kind == "video":
        write_spectrum_video(
            cube, path, fps=VIDEO_FPS, size=video_size, max_frames=DEFAULT_MAX_VIDEO_FRAMES, bands=bands,
            progress=report,
        )
    elif kind in ("ecsv", "csv"):
        report("light curves", 0, 2)
        table = light_curve_table(cube.light_curves(bands), cube.time_standard)
        report("tables", 1, 2)
        ecsv = folder / EXPORTS["ecsv"].filename.format(stamp=stamp)
        csv = folder / EXPORTS["csv"].filename.format(stamp=stamp)
        write_light_curves(table, ecsv, csv if kind == "csv" else None, title=f"STAMP light curves of {cube.target}")
    elif kind == "fits":
        report("fits", 0, 1)
        write_cube_fits(cube, path, options=request.options)
    elif kind in SCIENCE_KINDS:
        report("science", 0, 1)
        products = science_products(cube, [cube.white_light()], request.science)
        made = dict(products.items())
        stem = SCIENCE_KINDS[kind]
        if stem not in made:
            raise DownloadRefused(f"No {EXPORTS[kind].what}: {products.not_made.get(stem, 'the data cannot give it')}.")
        write_science_product(made[SCIENCE_KINDS[kind]], path)
    else:
        raise ValueError(f"unknown download {kind!r}")
    report("done", 1, 1)
    return path


def _check_room(services: Services, session: str | None, size: int) -> None:
    try:
        check_room(services.config, session, size)
    except StorageFull as exc:
        raise DownloadRefused(f"Not built: {exc}.") from None


def build_download(
    services: Services,
    kind: str,
    request: ExportRequest,
    session: str | None,
    progress: Progress | None = None,
    *,
    workdir: Path,
    video_size: tuple[int, int] = VIDEO_SIZE,
    when: _dt.datetime | None = None,
) -> Download:
    """Build the download ``kind`` in ``workdir`` (the job's scratch folder) and publish the file for ``session``.

    The scratch folder goes whatever happens (:func:`dashboard.server.runner.run_guarded`);
    only the finished file is moved to the session's download folder
    (:func:`dashboard.server.download_route.publish`).
    """
    _check_room(services, session, 0)  # a full disk or quota refuses before any work
    if kind == "package":
        path = package_for(request, workdir, progress, video_size=video_size, when=when)
    else:
        path = single_file(services, kind, request, workdir, progress, video_size=video_size, when=when)
    _check_room(services, session, path.stat().st_size)
    return download_route.publish(services.config, session, path)


def progress_update(kind: str, stage: str, done: int, total: int) -> tuple[float, str]:
    """Progress bar value (percent) and text for one report while building ``kind``."""
    percent = round(min(max(100.0 * done / total if total else 0.0, 0.0), 100.0), 1)
    words = STAGE_WORDS.get(stage, stage.capitalize())
    what = EXPORTS[kind].what
    return percent, f"{what[0].upper() + what[1:]}: {words} — {percent:.0f} %"


def _size(n_bytes: int) -> str:
    for unit in ("bytes", "kB", "MB"):
        if n_bytes < 1000 or unit == "MB":
            return f"{n_bytes:.0f} {unit}" if unit == "bytes" else f"{n_bytes:.1f} {unit}"
        n_bytes /= 1000
    return ""


@dataclass(frozen=True)
class DownloadOutcome:
    """What one click produced: a file to fetch, or a message (``color``: a Bootstrap alert colour)."""

    download: Download | None = None
    message: str | None = None
    color: str = "danger"


def run_download(
    services: Services,
    kind: str,
    result: Mapping[str, Any] | None,
    session: str | None,
    *,
    colorscale: Any = None,
    z_min: Any = None,
    z_max: Any = None,
    band_rows: Sequence[Mapping[str, Any]] | None = None,
    process_values: Sequence[Any] | None = None,
    windows: Mapping[str, Any] | None = None,
    report: Progress | None = None,
    video_size: tuple[int, int] = VIDEO_SIZE,
    when: _dt.datetime | None = None,
) -> DownloadOutcome:
    """Everything behind one download button; never raises.

    Runs like a processing job (:func:`dashboard.server.runner.run_guarded`): it counts
    against the job limits — packages and videos take a worker for seconds to
    minutes — and builds in its own scratch folder.
    """
    if kind not in EXPORTS:
        return DownloadOutcome(message=f"Unknown download {kind!r}.")
    what = EXPORTS[kind].what
    asked: list[ExportRequest] = []

    def check() -> tuple[DownloadOutcome, str] | None:
        try:
            asked.append(export_request(
                services, result, session, colorscale=colorscale, z_min=z_min, z_max=z_max,
                band_rows=band_rows, process_values=process_values, windows=windows,
            ))
        except DownloadRefused as exc:
            return DownloadOutcome(message=str(exc), color="warning"), "refused"
        return None

    def work(workdir: Path, noted: Progress) -> tuple[DownloadOutcome, str]:
        try:
            download = build_download(services, kind, asked[0], session, noted, workdir=workdir,
                                      video_size=video_size, when=when)
        except DownloadRefused as exc:
            return DownloadOutcome(message=str(exc), color="warning"), "refused"
        except (StampError, ValueError, OSError) as exc:
            log.warning("download %s failed: %s", kind, exc)
            return DownloadOutcome(message=f"Could not build the {what}: {exc}"), "failed"
        return DownloadOutcome(
            download=download, message=f"Sent {download.filename} ({_size(download.size)}).", color="success",
        ), "ok"

    def stopped(message: str, status: str) -> DownloadOutcome:
        return DownloadOutcome(message=message, color="warning" if status == "refused" else "danger")

    return run_guarded(
        services, work, stopped, session=session, record={"event": "download", "kind": kind}, report=report,
        unexpected=f"Could not build the {what}: an unexpected error (the server log has the details).", check=check,
    )


# ------------------------------------------------------------------------------ Dash
def layout(services: Services) -> dbc.Card:
    single = [
        dbc.Button(export.label, id=export.button, size="sm", color="secondary", outline=True, className="me-1 mb-1",
                   title=f"Download {export.filename.format(stamp='<date_time>')}")
        for kind, export in EXPORTS.items() if kind != "package"
    ]
    package = EXPORTS["package"]
    body = [
        dbc.Button(package.label, id=package.button, color="primary", size="sm", className="w-100 mb-2",
                   title="ZIP: HTML plots that open offline, spectrum video, light-curve tables, cube FITS and README"),
        html.Div("Single files:", className="small text-muted mb-1"),
        html.Div(single, className="mb-2"),
        dbc.Row([
            dbc.Col(dbc.Progress(id=DOWNLOAD_PROGRESS, value=0, striped=True, className="stamp-progress")),
            dbc.Col(dbc.Button("Cancel", id=DOWNLOAD_CANCEL, color="secondary", outline=True, size="sm",
                               disabled=True, className="py-0"), width="auto"),
        ], className="g-2 align-items-center mb-1"),
        html.Div(id=DOWNLOAD_STAGE, className="small text-muted"),
        html.Div(id=DOWNLOAD_MESSAGE, className="mt-2"),
        dcc.Store(id=DOWNLOAD_LINK),
        dcc.Store(id=DOWNLOAD_STARTED),
    ]
    return dbc.Card([dbc.CardHeader("Download"), dbc.CardBody(body)], id=DOWNLOAD_CARD, className="mb-3")


#: The science tabs' typed windows (hours), in the order ``download_job`` reads them: the transit
#: spectrum of a package uses what the Transmission tab shows (typed, or filled by a box-select).
WINDOW_INPUTS = (ids.IN_TRANSIT_START, ids.IN_TRANSIT_END, ids.WINDOW_BASELINE_START, ids.WINDOW_BASELINE_END,
                 ids.WINDOW_BASELINE2_START, ids.WINDOW_BASELINE2_END)


def register(app, services: Services) -> None:
    buttons = [export.button for export in EXPORTS.values()]

    @app.callback(
        Output(DOWNLOAD_LINK, "data"),
        Output(DOWNLOAD_MESSAGE, "children"),
        *[Input(button, "n_clicks") for button in buttons],
        State(ids.RESULT, "data"),
        State(ids.SESSION, "data"),
        State(ids.COLORSCALE, "value"),
        State(ids.Z_MIN, "value"),
        State(ids.Z_MAX, "value"),
        State(ids.BAND_TABLE, "data"),
        *[State(window_input, "value") for window_input in WINDOW_INPUTS],
        *process_states(),
        background=True,
        progress=[Output(DOWNLOAD_PROGRESS, "value"), Output(DOWNLOAD_STAGE, "children")],
        progress_default=[0, ""],
        cancel=[Input(DOWNLOAD_CANCEL, "n_clicks")],
        running=[
            *[(Output(button, "disabled"), True, False) for button in buttons],
            (Output(DOWNLOAD_CANCEL, "disabled"), False, True),
            (Output(DOWNLOAD_PROGRESS, "animated"), True, False),
        ],
        interval=PROGRESS_POLL_MS,
        prevent_initial_call=True,
        on_error=lambda error: (no_update, dbc.Alert(job_error_message(error), color="danger", dismissable=True,
                                                     className="py-1 small mb-0")),
    )
    def download_job(set_progress, *args):
        result, session, colorscale, z_min, z_max, band_rows, *rest = args[len(buttons):]
        window_values, process_values = rest[:len(WINDOW_INPUTS)], rest[len(WINDOW_INPUTS):]
        windows = {name: window_values[2 * i:2 * i + 2] for i, name in enumerate(("in_transit", "baseline", "baseline2"))}
        kind = _KIND_OF_BUTTON.get(ctx.triggered_id)
        if kind is None:
            return no_update, no_update

        def report(stage: str, done: int, total: int) -> None:
            set_progress(progress_update(kind, stage, done, total))

        if not is_issued(services.config, session):
            return job_outputs(DownloadOutcome(message=NOT_ISSUED))
        set_progress((0, f"Preparing the {EXPORTS[kind].what}…"))

        def build(child_report):
            return run_download(
                services, kind, result, session, colorscale=colorscale, z_min=z_min, z_max=z_max,
                band_rows=band_rows, process_values=process_values, windows=windows,
                report=ThrottledProgress(child_report),
            )

        return job_outputs(run_in_child(
            services, build, lambda message, reason: DownloadOutcome(message=message), session=session,
            record={"event": "download", "kind": kind}, report=report, heartbeat=job_heartbeat(),
        ))

    # In the browser: fetch the file as an attachment from its signed link (no cookie: a
    # portal's iframe on another site would drop it).
    app.clientside_callback(
        FETCH_JS,
        Output(DOWNLOAD_STARTED, "data"),
        Input(DOWNLOAD_LINK, "data"),
        prevent_initial_call=True,
    )


def job_outputs(outcome: DownloadOutcome) -> tuple[Any, dbc.Alert]:
    """The job's outputs: the link the browser fetches the file from (never its bytes) and the message."""
    alert = dbc.Alert(outcome.message, color=outcome.color, dismissable=True, className="py-1 small mb-0")
    if outcome.download is None:
        return no_update, alert
    link = {"url": outcome.download.url, "filename": outcome.download.filename, "token": outcome.download.token}
    return link, alert


#: The browser side of a download (see :func:`register`).
FETCH_JS = """
function (link) {
    if (!link || !link.url) { return window.dash_clientside.no_update; }
    var anchor = document.createElement("a");
    anchor.href = link.url;
    anchor.download = link.filename;
    anchor.style.display = "none";
    document.body.appendChild(anchor);
    anchor.click();
    anchor.remove();
    return link.token;
}
"""
