"""The package's README.txt: what was read, what was done to it, and what each file is."""

from __future__ import annotations

import datetime as _dt
import textwrap
from typing import TYPE_CHECKING, Any, Mapping, Sequence

from .. import __version__
from ..bands import Band
from ..cube import Cube
from ..timeaxis import duration_text

if TYPE_CHECKING:
    from .video import VideoResult


# ---------------------------------------------------------------------------------- README
# ---------------------------------------------------------------------------------- README
def _format_option(value: Any) -> str:
    if isinstance(value, (list, tuple)) and value and all(isinstance(v, Band) for v in value):
        return ", ".join(f"{b.name} {b.start:g}–{b.end:g} µm" for b in value)
    if isinstance(value, (list, tuple)):
        return "–".join(f"{v:g}" if isinstance(v, float) else str(v) for v in value)
    return str(value)


_NORMALIZATION = {
    "median": "variability = (flux / reference − 1) × 100 %, reference = median spectrum over all integrations",
    "visit": "variability = (flux / reference − 1) × 100 %, reference = median spectrum of each visit",
    "baseline": "variability = (flux / reference − 1) × 100 %, reference = median spectrum over the baseline hours",
}


def readme_text(
    cube: Cube, options: Mapping[str, Any] | None, files: Mapping[str, str] | Sequence[str], notes: Sequence[str] = (),
) -> str:
    """The package's README.txt: what was read, what was done to it, and what each file is.

    Parameters
    ----------
    cube : Cube
        The processed cube that was exported.
    options : mapping
        Processing and view options as the user gave them (shown verbatim).
    files : mapping or sequence
        Package file names, with a description each when a mapping.
    notes : sequence of str
        What the package lacks and why (products the data could not give).
    """
    options = dict(options or {})
    meta = cube.meta
    lines = [
        "STAMP export package",
        "=" * 20,
        f"Written by STAMP {__version__} on {_dt.datetime.now().isoformat(timespec='seconds')}.",
        "",
        f"Target:      {cube.target}",
    ]
    setup = ", ".join(f"{k} {meta[k]}" for k in ("instrument", "detector", "exp_type", "filter", "grating", "pupil", "subarray") if meta.get(k))
    if setup:
        lines.append(f"Set-up:      {setup}")
    ids = ", ".join(f"{k} {meta[k]}" for k in ("program", "observation", "visit") if meta.get(k))
    if ids:
        lines.append(f"Observation: {ids}")
    if meta.get("pipeline"):
        lines.append(f"Pipeline:    {meta['pipeline']}")
    if cube.n_integrations:
        t0 = cube.t0
        lines += [
            "",
            "Data",
            "----",
            f"{cube.n_integrations} integrations × {cube.n_wavelengths} wavelengths, "
            f"{cube.wavelength[0]:.4f}–{cube.wavelength[-1]:.4f} µm, {cube.n_visits} visit(s).",
            f"Times are mid-integration {cube.time_standard} (astropy scale '{cube.time.scale}').",
            f"t0 (first integration) = {t0.mjd:.8f} (MJD-style) = {cube.time_axis().t0_text} = {t0.isot} "
            f"{cube.time.scale.upper()}; the last is {cube.hours[-1]:.6g} h ({duration_text(cube.hours[-1], 4)}) later.",
            f"Tables give time since t0 in hours; the figures draw it in {cube.time_axis().unit_name} (from the span).",
            f"Values: {cube.value_label}.",
        ]
        if meta.get("time_standard_note"):
            lines.append(f"Note on times: {meta['time_standard_note']}")
    lines += ["", "Files read", "----------"]
    infos = [f for f in meta.get("files", []) if isinstance(f, Mapping)]
    if infos:
        for info in infos:
            used = "used" if info.get("used", True) else "NOT used"
            detail = ", ".join(
                str(x) for x in (
                    info.get("format"), info.get("layout"),
                    f"{info['integrations']} integrations" if info.get("integrations") is not None else None,
                    f"stage {info['stage']}" if info.get("stage") else None,
                ) if x
            )
            lines.append(f"- {info.get('source')} ({detail}; {used})")
            for note in info.get("notes", []) or []:
                lines.append(f"    note: {note}")
    else:
        lines += [f"- {s}" for s in cube.sources] or ["- (not recorded)"]
    if cube.problems:
        lines += ["", "Problems while loading", "----------------------"]
        lines += [f"- [{p.severity}] {p.source}: {p.message}" for p in cube.problems]
    lines += ["", "What was done", "-------------"]
    if cube.history:
        lines += [f"{i}. {step}" for i, step in enumerate(cube.history, start=1)]
    else:
        lines.append("Nothing: the cube is as loaded.")
    normalization = options.get("normalize") or ("median" if cube.is_normalized else None)
    if cube.is_normalized and normalization in _NORMALIZATION:
        lines.append(f"Normalization ({normalization}): {_NORMALIZATION[normalization]}.")
    if options:
        lines += ["", "Options", "-------"]
        lines += [f"{key}: {_format_option(value)}" for key, value in options.items()]
    lines += ["", "Files in this package", "---------------------"]
    entries = files.items() if isinstance(files, Mapping) else ((f, "") for f in files)
    for name, description in entries:
        lines.append(f"- {name}" + (f": {description}" if description else ""))
    if notes:
        lines += ["", "Not in this package", "-------------------"]
        lines += [f"- {note}" for note in notes]
    lines += [
        "",
        "Reading the data",
        "----------------",
        "Light curves (Python):  from astropy.table import QTable; t = QTable.read('lightcurves_….ecsv')",
        "  (the time column is an astropy Time in the scale above; units are in the header).",
        "Cube (Python):          from stamp_engine.export import read_cube_fits; cube = read_cube_fits('stamp_cube_….fits')",
        "  or with astropy.io.fits: extensions FLUX, ERROR (BUNIT), WAVELENGTH (µm), TIME (days since MJDREF, TIMESYS);",
        "  FLUX/ERROR carry WCS axes (WAVE-TAB, TIME-TAB): astropy.wcs.WCS(hdul['FLUX'].header, fobj=hdul).",
        "Science products (Python): QTable.read('amplitude_spectrum_….ecsv'); the header says how each was made.",
        "Rebuild everything (Python): python recipe.py FOLDER_WITH_THE_ORIGINAL_FILES",
        "HTML plots open in any web browser without a network connection.",
    ]
    code_lines = ("Light curves (Python)", "Cube (Python)")
    return "\n".join(
        line if len(line) <= 100 or line.startswith(code_lines)
        else textwrap.fill(line, 100, subsequent_indent="    ", break_long_words=False, break_on_hyphens=False)
        for line in lines
    ) + "\n"


def video_description(video: "VideoResult", n_integrations: int) -> str:
    """What the package's MP4 shows, for the README: frames, time binning, size and rate."""
    form = f"{video.width}×{video.height}, {video.fps:g} fps, H.264"
    k = video.integrations_per_frame
    if k == 1:
        return f"Video of the spectrum over time, one frame per integration ({video.frames} frames; {form})."
    return (
        f"Video of the spectrum over time, binned in time: the {n_integrations} integrations are averaged "
        f"into {video.frames} frames of {k} consecutive integrations each (mean; bins restart at each visit, "
        f"whose last bin may hold fewer; no integration is left out). Each frame is stamped with its bin "
        f"centre time and the integrations it averages ({form})."
    )

