"""The ``stamp`` command: inspect files, render exports; other packages add commands (``stamp serve``).

``stamp inspect PATH...`` loads files, folders or ZIP archives exactly as the
dashboard does and says what was found; ``--json`` prints the same as one JSON
object whose keys are listed in :data:`INSPECT_JSON_KEYS`; ``stamp render`` makes figures
and videos without a browser.  Other subcommands are plugins found through the
:data:`COMMAND_ENTRY_POINTS` entry points: the dashboard adds ``stamp serve`` and ``stamp worker``.

Exit status: 0 when at least one file loaded, 2 when nothing usable was found or
the command line was wrong, 1 for an unexpected internal error.  Problems go to
stderr, one per line; bad input never produces a Python traceback.
"""

from __future__ import annotations

import argparse
import importlib
import json
import math
import sys
from importlib.metadata import entry_points
from typing import Any, Sequence, TextIO

from . import __version__
from .problem_summary import ProblemGroup, summary_lines
from .problems import NoUsableData, Problem, StampError
from .settings import numpy_without_huge_pages

EXIT_OK = 0
EXIT_INTERNAL = 1
EXIT_UNUSABLE = 2  # also argparse's status for usage errors

#: Entry-point group of the subcommands other packages add to ``stamp`` (the dashboard's
#: ``serve`` and ``worker``): see :func:`add_plugin_commands`.
COMMAND_ENTRY_POINTS = "stamp.commands"

#: Keys of ``stamp inspect --json`` (copied into the README).  Absent values are ``null``.
INSPECT_JSON_KEYS = """\
| Key | Type | Meaning |
|---|---|---|
| `stamp_version` | string | Version of STAMP that wrote the report. |
| `files` | list | One entry per file that was read (archive members named `upload.zip/dir/file.fits`). |
| `files[].source` | string | The file as the user knows it. |
| `files[].format` | string | Reader that recognised the content (e.g. `x1dints`, `eureka`); `null` if none did. |
| `files[].layout` | string | `x1dints-old`, `x1dints-new`, `eureka-s3`, `eureka-s4`, `hdf5-keys`; `null` if unreadable. |
| `files[].elements` | list of string | Spectral elements in the file (`"order 1"`, `"NRS1"` …); empty when there is one. |
| `files[].integrations` | int | Integrations in the file. |
| `files[].wavelengths` | int | Wavelength points in the file (all elements). |
| `files[].wavelength_range_um` | [float, float] | Shortest and longest wavelength, µm. |
| `files[].stage` | int | JWST pipeline stage (2 or 3); `null` when unknown. |
| `files[].used` | bool | Whether the file contributed integrations to the cube. |
| `files[].notes` | list of string | How the file was read: caveats (also `warning` problems) and notes (`info`). |
| `files[].problems` | list of string | Problems about this file (also in the top-level `problems`). |
| `files[].observation` | string | Id of the observation the file belongs to (see `observations`); `null` if unreadable. |
| `observations` | list | The observations found (grouped by program, target, instrument mode and time; exposures more than 10 days apart are separate). Only one is loaded: `--observation` chooses it, else the largest. |
| `observations[].id` | string | Name to pass to `--observation`, e.g. `jw02783-o002`. |
| `observations[].label` | string | Target · instrument mode · program and observation numbers · start MJD. |
| `observations[].program`, `observations[].target`, `observations[].instrument`, `observations[].exp_type`, `observations[].filter`, `observations[].grating`, `observations[].pupil` | string | What the files record (`null` when none does). |
| `observations[].product` | string | `spectra`, or `light curves` for Eureka! Stage 4 `LCData` (never stacked with spectra). |
| `observations[].observations` | list of string | JWST observation numbers (`OBSERVTN`) of its files. |
| `observations[].sources` | list of string | Its files. |
| `observations[].integrations` | int | Integrations in its files. |
| `observations[].time_start_mjd`, `observations[].time_end_mjd` | float | First and last mid-integration time, MJD-style. |
| `observations[].used` | bool | Whether this observation is the one in the cube. |
| `cube` | object | The combined cube; `null` when nothing usable was found. |
| `cube.integrations` | int | Integrations (time rows). |
| `cube.wavelengths` | int | Wavelength points (columns). |
| `cube.wavelength_range_um` | [float, float] | Wavelength range, µm. |
| `cube.time_standard` | string | `BJD_TDB`, `MJD_UTC`, … as read from the files. |
| `cube.time_scale` | string | astropy time scale of the times (`tdb`, `utc`). |
| `cube.time_start_mjd`, `cube.time_end_mjd` | float | First and last mid-integration time, MJD-style number in `time_standard`. |
| `cube.time_start_iso`, `cube.time_end_iso` | string | The same as ISO 8601 in `time_scale`. |
| `cube.duration_hours` | float | Last minus first mid-integration time, hours. |
| `cube.cadence_seconds` | float | Median step between consecutive integrations of a visit, seconds (`null` for one integration). |
| `cube.t0` | string | The origin of every time axis: the first integration in its standard, e.g. `BJD_TDB 2459990.47705`. |
| `cube.time_unit` | string | Unit the figures draw time since t0 in (`s`, `min`, `h` or `d`, from the span). |
| `cube.visits` | list | One entry per visit (a gap longer than `--gap-hours` starts a new one). |
| `cube.visits[].index` | int | Visit number, from 0. |
| `cube.visits[].start_hours`, `cube.visits[].end_hours` | float | First and last integration of the visit, hours since the cube's first integration. |
| `cube.visits[].integrations` | int | Integrations in the visit. |
| `cube.target` | string | Target name (`TARGNAME`). |
| `cube.instrument` | string | Instrument (`INSTRUME`). |
| `cube.detector` | string | Detector(s). |
| `cube.mode` | object | `exp_type`, `filter`, `grating`, `pupil` (each string or `null`). |
| `cube.element` | string | Spectral element(s) in the cube (`"order 1"`, `"NRS1, NRS2"`, or `""`). |
| `cube.elements_available` | list of string | Every element found in the files. |
| `cube.flux_unit` | string | Unit of the flux values. |
| `cube.flux_unit_assumed` | bool | True when the files did not state the unit. |
| `cube.pipeline` | string | Software that wrote the files (e.g. `jwst 1.10.1`, `Eureka! 1.4`). |
| `cube.sources` | list of string | Files that contributed integrations. |
| `cube.observation` | string | Id of the observation in the cube. |
| `problems` | list | Everything that went wrong or needs attention. |
| `problems[].source` | string | File, archive member or part of the cube the problem is about. |
| `problems[].message` | string | What is wrong, in words. |
| `problems[].severity` | string | `error` (the file was skipped), `warning` (loaded with a caveat) or `info` (how it was read; nothing to act on). |
"""


# ------------------------------------------------------------------------------ parser
def build_parser(argv: Sequence[str] = ()) -> argparse.ArgumentParser:
    """The ``stamp`` argument parser.

    ``argv`` is only looked at to decide whether the ``render`` options must be
    loaded: importing the exports code is deferred until ``stamp render`` is asked for.
    """
    parser = argparse.ArgumentParser(
        prog="stamp",
        description="STAMP: JWST time-series spectra as one wavelength × time cube.",
    )
    parser.add_argument("--version", action="version", version=f"stamp {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    inspect = commands.add_parser(
        "inspect",
        help="say what is in files, folders or ZIP archives",
        description="Load x1dints FITS, Eureka! HDF5, folders or ZIP archives the way the dashboard does "
        "and report every file and the combined cube.",
    )
    inspect.add_argument("paths", nargs="+", metavar="PATH", help="file, folder or ZIP archive")
    inspect.add_argument("--json", action="store_true", help="print one JSON object (keys: see the README)")
    inspect.add_argument(
        "--order", type=_positive_int, default=None, metavar="N",
        help="spectral order to use for multi-order data such as NIRISS SOSS (default: the first)",
    )
    inspect.add_argument(
        "--observation", default=None, metavar="ID",
        help="observation to load when the inputs hold several (its id or number as listed; default: the largest)",
    )
    inspect.add_argument(
        "--gap-hours", type=_positive_float, default=0.5, metavar="H",
        help="a gap between integrations longer than H hours starts a new visit (default: 0.5)",
    )
    inspect.set_defaults(handler=run_inspect)

    render = commands.add_parser(
        "render",
        help="make figures, data files or videos without a browser",
        description="Render figures, data exports or videos from files, without the dashboard.",
    )
    render.set_defaults(handler=run_render)
    if _subcommand(argv) == "render":
        module = _render_module()
        if module is not None:
            module.add_render_arguments(render)
        else:
            render.add_argument("arguments", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)
    add_plugin_commands(commands)
    return parser


def add_plugin_commands(commands: argparse._SubParsersAction) -> None:
    """Add the subcommands other packages declare in the :data:`COMMAND_ENTRY_POINTS` entry-point group.

    Each entry point is named after its command and is a function taking the ``stamp``
    subparsers, which adds its parser and sets its ``handler`` (and ``unknown_options=[]``
    if options it does not know go to its handler, see :func:`parse_command_line`).  A
    plugin that cannot be loaded still appears, and running it says why.
    """
    for entry_point in entry_points(group=COMMAND_ENTRY_POINTS):
        if entry_point.name in commands.choices:
            continue  # a plugin cannot replace one of the engine's own commands
        try:
            entry_point.load()(commands)
        except Exception as exc:  # a missing dependency or a broken plugin: say so when it is run
            reason = f"its plugin {entry_point.value} cannot be loaded ({type(exc).__name__}: {exc})"
            commands.choices.pop(entry_point.name, None)
            broken = commands.add_parser(entry_point.name, help=f"(not available: {reason})", add_help=False)
            broken.set_defaults(handler=_unavailable(entry_point.name, reason), unknown_options=[])


def _unavailable(command: str, reason: str):
    def handler(args: argparse.Namespace) -> int:
        print_error(f"`stamp {command}` is not available in this installation: {reason}")
        return EXIT_INTERNAL

    return handler


def _unknown_command_message(commands: argparse._SubParsersAction, command: str) -> str:
    return (f"argument COMMAND: invalid choice: {command!r} (choose from {', '.join(map(repr, commands.choices))}); "
            f"commands other than the engine's come from installed plugins (entry-point group "
            f"{COMMAND_ENTRY_POINTS!r}): is the package that provides `stamp {command}` installed? (An "
            f"editable install records its entry points when installed: run `pip install -e .` again.)")


def _subcommand(argv: Sequence[str]) -> str | None:
    return next((arg for arg in argv if not arg.startswith("-")), None)


def _render_module():
    """``stamp_engine.render`` if this installation has it, else None."""
    name = f"{__package__}.render"
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as exc:
        if exc.name == name:
            return None
        raise  # render exists but something it needs is missing: say so


def number_type(kind: type = float, *, minimum: float | None = None, strict: bool = False, what: str = ""):
    """An argparse ``type``: a finite ``kind`` (int or float) at least (above, if ``strict``) ``minimum``.

    ``what`` (e.g. ``"--hours"``) prefixes the messages of options that take several values.
    """
    prefix = f"{what}: " if what else ""
    noun = "a whole number" if kind is int else "a number"

    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{prefix}{text!r} is not {noun}") from None
        if not math.isfinite(value):
            raise argparse.ArgumentTypeError(f"{prefix}{text!r} is not a finite number")
        if minimum is not None and (value <= minimum if strict else value < minimum):
            limit = ("a positive number" if minimum == 0 else f"above {minimum:g}") if strict else f"{minimum:g} or more"
            raise argparse.ArgumentTypeError(f"{prefix}{text!r} must be {limit}")
        return value

    return parse


_positive_int = number_type(int, minimum=1)
_positive_float = number_type(float, minimum=0, strict=True)



# -------------------------------------------------------------------------------- main
def parse_command_line(parser: argparse.ArgumentParser, argv: Sequence[str]) -> argparse.Namespace:
    """Parse ``argv``; a command whose defaults hold ``unknown_options`` gets there the options it does
    not know (``stamp worker`` hands them to ``celery worker``); any other refuses them.

    argparse's ``REMAINDER`` cannot take options that start with ``--`` after a
    sub-command, which is what refused the README's ``stamp worker --concurrency 4``.
    """
    command = _subcommand(argv)
    subparsers = next((action for action in parser._actions if isinstance(action, argparse._SubParsersAction)), None)
    if command is not None and subparsers is not None and command not in subparsers.choices:
        parser.error(_unknown_command_message(subparsers, command))
    args, extra = parser.parse_known_args(argv)
    if getattr(args, "unknown_options", None) is not None:
        args.unknown_options = extra
    elif extra:
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``stamp`` with ``argv`` (default: the command line); return the exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        try:
            parser = build_parser(argv)
            args = parse_command_line(parser, argv)
        except SystemExit as exc:  # --help, --version and usage errors
            return exc.code if isinstance(exc.code, int) else EXIT_UNUSABLE
        if args.command is None:
            parser.print_help(sys.stderr)
            return EXIT_UNUSABLE
        numpy_without_huge_pages()
        return args.handler(args)
    except KeyboardInterrupt:
        print("stamp: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # e.g. `stamp inspect … | head`
        return EXIT_OK
    except StampError as exc:
        print_error(str(exc))
        return EXIT_UNUSABLE
    except OSError as exc:
        print_error(f"{exc.filename + ': ' if exc.filename else ''}{exc.strerror or exc}")
        return EXIT_UNUSABLE
    except Exception as exc:  # a bug, not bad input: one line, never a traceback
        print_error(f"internal error ({type(exc).__name__}: {exc}); please report it")
        return EXIT_INTERNAL


def print_error(message: str) -> None:
    print(f"stamp: error: {message}", file=sys.stderr)


# ----------------------------------------------------------------------------- inspect
def run_inspect(args: argparse.Namespace) -> int:
    """``stamp inspect``: load, then describe every file and the combined cube."""
    import stamp_engine

    from .io.containers import ArchiveLimits

    try:
        cube = stamp_engine.load(
            args.paths,
            order=args.order,
            visit_gap_hours=args.gap_hours,
            archive_limits=ArchiveLimits.from_env(),
            observation=args.observation,
        )
    except NoUsableData as exc:
        report = {"stamp_version": __version__, "files": files_json(exc.files, exc.problems),
                  "observations": _observations_json(exc.observations, None), "cube": None,
                  "problems": [_problem_json(p) for p in exc.problems]}
        if args.json:
            _print_json(report)
        print_problems(exc.problems, sys.stderr)
        print("stamp: error: no usable time-series spectra were found", file=sys.stderr)
        return EXIT_UNUSABLE
    report = inspect_report(cube)
    if args.json:
        _print_json(report)
    else:
        print(format_report(report), end="")
    print_problems(cube.problems, sys.stderr)
    return EXIT_OK


def inspect_report(cube) -> dict[str, Any]:
    """Everything ``stamp inspect`` says about a loaded cube, as the JSON-ready dict of :data:`INSPECT_JSON_KEYS`."""
    problems = list(cube.problems)
    files = files_json(cube.meta.get("files", []), problems)
    return {
        "stamp_version": __version__,
        "files": files,
        "observations": _observations_json(cube.meta.get("observations", []), cube.meta.get("observation")),
        "cube": _cube_json(cube),
        "problems": [_problem_json(p) for p in problems],
    }


def files_json(files: Sequence[dict[str, Any]], problems: Sequence[Problem]) -> list[dict[str, Any]]:
    """``files`` of the report; each file's problems found by name in one pass (uploads can hold thousands)."""
    about: dict[str, list[str]] = {}
    for problem in problems:
        # The assembler names a group of files "first.fits (+2 more)".
        source = problem.source.split(" (+", 1)[0] if problem.source.endswith(" more)") else problem.source
        about.setdefault(source, []).append(problem.message)
    return [_file_json(info, about.get(info.get("source"), [])) for info in files]


def _file_json(info: dict[str, Any], problems: list[str]) -> dict[str, Any]:
    source = info.get("source")
    return {
        "source": source,
        "format": info.get("format"),
        "layout": info.get("layout"),
        "elements": list(info.get("elements") or []),
        "integrations": int(info.get("integrations") or 0),
        "wavelengths": int(info.get("wavelengths") or 0),
        "wavelength_range_um": _range(info.get("wavelength_range")),
        "stage": info.get("stage") or None,
        "used": bool(info.get("used")),
        "notes": list(info.get("notes") or []),
        "problems": list(problems),
        "observation": info.get("observation"),
    }


def _observations_json(observations: Sequence[dict[str, Any]], used: str | None) -> list[dict[str, Any]]:
    return [{**group, "time_start_mjd": _number(group["time_start_mjd"]), "time_end_mjd": _number(group["time_end_mjd"]),
             "used": group["id"] == used} for group in observations]


def _cube_json(cube) -> dict[str, Any]:
    import numpy as np

    meta = cube.meta
    hours = cube.hours
    visits = []
    for index in range(cube.n_visits):  # a handful of visits, not integrations
        in_visit = cube.visit == index
        if in_visit.any():
            visits.append({
                "index": index,
                "start_hours": _number(hours[in_visit].min()),
                "end_hours": _number(hours[in_visit].max()),
                "integrations": int(np.count_nonzero(in_visit)),
            })
    start, end = cube.time[0], cube.time[-1]
    axis = cube.time_axis()
    unit = cube.flux_unit.to_string() or "dimensionless"
    return {
        "integrations": cube.n_integrations,
        "wavelengths": cube.n_wavelengths,
        "wavelength_range_um": _range([np.nanmin(cube.wavelength), np.nanmax(cube.wavelength)]),
        "time_standard": cube.time_standard,
        "time_scale": cube.time.scale,
        "time_start_mjd": _number(start.mjd),
        "time_end_mjd": _number(end.mjd),
        "time_start_iso": start.isot,
        "time_end_iso": end.isot,
        "duration_hours": _number(hours[-1] - hours[0]),
        "cadence_seconds": _number(axis.cadence_hours * 3600.0),
        "t0": axis.t0_text,
        "time_unit": axis.unit_name,
        "visits": visits,
        "target": meta.get("target"),
        "instrument": meta.get("instrument"),
        "detector": meta.get("detector"),
        "mode": {key: meta.get(key) for key in ("exp_type", "filter", "grating", "pupil")},
        "element": meta.get("element_used", ""),
        "elements_available": list(meta.get("elements_available") or []),
        "flux_unit": unit,
        "flux_unit_assumed": bool(meta.get("flux_unit_assumed", False)),
        "pipeline": meta.get("pipeline"),
        "sources": list(cube.sources),
        "observation": meta.get("observation"),
    }


def _problem_json(problem: Problem) -> dict[str, str]:
    return {"source": problem.source, "message": problem.message, "severity": problem.severity}


def _number(value) -> float | None:
    value = float(value)
    return value if math.isfinite(value) else None


def _range(pair) -> list[float | None] | None:
    if pair is None:
        return None
    return [_number(pair[0]), _number(pair[1])]


def _print_json(report: dict[str, Any]) -> None:
    json.dump(report, sys.stdout, indent=2, ensure_ascii=False, allow_nan=False)
    sys.stdout.write("\n")


def print_problems(problems: Sequence[Problem], stream: TextIO) -> None:
    """Problems for a person: repeated ones grouped, the list capped (``--json`` keeps every one)."""
    for severity, text in summary_lines(problems):
        print(f"stamp: {severity}: {text}", file=stream)


# ------------------------------------------------------------------------ text report
def format_report(report: dict[str, Any]) -> str:
    """The human-readable ``stamp inspect`` output of an :func:`inspect_report` dict."""
    lines = ["Files"]
    readable, unreadable = [], []
    for info in report["files"]:
        (unreadable if info["format"] is None and not info["used"] else readable).append(info)
    for info in readable:
        lines.append(f"  {info['source']}")
        if info["format"] is None:
            lines.append("    not readable")
        else:
            stage = f", stage {info['stage']}" if info["stage"] else ""
            lines.append(f"    format       {info['format']} ({info['layout'] or 'unknown layout'}){stage}")
            if info["integrations"]:
                lines.append(f"    elements     {', '.join(info['elements']) or 'one spectrum'}")
                lines.append(f"    integrations {info['integrations']}")
                lines.append(f"    wavelengths  {info['wavelengths']}{_um(info['wavelength_range_um'], ', ')}")
            lines.append(f"    used         {'yes' if info['used'] else 'no'}")
        for note in info["notes"]:
            lines.append(f"    note:    {note}")
        for problem in info["problems"]:
            if problem not in info["notes"]:
                lines.append(f"    problem: {problem}")
    # Unreadable files with the same problems are one entry: an archive of 5,000 empty files is one line.
    same_problems: dict[tuple[str, ...], list[str]] = {}
    for info in unreadable:
        same_problems.setdefault(tuple(info["problems"]), []).append(info["source"])
    for problems, sources in same_problems.items():
        label = str(ProblemGroup("", "error", tuple(sources)).source)
        lines += [f"  {label}", "    not readable"] + [f"    problem: {problem}" for problem in problems]
    if not report["files"]:
        lines.append("  (none could be read)")
    observations = report.get("observations") or []
    if len(observations) > 1:
        lines += ["", "Observations (one is loaded; choose with --observation ID)"]
        for group in observations:
            state = "loaded" if group["used"] else "not used"
            lines.append(f"  {group['id']:<16} {group['label']}, {len(group['sources'])} file(s), "
                         f"{group['integrations']} integrations ({state})")
    cube = report["cube"]
    if cube is not None:
        visits = cube["visits"]
        lines += [
            "",
            "Cube",
            f"  integrations   {cube['integrations']} in {len(visits)} visit{'s' if len(visits) != 1 else ''}",
            f"  wavelengths    {cube['wavelengths']} points{_um(cube['wavelength_range_um'], ', ')}",
            f"  time           {cube['time_standard']} ({cube['time_scale'].upper()} scale)",
            f"    start        {cube['time_start_iso']}  {_mjd_label(cube['time_standard'])} "
            f"{_fmt(cube['time_start_mjd'], '.6f')}",
            f"    end          {cube['time_end_iso']}  {_mjd_label(cube['time_standard'])} "
            f"{_fmt(cube['time_end_mjd'], '.6f')}",
            f"    duration     {_duration(cube['duration_hours'])}",
            f"    cadence      {_duration(cube['cadence_seconds'] / 3600.0) + ', median step' if cube['cadence_seconds'] is not None else 'one integration'}",
            f"    t0           {cube['t0']}: figures draw time since t0 in {cube['time_unit']}",
        ]
        import astropy.units as u

        per_hour = float(u.h.to(cube["time_unit"]))
        for visit in visits:
            lo, hi = (None if h is None else h * per_hour for h in (visit["start_hours"], visit["end_hours"]))
            lines.append(
                f"  visit {visit['index']:<8} {_fmt(lo, '.4g')} – {_fmt(hi, '.4g')} {cube['time_unit']} "
                f"after the first integration, {visit['integrations']} integrations"
            )
        mode = ", ".join(f"{key} {value}" for key, value in cube["mode"].items() if value)
        instrument = " ".join(v for v in (cube["instrument"], cube["detector"]) if v) or "unknown"
        lines += [
            f"  target         {cube['target'] or 'unknown'}",
            f"  instrument     {instrument}",
            f"  mode           {mode or 'unknown'}",
        ]
        if cube["element"]:
            lines.append(f"  element        {cube['element']} (available: {', '.join(cube['elements_available'])})")
        assumed = " (assumed: the files do not state it)" if cube["flux_unit_assumed"] else ""
        lines += [
            f"  flux unit      {cube['flux_unit']}{assumed}",
            f"  pipeline       {cube['pipeline'] or 'unknown'}",
        ]
    return "\n".join(lines) + "\n"


def _mjd_label(standard: str) -> str:
    """What an MJD-style number (JD − 2400000.5) in ``standard`` is called: ``BMJD_TDB`` for a
    barycentric BJD_TDB (Eureka!'s name for it), ``MJD_UTC``, …"""
    if standard.startswith("BJD_TDB"):
        return "BMJD_TDB" + standard[len("BJD_TDB"):]
    if standard.startswith("MJD_"):
        return standard
    return f"{standard} (JD − 2400000.5)"


def _um(pair, prefix: str = "") -> str:
    if not pair or pair[0] is None or pair[1] is None:
        return ""
    return f"{prefix}{pair[0]:.4g}–{pair[1]:.4g} µm"


def _fmt(value: float | None, spec: str) -> str:
    return "n/a" if value is None else format(value, spec)


def _duration(hours: float | None) -> str:
    """A duration in the unit figures would draw it in, and in hours: ``"2.41 min (0.0402 h)"``."""
    from .timeaxis import duration_text

    if hours is None:
        return "n/a"
    text = duration_text(hours, 4)
    return text if text.endswith(" h") else f"{text} ({hours:.4g} h)"


# ------------------------------------------------------------------------------ render
def run_render(args: argparse.Namespace) -> int:
    """``stamp render``: hand over to :mod:`stamp_engine.render` when it is installed."""
    module = _render_module()
    if module is None:
        print_error("`stamp render` is not available in this installation (stamp_engine.render is missing)")
        return EXIT_INTERNAL
    return int(module.run_render(args))


if __name__ == "__main__":
    sys.exit(main())
