"""``stamp render``: the export package from the command line, no browser needed.

::

    stamp render jw*_x1dints.fits -o exports/ --bands "H2O:1.3-1.5,CH4:1.6-1.8" --bin-time 4

loads the files exactly as the dashboard does, applies the same processing options
in the same order, and writes the package of :func:`stamp_engine.export.build_package`
(standalone HTML plots, MP4, light-curve tables, FITS cube, README) as a ZIP into
the output folder.  Exit status as ``stamp inspect``: 0 when the package was written,
2 when nothing usable was found or an option is wrong, 1 for an internal error.
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from pathlib import Path
from typing import Any, Sequence, TextIO

from .bands import PRESETS, Band, parse_bands, preset_bands, preset_for, read_bands_file, usable_bands
from .cli import EXIT_OK, EXIT_UNUSABLE, number_type, print_problems
from .problems import NoUsableData, StampError
from .recipe import ProcessOptions, process
from .vocabulary import NORMALIZATIONS, ZAXES

#: The flag that sets each processing option (ProcessOptions.validate's messages name it).
OPTION_FLAGS = {
    "n_integrations": "--limit", "interpolate_gaps": "--interpolate-gaps", "gap_hours": "--gap-hours", "zaxis": "--z",
    "normalization": "--normalize", "baseline": "--baseline", "wavelength": "--wavelength", "hours": "--hours",
    "sigma_time": "--smooth-time", "sigma_wavelength": "--smooth-wavelength", "bin_time": "--bin-time",
    "bin_wavelength": "--bin-wavelength",
}


# ------------------------------------------------------------------------------ parsing
# argparse only turns text into numbers; what values are allowed is ProcessOptions.validate's rule.
_whole = number_type(int)
_number = number_type(float)
_count = number_type(int, minimum=0)
_positive = number_type(float, minimum=0, strict=True)


def parse_size(text: str) -> tuple[int, int]:
    """``"1280x720"`` → ``(1280, 720)``; both even and at least 320 × 240."""
    match = re.fullmatch(r"\s*(\d+)\s*[x×X]\s*(\d+)\s*", text)
    if not match:
        raise argparse.ArgumentTypeError(f"{text!r} is not a size like 1280x720")
    width, height = int(match.group(1)), int(match.group(2))
    if width % 2 or height % 2 or width < 320 or height < 240 or width > 7680 or height > 4320:
        raise argparse.ArgumentTypeError(f"{text!r}: width and height must be even, from 320x240 to 7680x4320")
    return width, height


def _colorscale_names() -> list[str]:
    from .figures.colour_axis import COLORSCALES

    return list(COLORSCALES)


def add_render_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the options of ``stamp render`` to ``parser`` (the sub-command's parser)."""
    from .export import DEFAULT_MAX_VIDEO_FRAMES, DEFAULT_VIDEO_FPS, DEFAULT_VIDEO_SIZE

    parser.description = (
        "Write the export package of JWST time-series spectra without a browser: standalone HTML plots "
        "(3D surface, heatmap, all views combined; plotly.js embedded, open offline), an MP4 of the spectrum "
        "over time, light curves as ECSV and CSV, the processed cube as FITS, and a README. "
        "The package is written as one ZIP, OUTDIR/stamp_package_YYYYMMDD_HHMMSS.zip; with --unpacked the "
        "files are also left unpacked in OUTDIR/stamp_package_YYYYMMDD_HHMMSS/."
    )
    parser.epilog = (
        "Processing runs in the dashboard's order: split visits, normalize, select ranges, limit, "
        "interpolate gaps, bin, smooth. Exit status: 0 written, 2 nothing usable or a wrong option, 1 internal error."
    )
    parser.add_argument("paths", nargs="+", metavar="PATH", help="x1dints FITS, Eureka! HDF5, folders or ZIP archives")
    parser.add_argument("-o", "--output", "--outdir", dest="outdir", required=True, metavar="OUTDIR",
                        help="folder to write the package into (created if missing)")
    parser.add_argument("--unpacked", action="store_true", help="also leave the package's files unpacked in OUTDIR")
    data = parser.add_argument_group("data")
    data.add_argument("--order", type=int, default=None, metavar="N", help="spectral order of NIRISS SOSS data (default: 1)")
    data.add_argument("--observation", default=None, metavar="ID",
                      help="observation to use when the inputs hold several (id or number as `stamp inspect` lists "
                           "them; default: the largest)")
    data.add_argument("--gap-hours", type=_number, default=0.5, metavar="H",
                      help="a gap longer than H hours between integrations starts a new visit (default 0.5)")
    data.add_argument("--wavelength", nargs=2, type=number_type(float, what="--wavelength"), metavar=("LO", "HI"),
                      help="keep wavelengths LO–HI µm")
    data.add_argument("--hours", nargs=2, type=number_type(float, what="--hours"), metavar=("LO", "HI"),
                      help="keep integrations LO–HI hours after the first one")
    data.add_argument("--limit", type=_whole, default=0, metavar="N",
                      help="use N integrations evenly spaced in time (0 = all, the default)")
    data.add_argument("--interpolate-gaps", action="store_true", help="fill missing integrations by linear interpolation")
    values = parser.add_argument_group("values")
    values.add_argument("--z", dest="zmode", choices=tuple(ZAXES), default="variability",
                        help="show variability in %% of a reference spectrum (default) or the flux")
    values.add_argument("--normalize", choices=tuple(NORMALIZATIONS), default="median",
                        help="reference spectrum for variability: median over all integrations (default), "
                             "per visit, or over the --baseline hours")
    values.add_argument("--baseline", nargs=2, type=number_type(float, what="--baseline"), metavar=("H0", "H1"),
                        help="baseline hours (since the first integration) for --normalize baseline")
    values.add_argument("--bin-time", type=_whole, default=1, metavar="N", help="average N integrations together")
    values.add_argument("--bin-wavelength", type=_whole, default=1, metavar="N", help="average N wavelengths together")
    values.add_argument("--smooth-time", type=_number, default=0.0, metavar="S", help="Gaussian smoothing along time, σ in integrations")
    values.add_argument("--smooth-wavelength", type=_number, default=0.0, metavar="S",
                        help="Gaussian smoothing along wavelength, σ in wavelength samples")
    views = parser.add_argument_group("bands and views")
    views.add_argument("--bands", metavar="SPEC", help='bands as "NAME:START-END,…" in µm, e.g. "H2O:1.3-1.5,CH4:1.6-1.8"')
    views.add_argument("--bands-file", metavar="FILE",
                       help="bands from a JSON file ([{name, start, end}, …] or {name: [start, end]}); "
                            "YAML (.yaml/.yml) when PyYAML is installed")
    views.add_argument("--preset", metavar="NAME",
                       help=f"add a band preset: {', '.join(repr(k) for k in PRESETS)}; without --preset, --bands "
                            "or --bands-file, the preset that fits the data's wavelengths is used (as in the dashboard)")
    views.add_argument("--colorscale", metavar="NAME", default=None,
                       help="colour scale of the surface and heatmap (default RdBu_r for variability, Viridis for flux)")
    views.add_argument("--zrange", nargs=2, type=number_type(float, what="--zrange"), metavar=("LO", "HI"),
                       help="fixed colour range of the surface and heatmap")
    video = parser.add_argument_group("video")
    video.add_argument("--no-video", action="store_true", help="do not make the MP4")
    video.add_argument("--fps", type=_positive, default=DEFAULT_VIDEO_FPS, metavar="N",
                       help=f"video frames per second (default {DEFAULT_VIDEO_FPS:g})")
    video.add_argument("--size", type=parse_size, default=DEFAULT_VIDEO_SIZE, metavar="WxH",
                       help="video size in pixels (default {}x{})".format(*DEFAULT_VIDEO_SIZE))
    video.add_argument("--max-frames", type=_count, default=DEFAULT_MAX_VIDEO_FRAMES, metavar="N",
                       help=f"at most N video frames (default {DEFAULT_MAX_VIDEO_FRAMES}); a longer observation is "
                            "binned in time for the video, consecutive integrations averaged within each visit "
                            "(none left out), each frame stamped with its bin centre; 0 = one frame per integration")


# ----------------------------------------------------------------------------- running
def _error(message: str, stream: TextIO | None = None) -> None:
    print(f"stamp: error: {message}", file=stream or sys.stderr)


class TerminalProgress:
    """A one-line text progress bar on a terminal; silent when the stream is not a TTY."""

    def __init__(self, stream: TextIO | None = None, width: int = 30):
        self.stream = stream or sys.stderr
        self.width = width
        self.enabled = bool(getattr(self.stream, "isatty", lambda: False)())
        self._last = 0.0
        self._shown = False

    def __call__(self, stage: str, done: int, total: int) -> None:
        if not self.enabled:
            return
        now = time.monotonic()
        if now - self._last < 0.1 and done < total:
            return
        self._last = now
        fraction = min(max(done / total, 0.0), 1.0) if total else 0.0
        filled = int(round(fraction * self.width))
        bar = "#" * filled + "-" * (self.width - filled)
        self.stream.write(f"\r[{bar}] {fraction:4.0%} {stage[:40]:<40}")
        self.stream.flush()
        self._shown = True

    def close(self) -> None:
        if self._shown:
            self.stream.write("\n")
            self.stream.flush()
            self._shown = False


def collect_bands(args: argparse.Namespace) -> list[Band]:
    """Bands from --preset, --bands-file and --bands, in that order; later names replace earlier ones."""
    bands: dict[str, Band] = {}
    if getattr(args, "preset", None):
        bands.update((b.name, b) for b in preset_bands(args.preset))
    if getattr(args, "bands_file", None):
        bands.update((b.name, b) for b in read_bands_file(args.bands_file))
    if getattr(args, "bands", None):
        bands.update((b.name, b) for b in parse_bands(args.bands))
    return list(bands.values())


def process_options(args: argparse.Namespace) -> ProcessOptions:
    """The processing part of the command line, as the recipe the dashboard uses too."""
    return ProcessOptions(
        n_integrations=args.limit or 0,
        interpolate_gaps=bool(args.interpolate_gaps),
        gap_hours=args.gap_hours,
        zaxis=args.zmode,
        normalization=args.normalize,
        baseline=tuple(args.baseline) if args.baseline else None,
        wavelength=tuple(args.wavelength) if args.wavelength else (None, None),
        hours=tuple(args.hours) if args.hours else (None, None),
        sigma_time=args.smooth_time,
        sigma_wavelength=args.smooth_wavelength,
        bin_time=args.bin_time,
        bin_wavelength=args.bin_wavelength,
    )


def recorded_options(args: argparse.Namespace, bands: Sequence[Band]) -> dict[str, Any]:
    """The options that shaped the package, for its README and FITS provenance."""
    options: dict[str, Any] = {"command": "stamp render", **process_options(args).describe()}
    for key, value in (
        ("order", args.order), ("colorscale", args.colorscale), ("colour range", args.zrange and tuple(args.zrange)),
        ("preset", args.preset),
    ):
        if value:
            options[key] = value
    if bands:
        options["bands"] = list(bands)
    options["video"] = "off" if args.no_video else (
        f"{args.size[0]}x{args.size[1]} at {args.fps:g} fps, "
        + (f"at most {args.max_frames} frames (binned in time beyond)" if args.max_frames else "one frame per integration")
    )
    return options


def _check_options(args: argparse.Namespace) -> str | None:
    """A usage problem argparse cannot see, or None: the processing options by
    :meth:`ProcessOptions.validate` (the dashboard's rules), then the display options."""
    errors = process_options(args).validate(labels=OPTION_FLAGS)
    if errors:
        return next(iter(errors.values()))
    if args.zrange and args.zrange[0] >= args.zrange[1]:
        return f"--zrange: the first value must be below the second ({args.zrange[0]:g} ≥ {args.zrange[1]:g})"
    if args.colorscale:
        names = _colorscale_names()
        match = next((n for n in names if n.lower() == args.colorscale.lower()), None)
        if match is None:
            return f"unknown colour scale {args.colorscale!r}; choose one of {', '.join(names)}"
        args.colorscale = match
    return None


def run_render(args: argparse.Namespace) -> int:
    """Run ``stamp render`` with parsed ``args``; returns the exit status."""
    import stamp_engine

    from .export import build_package
    from .io.containers import ArchiveLimits

    problem = _check_options(args)
    if problem:
        _error(problem)
        return EXIT_UNUSABLE
    try:
        bands = collect_bands(args)
    except ValueError as exc:
        _error(str(exc))
        return EXIT_UNUSABLE
    outdir = Path(args.outdir)
    if outdir.exists() and not outdir.is_dir():
        _error(f"{outdir} exists and is not a folder")
        return EXIT_UNUSABLE

    bar = TerminalProgress()
    try:
        try:
            cube = stamp_engine.load(
                args.paths, order=args.order, visit_gap_hours=args.gap_hours,
                archive_limits=ArchiveLimits.from_env(), progress=lambda s, d, t: bar(f"loading: {s}", d, t),
                observation=args.observation,
            )
        except NoUsableData as exc:
            bar.close()
            print_problems(exc.problems, sys.stderr)
            _error("no usable time-series spectra were found")
            return EXIT_UNUSABLE
        print_problems(cube.problems, sys.stderr)
        try:
            chosen_options = process_options(args)
            # in place: the loaded cube is not used again, so normalizing need not hold two cubes
            processed = process(cube, chosen_options, progress=bar, in_place=True)
        except ValueError as exc:
            bar.close()
            _error(f"cannot process the data: {exc}")
            return EXIT_UNUSABLE
        options = recorded_options(args, bands)
        if not bands:
            # As the dashboard does: the band preset that fits the data's wavelengths.
            chosen = preset_for(processed)
            bands = usable_bands(processed, PRESETS[chosen])
            options["preset"] = f"{chosen} (chosen from the data's wavelengths)"
            options["bands"] = list(bands)
        started = time.perf_counter()
        zip_path = build_package(
            processed, outdir, bands=bands, options=options, video=not args.no_video,
            fps=args.fps, size=args.size, max_video_frames=args.max_frames or None,
            colorscale=args.colorscale, zrange=tuple(args.zrange) if args.zrange else None,
            progress=bar, unpacked=args.unpacked, process_options=chosen_options,
        )
    except StampError as exc:
        bar.close()
        _error(str(exc))
        return EXIT_UNUSABLE
    except OSError as exc:
        bar.close()
        _error(f"{exc.filename + ': ' if exc.filename else ''}{exc.strerror or exc}")
        return EXIT_UNUSABLE
    bar.close()
    size_mb = zip_path.stat().st_size / 1e6
    print(f"wrote {zip_path} ({size_mb:.1f} MB, {time.perf_counter() - started:.1f} s): "
          f"{processed.n_integrations} integrations × {processed.n_wavelengths} wavelengths of {processed.target}")
    return EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m stamp_engine.render …``: the same as ``stamp render …``."""
    parser = argparse.ArgumentParser(prog="stamp render")
    add_render_arguments(parser)
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else EXIT_UNUSABLE
    return run_render(args)


if __name__ == "__main__":
    sys.exit(main())
