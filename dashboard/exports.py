"""The download job behind the download buttons, as plain functions (tested without a browser).

Every download is one background job (progress bar, Cancel) that builds the file in the
job's scratch folder and moves the finished file to the page session's download folder
(:mod:`dashboard.server.download_route`).  The job's result is only a URL: the browser
then fetches the file from the route that streams it, so a package of hundreds of MB never
passes through the job store, the callback response or the browser's memory as base64.
What is drawn and tabulated is what the page shows: the processed cube behind the page's
ticket, the current colour scale and colour range, the band editor's rows (checked as the
editor checks them) and the science tabs' time windows.

What can be downloaded and how each file is written is the engine's
(:mod:`stamp_engine.export.catalogue`); the card and its callback are
:mod:`dashboard.features.downloads`.
"""

from __future__ import annotations

import datetime as _dt
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Sequence

from stamp_engine.bands import Band
from stamp_engine.cube import Cube
from stamp_engine.export import DEFAULT_MAX_VIDEO_FRAMES, DEFAULT_VIDEO_FPS, DEFAULT_VIDEO_SIZE, build_package
from stamp_engine.export.catalogue import PRODUCTS, ProductNotMade, product, write_product
from stamp_engine.export.science import SciencePlan
from stamp_engine.history import last_step
from stamp_engine.problems import StampError
from stamp_engine.progress import Progress
from stamp_engine.recipe import ProcessOptions

from .band_rows import check_band_rows
from .options import (
    DataLimits,
    DisplayOptions,
    parse_display_options,
    parse_element,
    parse_process_options,
    processed_key,
)
from .server import download_route
from .server.data_folder import UnsafePath
from .server.datasets import resolve
from .server.download_route import Download
from .server.runner import run_guarded
from .server.services import Services
from .server.storage import StorageFull, check_room
from .view_figures import grid_figure

log = logging.getLogger("stamp.downloads")

NO_RESULT = "Nothing to download yet: open data and press Process first."
EVICTED = "This result is no longer on the server (or belongs to another page): press Process again, then download."


class DownloadRefused(Exception):
    """Nothing can be built from what the page holds; the message says why in a user's words."""


@dataclass(frozen=True)
class PageState:
    """What the page shows when a download button is pressed, as the browser sends it.

    Attributes
    ----------
    colorscale, z_min, z_max
        Display controls' values.
    band_rows : sequence of mapping
        The band editor's rows.
    raw_options : mapping, optional
        The processing controls' values by option name, unchecked
        (:func:`dashboard.features.controls.raw_options`, as :func:`dashboard.jobs.run_job` takes them).
    windows : mapping, optional
        The page's in-transit and baseline windows (hours), for the transit spectrum
        (:meth:`stamp_engine.export.science.SciencePlan.from_windows`).
    """

    colorscale: Any = None
    z_min: Any = None
    z_max: Any = None
    band_rows: Sequence[Mapping[str, Any]] | None = None
    raw_options: Mapping[str, Any] | None = None
    windows: Mapping[str, Any] | None = None


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


def bands_of(rows: Sequence[Mapping[str, Any]] | None) -> tuple[Band, ...]:
    """Well-formed bands of the band editor's rows (flagged rows left out, as from the band buttons).

    Whether each holds a wavelength sample is decided on the cube itself, by the
    engine's :func:`stamp_engine.bands.usable_bands` (the package lists those that do not).
    """
    rows = [row for row in rows if isinstance(row, Mapping)] if isinstance(rows, (list, tuple)) else []
    bands, _ = check_band_rows(rows)
    return tuple(bands)


def recorded_options(
    cube: Cube,
    processing: ProcessOptions | None,
    display: DisplayOptions,
    bands: Sequence[Band],
) -> dict[str, Any]:
    """Options for the README and the FITS provenance.

    The processing controls (``processing``) are recorded only when they are the ones the
    cube was made with (:func:`processed_with`); a control changed since Process was
    pressed is not what the data went through, so then only the normalization is
    taken from the cube's history (which the README lists step by step anyway).
    """
    options: dict[str, Any] = {}
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


def processed_with(services: Services, key: str, result: Mapping[str, Any],
                   raw_options: Mapping[str, Any] | None) -> ProcessOptions | None:
    """The processing controls' options when they are those the cube ``key`` was made with, else None."""
    if not raw_options:
        return None
    try:
        dataset = resolve(services.config, result.get("dataset"))
    except (UnsafePath, TypeError, AttributeError, OSError):  # whatever the browser sent, it made no cube
        return None
    options, errors = parse_process_options(raw_options, DataLimits.from_dict(result.get("limits")))
    element, _ = parse_element((result.get("dataset") or {}).get("element"))
    if errors or processed_key(dataset.content_key, options, element) != key:
        return None
    return options


def export_request(
    services: Services,
    result: Mapping[str, Any] | None,
    session: str | None,
    page: PageState = PageState(),
) -> ExportRequest:
    """The processed cube behind the page's result and the page's current options.

    Parameters
    ----------
    result : mapping
        The page's result store (holds the session-bound ``ticket``).
    session : str
        The page's session id.
    page : PageState
        What the page shows.

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
    display = display_options_of(page.colorscale, page.z_min, page.z_max)
    bands = bands_of(page.band_rows)
    processing = processed_with(services, key, result, page.raw_options)
    return ExportRequest(key=key, cube=cube, display=display, bands=bands,
                         options=recorded_options(cube, processing, display, bands), process_options=processing,
                         science=SciencePlan.from_windows(page.windows))


# ---------------------------------------------------------------------------- building
def build_file(
    services: Services,
    kind: str,
    request: ExportRequest,
    folder: Path,
    progress: Progress | None = None,
    *,
    video_size: tuple[int, int] = DEFAULT_VIDEO_SIZE,
    when: _dt.datetime | None = None,
) -> Path:
    """Write the download ``kind`` of ``request`` (the package ZIP or one of its files) into ``folder``.

    Surface and heatmap pages show the cube at the page's display resolution, as the
    views draw it; tables, video and FITS use the full-resolution processed cube.
    """
    display = request.display
    if kind == "package":
        return build_package(
            request.cube, folder, bands=request.bands, options=request.options, video=True, fps=DEFAULT_VIDEO_FPS,
            size=video_size, max_video_frames=DEFAULT_MAX_VIDEO_FRAMES, colorscale=display.colorscale,
            zrange=display.zrange, progress=progress, when=when, process_options=request.process_options,
            science=request.science,
        )
    from stamp_engine import figures
    from stamp_engine.bands import usable_bands

    limits = services.config.display_limits

    def page_figure(which: str):
        shown = services.cubes.display(request.key)
        if shown is None:
            shown = figures.display_cube(request.cube, **limits)
        return grid_figure(shown, usable_bands(request.cube, request.bands), display, which, **limits)

    try:
        return write_product(kind, request.cube, folder, progress, bands=request.bands, options=request.options,
                             science=request.science, colorscale=display.colorscale, zrange=display.zrange,
                             page_figure=page_figure, video_size=video_size, when=when)
    except ProductNotMade as exc:
        raise DownloadRefused(str(exc)) from None


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
    video_size: tuple[int, int] = DEFAULT_VIDEO_SIZE,
    when: _dt.datetime | None = None,
) -> Download:
    """Build the download ``kind`` in ``workdir`` (the job's scratch folder) and publish the file for ``session``.

    The scratch folder goes whatever happens (:func:`dashboard.server.runner.run_guarded`);
    only the finished file is moved to the session's download folder
    (:func:`dashboard.server.download_route.publish`).
    """
    _check_room(services, session, 0)  # a full disk or quota refuses before any work
    path = build_file(services, kind, request, workdir, progress, video_size=video_size, when=when)
    _check_room(services, session, path.stat().st_size)
    return download_route.publish(services.config, session, path)


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
    page: PageState = PageState(),
    *,
    report: Progress | None = None,
    video_size: tuple[int, int] = DEFAULT_VIDEO_SIZE,
    when: _dt.datetime | None = None,
) -> DownloadOutcome:
    """Everything behind one download button; never raises.

    Runs like a processing job (:func:`dashboard.server.runner.run_guarded`): it counts
    against the job limits — packages and videos take a worker for seconds to
    minutes — and builds in its own scratch folder.
    """
    try:
        what = product(kind).what
    except ValueError:
        return DownloadOutcome(message=f"Unknown download {kind!r}.")
    asked: list[ExportRequest] = []

    def check() -> tuple[DownloadOutcome, str] | None:
        try:
            asked.append(export_request(services, result, session, page))
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


__all__ = ["EVICTED", "NO_RESULT", "PRODUCTS", "DownloadOutcome", "DownloadRefused", "ExportRequest", "PageState",
           "build_download", "build_file", "export_request", "run_download"]
