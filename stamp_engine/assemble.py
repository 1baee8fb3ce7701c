"""From files to one cube: read every input, stitch segments, join detectors, combine visits.

The rules (see FORMATS.md in the project history for the evidence behind each):

* the key of a spectrum is (exposure, spectral element, integration number); times and
  segments are joined on integration numbers, never on row or file position;
* segments of one exposure are stitched in integration order; exact duplicates are
  dropped, gaps in integration numbers are reported;
* two reductions of the same integrations (stage 2 and stage 3, two pipeline versions, old
  and new layout — found by exposure and integration number, or by overlapping times) are
  never stacked or interleaved: one is kept (higher stage, then newer pipeline, then the new
  layout), the others are reported unused with the reason;
* segments of one exposure share one time standard: a segment without measured times takes
  the exposure's measured times extended along the integration numbers;
* orders of a multi-order instrument (NIRISS SOSS) overlap in wavelength and are never
  merged: one is chosen (the first by default); detectors of one exposure (NIRSpec
  NRS1 + NRS2) cover different wavelengths and are joined side by side;
* exposures (visits) that share a wavelength grid are stacked as they are; only when
  grids differ are they resampled, linearly, onto the finest grid over the common
  range, never extrapolating.
"""

from __future__ import annotations

import mmap
import os
import re
import tempfile
from collections import defaultdict
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Iterable, Sequence

import astropy.units as u
import numpy as np
from astropy.time import Time

from .cube import Cube
from .io.block import CADENCE_FALLBACK, SpectralBlock
from .io.containers import ArchiveLimits, expand_inputs
from .io.sandbox import ReadLimits, read_files
from .io.sanity import drop_absurd_values
from .observations import DEFAULT_GAP_DAYS, find_observation, group_observations
from .problems import NoUsableData, Problem, ReadError
from .progress import Progress
from .threads import map_pieces, pieces
from .timeaxis import cadence_problem
from .timestandard import TIME_STANDARDS, time_standard

#: Metadata keys copied from the blocks into ``Cube.meta`` (values that differ are joined).
CUBE_META_KEYS = (
    "target", "instrument", "detector", "exp_type", "filter", "grating", "pupil", "subarray",
    "program", "observation", "visit", "pipeline", "data_model",
)


@dataclass(frozen=True)
class LoadOptions:
    """How :func:`load` builds the cube.

    Attributes
    ----------
    element : str or None
        Spectral element to use (``"order 2"``, ``"NRS1"`` …).  None: the first order
        of a multi-order exposure, all detectors joined in wavelength.
    order : int or None
        Shorthand for ``element=f"order {order}"``.
    detectors : tuple of str or None
        Detectors to join (``("NRS1",)`` keeps NRS1 only).  None: all of them.
    visit_gap_hours : float
        A gap between integrations longer than this starts a new visit.
    archive_limits : ArchiveLimits
        Limits applied to ZIP uploads before anything is extracted
        (default: from ``STAMP_ZIP_MAX_*`` environment variables, else safe defaults).
    observation : str or int or None
        Which observation to load when the inputs hold several (see
        :mod:`stamp_engine.observations`): its id (``"jw02783-o002"``), its label or its
        1-based number in ``cube.meta["observations"]``.  None: the largest one.
    observation_gap_days : float
        Exposures further apart in time than this are different observations.
    read_limits : ReadLimits
        Deadline and memory cap of the child process that reads each file
        (default: from ``STAMP_READ_*`` environment variables; ``ReadLimits(isolate=False)``
        reads in this process, for trusted local files).
    cube_folder : path or None
        Folder (on disk) in which the cube's flux and error are memory-mapped ``.npy`` files
        instead of arrays in memory, for observations near or above the machine's memory
        (100,000 × 2,048 is 3.3 GB): the segments are streamed into the map and the system
        can write its pages out and drop them, where anonymous memory must stay resident.
        The files are unlinked at once (the map keeps them until the cube is gone), so
        nothing is left behind.  None: in memory.
    cube_folder_min_bytes : int
        Only cubes whose flux + error take at least this many bytes go to ``cube_folder``;
        smaller ones stay in memory, where filling them costs no disk writes.
    """

    element: str | None = None
    order: int | None = None
    detectors: tuple[str, ...] | None = None
    visit_gap_hours: float = 0.5
    archive_limits: ArchiveLimits = field(default_factory=ArchiveLimits.from_env)
    observation: str | int | None = None
    observation_gap_days: float = DEFAULT_GAP_DAYS
    read_limits: ReadLimits = field(default_factory=ReadLimits.from_env)
    cube_folder: str | Path | None = None
    cube_folder_min_bytes: int = 1 << 30

    def wanted_element(self) -> str | None:
        if self.element:
            return self.element
        return f"order {self.order}" if self.order is not None else None


@dataclass
class _Stitched:
    """One spectral element of one exposure, rows in integration order."""

    exposure: str
    element: str
    pieces: list[tuple[SpectralBlock, np.ndarray]]  # (block, row indices into that block)
    integration: np.ndarray
    time_mjd: np.ndarray
    wavelength: np.ndarray  # as stored in the blocks (unsorted)
    time_standard: str
    flux_unit: u.UnitBase


@dataclass
class _Series:
    """One exposure after its detectors are joined: rows × (sorted) wavelengths."""

    exposure: str
    parts: list[_Stitched]
    rows: list[np.ndarray]  # per part: indices into the part's rows, common integrations
    column_order: list[np.ndarray]  # per part: argsort of its wavelengths
    wavelength: np.ndarray  # ascending, all parts side by side
    integration: np.ndarray
    time_mjd: np.ndarray
    time_standard: str
    flux_unit: u.UnitBase

    @property
    def n_rows(self) -> int:
        return len(self.integration)


def load(
    paths: str | Path | Iterable[str | Path],
    options: LoadOptions | None = None,
    *,
    progress: Progress | None = None,
    workdir: str | Path | None = None,
    **overrides: Any,
) -> Cube:
    """Read files, folders or ZIP archives into one wavelength × time cube.

    Parameters
    ----------
    paths : path or iterable of paths
        x1dints FITS files (any layout, any segments, stage 2 or 3), Eureka! HDF5
        files, folders holding them, or ZIP archives of either.
    options : LoadOptions, optional
        Element choice, visit gap threshold, archive limits.
    progress : callable, optional
        ``progress(stage, done, total)``, called as files are read and the cube is filled.
    workdir : path, optional
        Folder in which archives are expanded and files read (in a temporary folder
        removed before returning); default the system's temporary folder.
    **overrides
        Fields of :class:`LoadOptions`, e.g. ``load(paths, order=2)``.

    Returns
    -------
    Cube
        ``cube.problems`` lists what was wrong with which file; ``cube.meta["files"]``
        describes every input.

    Raises
    ------
    NoUsableData
        When no input holds usable time-series spectra.
    """
    options = replace(options or LoadOptions(), **overrides)
    report = progress or (lambda stage, done, total: None)
    if isinstance(paths, (str, Path)):
        paths = [paths]
    with tempfile.TemporaryDirectory(prefix="stamp-inputs-", dir=workdir) as folder:
        inputs, problems = expand_inputs(list(paths), Path(folder), options.archive_limits,
                                        extract_members=False)
        stager = _Stager(options.cube_folder_min_bytes if options.cube_folder is not None else None)
        blocks, files = _read_all(inputs, problems, report, options.read_limits, Path(folder) / "read", stager)
        # Blocks may be memory maps of extracted files: copy into the cube before
        # the extraction folder goes away.
        return _assemble_observation(blocks, files, problems, options, report, stager)


def _assemble_observation(blocks, files, problems: list[Problem], options: LoadOptions, report: Progress,
                          stager: "_Stager | None" = None) -> Cube:
    """The cube of one observation: the one asked for, else the largest one that can be assembled.

    Every file and every observation found stay described in ``cube.meta`` (and in
    :class:`NoUsableData` when nothing is usable); a problem says which observation was
    loaded when there were several.
    """
    groups = group_observations(blocks, options.observation_gap_days)
    group_of = {source: g.id for g in groups for source in g.sources}
    for info in files:
        info["observation"] = group_of.get(info["source"])
    described = [g.describe() for g in groups]
    candidates = groups
    if options.observation is not None:
        chosen = find_observation(groups, options.observation)
        if chosen is None:
            found = ", ".join(g.id for g in groups) or "none"
            candidates = []
            problems.append(Problem("options", f"observation {str(options.observation)!r} is not in the data "
                                               f"(found: {found})"))
        else:
            candidates = [chosen]
    failure = NoUsableData(problems)
    for group in candidates:
        try:
            cube = _assemble(group.blocks, files, problems, options, report, stager)
        except NoUsableData as exc:
            failure = exc
            continue
        meta = {**cube.meta, "files": files, "observations": described, "observation": group.id}
        extra = ()
        if len(groups) > 1:
            others = "; ".join(f"{g.id} ({g.label}, {len(g.sources)} file(s))" for g in groups if g is not group)
            how = "as asked" if options.observation is not None else "the largest that could be assembled"
            extra = (Problem("observations", f"the input holds {len(groups)} observations; loaded {group.id} "
                                             f"({group.label}, {len(group.sources)} file(s); {how}); not used: {others}. "
                                             "Choose one with --observation ID (load(..., observation=ID))",
                             "warning"),)
        return cube.replace(meta=meta, problems=cube.problems + extra)
    failure.files = tuple(files)
    failure.observations = tuple(described)
    raise failure


def _file_info(source: str) -> dict[str, Any]:
    return {"source": source, "format": None, "layout": None, "elements": [], "integrations": 0,
            "wavelengths": 0, "wavelength_range": None, "stage": None, "used": False, "notes": []}


def _read_all(inputs, problems: list[Problem], report: Progress, limits: ReadLimits,
              scratch: Path, stager: "_Stager | None" = None) -> tuple[list[SpectralBlock], list[dict]]:
    """Read every input (in a child process, see :mod:`stamp_engine.io.sandbox`); ``scratch`` must
    outlive the blocks, which may be memory maps of files in it.  ``stager`` copies each file's
    spectra as it arrives, while the next file is read (:class:`_Stager`)."""
    blocks: list[SpectralBlock] = []
    # Inputs refused before reading (an unsafe archive, a missing path) are files the user gave too.
    files: list[dict] = [_file_info(p.source) for p in problems if p.severity == "error"]
    outcomes = read_files(inputs, limits, scratch, lambda i: report(f"Reading {inputs[i].source}", i, len(inputs)),
                          stager.arrived if stager is not None else None)
    for item, outcome in zip(inputs, outcomes):
        info = _file_info(item.source)
        files.append(info)
        info["format"] = outcome.format
        if outcome.error is not None:
            problems.append(Problem(item.source, outcome.error))
            continue
        found = outcome.blocks
        usable = []
        for block in found:
            try:
                block = drop_absurd_values(block)
                _check_block(block)
            except ReadError as exc:
                label = f" ({block.element})" if block.element else ""
                problems.append(Problem(item.source, f"{exc}{label}"))
                continue
            usable.append(block)
        if not usable:
            continue
        elements = sorted({b.element for b in usable if b.element})
        ranges = [_wavelength_range(b) for b in usable]
        warnings = sorted({n for b in usable for n in b.notes} | {n for b in usable if (n := _time_note(b))})
        notices = sorted({n for b in usable for n in b.info} - set(warnings))
        info.update(
            layout=usable[0].layout,
            elements=elements if len(elements) > 1 else [],  # the README's contract: empty when there is one
            integrations=max(b.n_integrations for b in usable),
            wavelengths=sum(b.n_wavelengths for b in usable),
            wavelength_range=[min(r[0] for r in ranges), max(r[1] for r in ranges)],
            stage=usable[0].stage or None,
            notes=warnings + notices,
        )
        problems.extend(Problem(item.source, note, severity="warning") for note in warnings)
        problems.extend(Problem(item.source, note, severity="info") for note in notices)
        blocks.extend(usable)
    report("Read files", len(inputs), len(inputs))
    return blocks, files


def _time_note(block: SpectralBlock) -> str | None:
    """A warning when a block's integration times repeat, go backwards or have an implausible cadence
    (:func:`stamp_engine.timeaxis.cadence_problem`); None when they look like a JWST time series."""
    time_mjd = np.asarray(block.time_mjd, dtype=np.float64)
    if time_mjd.size < 2 or not np.isfinite(time_mjd).any():
        return None
    reason = cadence_problem((time_mjd - np.nanmin(time_mjd)) * 24.0)
    return f"its integration times look wrong: {reason}" if reason else None


def _wavelength_range(block: SpectralBlock) -> tuple[float, float]:
    """What the block covers, µm: its channels' edges when known, else its samples."""
    if block.wavelength_edges is not None:
        return block.wavelength_edges
    return float(np.nanmin(block.wavelength)), float(np.nanmax(block.wavelength))


def _check_block(block: SpectralBlock) -> None:
    """Reject blocks that cannot contribute anything, with a user-facing reason."""
    if block.flux.ndim != 2 or block.flux.shape[0] == 0 or block.flux.shape[1] == 0:
        raise ReadError("holds no spectra")
    if block.time_standard not in TIME_STANDARDS:
        raise ReadError(f"has an unknown time standard {block.time_standard!r}")
    if not np.any(np.isfinite(block.time_mjd)):
        raise ReadError("has no usable integration times")
    # Test a sample of rows first: a full isfinite over a large file costs a pass over it.
    probe = np.asarray(block.flux[:: max(1, block.n_integrations // 16)])
    if not np.any(np.isfinite(probe)) and not np.any(np.isfinite(np.asarray(block.flux))):
        raise ReadError("has no finite flux values (every FLUX is NaN)")


# ---------------------------------------------------------------- selection
def _choose_elements(blocks: list[SpectralBlock], options: LoadOptions, problems: list[Problem]) -> tuple[list[SpectralBlock], list[str], str]:
    available = sorted({b.element for b in blocks}, key=_element_sort_key)
    wanted = options.wanted_element()
    orders = [e for e in available if e.startswith("order ")]
    if wanted is not None:
        if wanted not in available:
            raise NoUsableData(problems + [Problem(
                "options", f"spectral element {wanted!r} is not in the data (available: {', '.join(available) or 'none'})")])
        chosen = [wanted]
    elif orders:
        chosen = [orders[0]] + [e for e in available if not e.startswith("order ")]
    else:
        chosen = list(available)
    if options.detectors is not None:
        keep = {d.upper() for d in options.detectors}
        chosen = [e for e in chosen if e.upper() in keep or e.startswith("order ") or e == ""]
        if not chosen:
            raise NoUsableData(problems + [Problem("options", f"none of the detectors {options.detectors} is in the data")])
    selected = [b for b in blocks if b.element in chosen]
    return selected, available, ", ".join(e for e in chosen if e) or ""


def _element_sort_key(element: str) -> tuple:
    if element.startswith("order "):
        try:
            return (0, int(element.split()[1]), element)
        except ValueError:
            pass
    return (1, 0, element)


#: One integration's mid-time in two files of one exposure differs by less than this (days) —
#: time standards included (TDB−UTC plus the Rømer delay stay under 9 min) — and an exposure
#: lasts longer, so the same INT_NUM further apart in time is another exposure's.
_SAME_INTEGRATION_DAYS = 0.01


def _separate_exposures(blocks: list[SpectralBlock], problems: list[Problem]) -> list[SpectralBlock]:
    """Files that share an exposure key but hold its integration numbers at other times (two visits
    whose headers carry the same identifiers, INT_NUM restarting at 1 in each) are other exposures:
    joined as one, their integrations would be taken for repeats and one visit dropped."""
    by_key: dict[str, list[SpectralBlock]] = defaultdict(list)
    for b in blocks:
        by_key[b.exposure].append(b)
    renamed: dict[int, str] = {}
    for key, members in by_key.items():
        if len({b.source for b in members}) < 2:
            continue
        # clusters of blocks whose shared integration numbers have the same times (a handful of files)
        clusters: list[tuple[list[SpectralBlock], np.ndarray, np.ndarray]] = []
        for b in sorted(members, key=lambda b: float(np.nanmin(b.time_mjd))):
            numbers = np.asarray(b.integration, dtype=np.int64)
            times = np.asarray(b.time_mjd, dtype=np.float64)
            for k, (blocks_k, numbers_k, times_k) in enumerate(clusters):
                _, mine, theirs = np.intersect1d(numbers, numbers_k, return_indices=True)
                if not np.any(np.abs(times[mine] - times_k[theirs]) > _SAME_INTEGRATION_DAYS):
                    merged, first = np.unique(np.concatenate([numbers_k, numbers]), return_index=True)
                    clusters[k] = (blocks_k + [b], merged, np.concatenate([times_k, times])[first])
                    break
            else:
                clusters.append(([b], numbers, times))
        if len(clusters) < 2:
            continue
        for k, (blocks_k, _, times_k) in enumerate(clusters[1:], start=2):
            for b in blocks_k:
                renamed[id(b)] = f"{key} ({k})"
            problems.append(Problem(_sources(blocks_k), (
                f"carries the same exposure identifiers ({key}) as {_sources(clusters[0][0])} but holds its "
                f"integration numbers at other times (from MJD {np.nanmin(times_k):.5f}): read as another "
                "exposure, not as repeats"), "info"))
    if not renamed:
        return blocks
    return [replace(b, exposure=renamed[id(b)]) if id(b) in renamed else b for b in blocks]


@dataclass
class _Reduction:
    """The blocks of one reduction of one exposure: same exposure key, stage, pipeline and layout."""

    blocks: list[SpectralBlock]
    first_given: int  # position of its first block in the inputs
    times: np.ndarray  # sorted finite mid-times
    integrations: np.ndarray  # sorted unique integration numbers

    @property
    def exposure(self) -> str:
        return self.blocks[0].exposure

    @property
    def stage(self) -> int:
        return int(self.blocks[0].stage or 0)

    @property
    def pipeline(self) -> str:
        return str(self.blocks[0].meta.get("pipeline") or "unknown pipeline")

    @property
    def layout(self) -> str:
        return self.blocks[0].layout

    @property
    def version(self) -> tuple[int, ...]:
        match = re.search(r"\d+(?:\.\d+)*", self.pipeline)  # "jwst 1.19.1", "Eureka! 1.5.dev24+g45ab…"
        return tuple(int(d) for d in match.group().split(".")) if match else ()

    def describe(self) -> str:
        stage = f"stage {self.stage}, " if self.stage else ""
        return f"{stage}{self.pipeline}, {self.layout} layout"

    def preference(self) -> tuple:
        """Higher stage (tso3 re-extracts after outlier detection), then newer pipeline, then the
        new layout, then more integrations, then the one given first."""
        software = self.pipeline.split()[0] if self.pipeline else ""
        return (self.stage, software, self.version, self.layout == "x1dints-new", self.times.size, -self.first_given)


def _reductions(blocks: list[SpectralBlock]) -> list[_Reduction]:
    groups: dict[tuple, list[int]] = defaultdict(list)
    for k, b in enumerate(blocks):
        groups[(b.exposure, b.stage, b.meta.get("pipeline"), b.layout)].append(k)
    out = []
    for members in groups.values():
        chosen = [blocks[k] for k in members]
        times = np.concatenate([np.asarray(b.time_mjd, dtype=np.float64) for b in chosen])
        out.append(_Reduction(chosen, members[0], np.sort(times[np.isfinite(times)]),
                              np.unique(np.concatenate([np.asarray(b.integration) for b in chosen]))))
    return out


def _overlap(a: _Reduction, b: _Reduction) -> bool:
    """Whether two reductions hold the same integrations: shared integration numbers of one
    exposure, or most of one's mid-times inside the other's time span (exposures one after
    the other, such as visits, never are).  Reductions of different named elements (NRS1 of
    one, NRS2 of the other) hold different spectra and are joined, not chosen between."""
    elements_a, elements_b = {x.element for x in a.blocks}, {x.element for x in b.blocks}
    if "" not in elements_a | elements_b and not elements_a & elements_b:
        return False
    if a.exposure == b.exposure and np.intersect1d(a.integrations, b.integrations).size:
        return True
    if not (a.times.size and b.times.size):
        return False
    short, long = (a, b) if a.times.size <= b.times.size else (b, a)
    inside = np.searchsorted(short.times, long.times[-1], side="right") - np.searchsorted(short.times, long.times[0])
    return inside >= 0.5 * short.times.size


def _one_reduction_per_time(blocks: list[SpectralBlock], problems: list[Problem]) -> list[SpectralBlock]:
    """Keep one reduction of integrations given more than once (stage 2 and 3, two pipeline
    versions, old and new layout): reductions of the same integrations differ (tso3
    re-extracts after outlier detection, versions change the extraction), so stacking or
    interleaving them would put two values at one time.  Every dropped file is reported
    with the one kept and why."""
    reductions = _reductions(blocks)
    if len(reductions) < 2:
        return blocks
    # connected groups of mutually overlapping reductions (a handful of reductions: pairs are cheap)
    group = list(range(len(reductions)))

    def root(i: int) -> int:
        while group[i] != i:
            i = group[i]
        return i

    for i in range(len(reductions)):
        for j in range(i + 1, len(reductions)):
            if _overlap(reductions[i], reductions[j]):
                group[root(j)] = root(i)
    members: dict[int, list[_Reduction]] = defaultdict(list)
    for i, r in enumerate(reductions):
        members[root(i)].append(r)
    dropped: set[int] = set()
    for clash in members.values():
        if len(clash) < 2:
            continue
        kept = max(clash, key=_Reduction.preference)
        for other in clash:
            if other is kept:
                continue
            dropped.update(id(b) for b in other.blocks)
            why = (f"({kept.describe()}; this file: {other.describe()}) and was kept because "
                   f"{_why_preferred(kept, other)}; two reductions of one observation are never mixed")
            for source in sorted({b.source for b in other.blocks}):
                lacking = _integrations_lacking(kept, [b for b in other.blocks if b.source == source])
                if lacking.size:  # a segment the kept reduction lost (failed in tso3, not uploaded)
                    message = (f"not used although its {_integration_runs(lacking)} are not in {_sources(kept.blocks)}, "
                               f"which holds another reduction of this exposure {why}. "
                               f"Load this file without {_sources(kept.blocks)} to see them")
                else:
                    message = f"not used: {_sources(kept.blocks)} holds another reduction of the same integrations {why}"
                problems.append(Problem(source, message, "warning"))
    return [b for b in blocks if id(b) not in dropped]


def _integrations_lacking(kept: _Reduction, blocks: list[SpectralBlock]) -> np.ndarray:
    """Integration numbers of ``blocks`` (one file of the same exposure) that ``kept`` does not hold."""
    mine = [np.asarray(b.integration) for b in blocks if b.exposure == kept.exposure]
    if not mine:
        return np.zeros(0, dtype=np.int64)
    return np.setdiff1d(np.concatenate(mine), kept.integrations)


def _integration_runs(numbers: np.ndarray) -> str:
    """``integrations 61–120`` (or ``integration 7``, ``integrations 3, 9–12``) from sorted unique numbers."""
    breaks = np.flatnonzero(np.diff(numbers) > 1)
    starts, ends = numbers[np.r_[0, breaks + 1]], numbers[np.r_[breaks, numbers.size - 1]]
    return f"integration{'s' if numbers.size > 1 else ''} {_runs_text(list(zip(starts, ends)))}"


def _runs_text(runs: list[tuple[int, int]], shown: int = 5) -> str:
    """``3, 9–12 and 4 more``: the first ``shown`` (first, last) runs of integration numbers."""
    listed = ", ".join(f"{a}–{b}" if a != b else f"{a}" for a, b in runs[:shown])
    return listed + (f" and {len(runs) - shown} more" if len(runs) > shown else "")


def _why_preferred(kept: _Reduction, other: _Reduction) -> str:
    if kept.stage != other.stage:
        lower = f"stage {other.stage}" if other.stage else f"a file without a JWST pipeline stage ({other.pipeline})"
        return (f"stage {kept.stage} is preferred over {lower}"
                + (" (calwebb_tso3 re-extracts after outlier detection)" if (kept.stage, other.stage) == (3, 2) else ""))
    if kept.pipeline.split()[:1] == other.pipeline.split()[:1] and kept.version != other.version:
        return f"{kept.pipeline} is newer than {other.pipeline}"
    if kept.layout != other.layout and kept.layout == "x1dints-new":
        return "the new (TSOMultiSpecModel) layout is preferred for the same pipeline version"
    if kept.times.size != other.times.size:
        return f"it has more integrations ({kept.times.size} against {other.times.size})"
    return "it was given first"


# ---------------------------------------------------------------- stitching
def _stitch(blocks: list[SpectralBlock], problems: list[Problem]) -> list[_Stitched]:
    groups: dict[tuple[str, str], list[SpectralBlock]] = defaultdict(list)
    for b in blocks:
        groups[(b.exposure, b.element)].append(b)
    stitched = []
    for (exposure, element), members in groups.items():
        stitched.append(_stitch_group(exposure, element, members, problems))
    return [s for s in stitched if s is not None]


def _block_wavelength(block: SpectralBlock) -> np.ndarray:
    """The block's wavelength grid as 1-D; rows must share it."""
    wave = np.asarray(block.wavelength, dtype=np.float64)
    if wave.ndim == 1:
        return wave
    first = wave[0]
    if not np.allclose(wave, first[None, :], rtol=1e-9, atol=0, equal_nan=True):
        raise ReadError("has a different wavelength grid in every integration")
    return first


def _stitch_group(exposure: str, element: str, members: list[SpectralBlock], problems: list[Problem]) -> _Stitched | None:
    first = members[0]
    wavelength = _block_wavelength(first)
    usable: list[SpectralBlock] = []
    for b in members:
        try:
            w = _block_wavelength(b)
        except ReadError as exc:
            problems.append(Problem(b.source, str(exc)))
            continue
        if w.shape != wavelength.shape or not np.allclose(w, wavelength, rtol=1e-7, equal_nan=True):
            problems.append(Problem(b.source, f"not used: its wavelength grid differs from {first.source}, "
                                              "another segment of the same exposure"))
            continue
        if not _same_unit(b.flux_unit, first.flux_unit):
            problems.append(Problem(b.source, f"not used: flux in {b.flux_unit}, other segments in {first.flux_unit}"))
            continue
        usable.append(b)
    if not usable:
        return None
    usable = _align_time_standards(usable, problems)
    # Row identity = integration number; order all rows of all segments by it.
    block_of_row = np.concatenate([np.full(b.n_integrations, k) for k, b in enumerate(usable)])
    row_in_block = np.concatenate([np.arange(b.n_integrations) for b in usable])
    integration = np.concatenate([np.asarray(b.integration, dtype=np.int64) for b in usable])
    time_mjd = np.concatenate([np.asarray(b.time_mjd, dtype=np.float64) for b in usable])
    finite_time = np.isfinite(time_mjd)
    if not finite_time.all():
        problems.append(Problem(_sources(usable), f"{int((~finite_time).sum())} integration(s) without a time were left out", "warning"))
    order = np.lexsort((block_of_row, integration))
    order = order[finite_time[order]]
    integration_sorted = integration[order]
    keep = np.ones(len(order), dtype=bool)
    repeated = np.flatnonzero(np.diff(integration_sorted) == 0) + 1
    if repeated.size:
        differing = 0
        for r in repeated:  # only the duplicated rows, few
            a, b = order[r - 1], order[r]
            fa = np.asarray(usable[block_of_row[a]].flux[row_in_block[a]])
            fb = np.asarray(usable[block_of_row[b]].flux[row_in_block[b]])
            if not np.array_equal(fa, fb, equal_nan=True):
                differing += 1
        keep[repeated] = False
        message = f"{repeated.size} integration(s) given more than once were used once"
        if differing:
            message += f" ({differing} of them differed between files: the first file's values were kept)"
        problems.append(Problem(_sources(usable), message, "warning"))
    order = order[keep]
    integration_sorted = integration[order]
    steps = np.diff(integration_sorted)
    gaps = [(int(integration_sorted[i] + 1), int(integration_sorted[i + 1] - 1)) for i in np.flatnonzero(steps > 1)]
    if gaps:
        single = len(gaps) == 1 and gaps[0][0] == gaps[0][1]
        problems.append(Problem(_sources(usable), f"{'integration' if single else 'integrations'} {_runs_text(gaps)} "
                                                  f"{'is' if single else 'are'} missing "
                                                  f"{_why_missing(usable, problems)}", "warning"))
    pieces = []
    for k, b in enumerate(usable):
        mine = order[block_of_row[order] == k]
        if mine.size:
            pieces.append((b, row_in_block[mine]))
    # pieces must be in global row order: they are when segments do not interleave,
    # which holds because each segment covers a contiguous integration range.
    pieces.sort(key=lambda p: int(np.asarray(p[0].integration)[p[1][0]]))
    integration_final = np.concatenate([np.asarray(b.integration, dtype=np.int64)[rows] for b, rows in pieces])
    if np.any(np.diff(integration_final) <= 0):
        # Segments interleave (unusual): fall back to one piece per row run.
        pieces = _row_runs(order, block_of_row, row_in_block, usable)
        integration_final = np.concatenate([np.asarray(b.integration, dtype=np.int64)[rows] for b, rows in pieces])
    time_final = np.concatenate([np.asarray(b.time_mjd, dtype=np.float64)[rows] for b, rows in pieces])
    return _Stitched(exposure, element, pieces, integration_final, time_final, wavelength,
                     first.time_standard, first.flux_unit)


def _align_time_standards(members: list[SpectralBlock], problems: list[Problem]) -> list[SpectralBlock]:
    """Put every segment of one exposure and element on the time standard of its measured times.

    A segment whose file had no times for its integrations carries the EXPSTART + cadence
    estimate (UTC, not barycentric: minutes off a BJD_TDB axis).  When other segments of the
    exposure have measured times, its times are instead extended from theirs along the integration
    numbers (one exposure has one cadence); otherwise times in another standard are converted
    between astropy time scales.
    """
    measured = [b for b in members if b.time_standard != CADENCE_FALLBACK]
    standard = (measured or members)[0].time_standard
    if all(b.time_standard == standard for b in members):
        return members
    reference = [b for b in measured if b.time_standard == standard]
    numbers = np.concatenate([np.asarray(b.integration, dtype=np.float64) for b in reference])
    times = np.concatenate([np.asarray(b.time_mjd, dtype=np.float64) for b in reference])
    known = np.isfinite(times)
    numbers, times = numbers[known], times[known]
    fit = None
    if np.unique(numbers).size >= 2:
        t_first = float(times[np.argmin(numbers)])
        slope, intercept = np.polyfit(numbers, (times - t_first) * 86400.0, 1)
        fit = (t_first, slope, intercept)
    aligned = []
    for b in members:
        if b.time_standard == standard:
            aligned.append(b)
            continue
        integration = np.asarray(b.integration, dtype=np.int64)
        span = f"integrations {integration.min()}–{integration.max()}"
        if b.time_standard == CADENCE_FALLBACK and fit is not None:
            t_first, slope, intercept = fit
            time_mjd = t_first + (intercept + slope * integration) / 86400.0
            problems.append(Problem(b.source, (
                f"no measured times for {span}: their {standard} times were extended from the other "
                f"segments' times of the exposure (integrations {int(numbers.min())}–{int(numbers.max())}, "
                f"one every {slope:.4g} s) instead of the EXPSTART + cadence estimate (UTC)"), "warning"))
        else:
            time_mjd = _convert_times(np.asarray(b.time_mjd, dtype=np.float64), b.time_standard, standard)
            problems.append(Problem(b.source, (
                f"times of {span} are {b.time_standard}, the other segments' {standard}: converted to the "
                f"{standard} time scale (no barycentric correction applied)"), "warning"))
        aligned.append(replace(b, time_mjd=time_mjd, time_standard=standard))
    return aligned


def _convert_times(time_mjd: np.ndarray, source: str, target: str) -> np.ndarray:
    """MJD-style numbers in one time standard's astropy scale → another's (no barycentric correction)."""
    source_scale, target_scale = time_standard(source).scale, time_standard(target).scale
    if source_scale == target_scale:
        return time_mjd
    return getattr(Time(time_mjd, format="mjd", scale=source_scale), target_scale).mjd


_SEGMENT_PART = re.compile(r"-seg\d+(_[a-z0-9]+)?(?=_x1dints)", re.IGNORECASE)


def _why_missing(members: list[SpectralBlock], problems: list[Problem]) -> str:
    """The likely reason integrations of one exposure are missing, for the gap message."""
    if all(b.stage == 3 for b in members):
        # tso3 fills INT_TIMES from each input segment it extracted; a failed one leaves its rows empty
        return ("from the stage-3 product: the pipeline did not extract them (a segment that failed "
                "in calwebb_tso3; its INT_TIMES rows are empty)")
    exposures = {_SEGMENT_PART.sub("", Path(b.source).name) for b in members if _SEGMENT_PART.search(b.source)}
    unreadable = sorted({p.source for p in problems if p.severity == "error" and _SEGMENT_PART.search(p.source)
                         and _SEGMENT_PART.sub("", Path(p.source).name) in exposures})
    if unreadable:
        return f"(segment file {', '.join(unreadable)} of this exposure failed to read)"
    cut = sorted({p.source for p in problems if "may be cut short" in p.message and _SEGMENT_PART.search(p.source)
                  and _SEGMENT_PART.sub("", Path(p.source).name) in exposures})
    if cut:
        return f"(segment file {', '.join(cut)} of this exposure may be cut short: see its warning)"
    leaving = sorted({b.source for b in members if any(n.endswith("were left out") for n in b.notes)})
    if leaving:  # the reader dropped unusable integrations (absurd times, no wavelength …)
        return f"(left out of {', '.join(leaving)}: see its warnings)"
    return "(a segment file of this exposure was not given)"


def _row_runs(order, block_of_row, row_in_block, usable):
    runs = []
    start = 0
    for i in range(1, len(order) + 1):
        if i == len(order) or block_of_row[order[i]] != block_of_row[order[start]]:
            runs.append((usable[block_of_row[order[start]]], row_in_block[order[start:i]]))
            start = i
    return runs


def _sources(blocks: Sequence[SpectralBlock]) -> str:
    names = sorted({b.source for b in blocks})
    return names[0] if len(names) == 1 else f"{names[0]} (+{len(names) - 1} more)"


def _same_unit(a: u.UnitBase, b: u.UnitBase) -> bool:
    try:
        return a == b or a.to(b) == 1.0
    except u.UnitConversionError:
        return False


# ---------------------------------------------------------------- detectors
def _join_detectors(stitched: list[_Stitched], problems: list[Problem]) -> list[_Series]:
    by_exposure: dict[str, list[_Stitched]] = defaultdict(list)
    for s in stitched:
        by_exposure[s.exposure].append(s)
    series = []
    for exposure, parts in by_exposure.items():
        parts.sort(key=lambda s: float(np.nanmin(s.wavelength)))
        common = parts[0].integration
        for p in parts[1:]:
            common = np.intersect1d(common, p.integration)
        if len(parts) > 1:
            for p in parts:
                lost = len(p.integration) - len(common)
                if lost:
                    problems.append(Problem(_sources([b for b, _ in p.pieces]),
                                            f"{lost} integration(s) of {p.element} have no match on the other detector and were left out",
                                            "warning"))
        if common.size == 0:
            problems.append(Problem(_sources([b for p in parts for b, _ in p.pieces]),
                                    "the detectors of this exposure share no integration"))
            continue
        rows = [np.searchsorted(p.integration, common) for p in parts]
        column_order = [np.argsort(p.wavelength, kind="stable") for p in parts]
        wavelength = np.concatenate([p.wavelength[c] for p, c in zip(parts, column_order)])
        if np.any(np.diff(wavelength) <= 0):
            problems.append(Problem(_sources([b for p in parts for b, _ in p.pieces]),
                                    f"detectors {', '.join(p.element for p in parts)} overlap in wavelength; only "
                                    f"{parts[0].element} was used", "warning"))
            parts = parts[:1]
            rows = [np.arange(len(parts[0].integration))]
            column_order = column_order[:1]
            wavelength = parts[0].wavelength[column_order[0]]
            common = parts[0].integration
        units = {p.flux_unit for p in parts}
        if len(units) > 1:
            problems.append(Problem(_sources([b for p in parts for b, _ in p.pieces]),
                                    "detectors of one exposure have different flux units; only the first was used"))
            parts, rows, column_order = parts[:1], rows[:1], column_order[:1]
            wavelength = parts[0].wavelength[column_order[0]]
        base = parts[0]
        series.append(_Series(
            exposure=exposure, parts=parts, rows=rows, column_order=column_order, wavelength=wavelength,
            integration=common, time_mjd=base.time_mjd[rows[0]], time_standard=base.time_standard,
            flux_unit=base.flux_unit,
        ))
    return series


# ---------------------------------------------------------------- the cube
def _assemble(blocks, files, problems, options: LoadOptions, report: Progress, stager: "_Stager | None" = None) -> Cube:
    if not blocks:
        raise NoUsableData(problems)
    blocks, available, element_used = _choose_elements(blocks, options, problems)
    blocks = _separate_exposures(blocks, problems)
    blocks = _one_reduction_per_time(blocks, problems)
    series = _join_detectors(_stitch(blocks, problems), problems)
    series = _common_units(series, problems)
    if not series:
        raise NoUsableData(problems)
    series.sort(key=lambda s: float(s.time_mjd[0]))
    standard = _common_time_standard(series, problems)
    wavelength, resample = _common_grid(series, problems)

    n_rows = sum(s.n_rows for s in series)
    folder = options.cube_folder if 16 * n_rows * wavelength.size >= options.cube_folder_min_bytes else None
    # The rows copied while the files were read are the cube itself when it is exactly them, in order.
    staged = stager.whole_cube(series, resample) if stager is not None and folder is None else None
    if staged is not None:
        flux, error = staged
    else:
        flux = _cube_array((n_rows, wavelength.size), folder)
        error = _cube_array((n_rows, wavelength.size), folder)
    sources = sorted({b.source for s in series for p in s.parts for b, _ in p.pieces})
    source_number = {name: k for k, name in enumerate(sources)}
    source_index = np.empty(n_rows, dtype=np.int32)
    start = 0
    for s in series:
        stop = start + s.n_rows
        _fill_series(s, flux[start:stop], error[start:stop], source_index[start:stop], source_number, resample.get(id(s)),
                     stager, copy=staged is None)
        report("Assembling cube", stop, n_rows)
        start = stop

    time_mjd = np.concatenate([s.time_mjd for s in series])
    integration = np.concatenate([s.integration for s in series])
    if np.any(np.diff(time_mjd) <= 0):
        order = np.argsort(time_mjd, kind="stable")
        flux, error = flux[order], error[order]
        time_mjd, integration, source_index = time_mjd[order], integration[order], source_index[order]
        problems.append(Problem("time axis", "integrations were not in time order across files; they were sorted", "warning"))

    used_sources = set(sources)
    for info in files:
        info["used"] = info["source"] in used_sources
    meta = _cube_meta(blocks, series)
    meta.update(t0_mjd=float(time_mjd[0]), files=files, elements_available=[e for e in available if e], element_used=element_used,
                integration_gaps=_integration_gaps(series))
    cube = Cube(
        wavelength=wavelength,
        time=Time(time_mjd, format="mjd", scale=time_standard(standard).scale),
        flux=flux,
        error=error,
        flux_unit=series[0].flux_unit,
        time_standard=standard,
        integration=integration,
        source_index=source_index,
        sources=tuple(sources),
        meta=meta,
        problems=tuple(problems),
        history=(f"loaded {len(sources)} file(s)" + (f", element {element_used}" if element_used else ""),),
    )
    from .steps.visits import split_visits

    return split_visits(cube, gap_hours=options.visit_gap_hours)


def _cube_array(shape: tuple[int, int], folder: str | Path | None) -> np.ndarray:
    """An uninitialized float64 array of the cube: in memory, or memory-mapped in ``folder``."""
    if folder is None:
        return np.empty(shape, dtype=np.float64)
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    handle, name = tempfile.mkstemp(prefix="stamp-cube-", suffix=".npy", dir=folder)
    os.close(handle)
    try:
        return np.lib.format.open_memmap(name, mode="w+", dtype=np.float64, shape=shape)
    finally:
        os.unlink(name)  # the map holds the file open; its space is freed when the cube is


def _fill_series(s: _Series, flux_out, error_out, source_out, source_number, resample,
                 stager: "_Stager | None" = None, copy: bool = True) -> None:
    """Copy one exposure's rows into its slice of the cube, converting to float64 once, and
    mark unknown errors (:func:`_clean`) step by step as they are copied.

    Rows the ``stager`` already copied (converted, flagged and cleaned: the same values) are
    copied from there; with ``copy=False`` the cube already is those rows and only
    ``source_out`` is written."""
    column = 0
    target = flux_out if resample is None else np.empty((s.n_rows, s.wavelength.size))
    target_err = error_out if resample is None else np.empty_like(target)
    for part, wanted_rows, cols in zip(s.parts, s.rows, s.column_order):
        width = cols.size
        col_index = _as_slice(cols)
        row = 0
        # wanted_rows indexes the part's stitched rows; map them back to (block, row) pieces
        piece_start = 0
        for block, block_rows in part.pieces:
            piece_stop = piece_start + len(block_rows)
            take = wanted_rows[(wanted_rows >= piece_start) & (wanted_rows < piece_stop)] - piece_start
            if take.size:
                n = take.size
                if copy:
                    dest = (slice(row, row + n), slice(column, column + width))
                    staged = stager.lookup(block, cols) if stager is not None and resample is None else None
                    if staged is not None:
                        src_rows = _as_slice(staged.start + block_rows[take])
                        target[dest] = staged.buffer.flux[src_rows]
                        target_err[dest] = staged.buffer.error[src_rows]
                    else:
                        _copy_rows(block, _as_slice(block_rows[take]), col_index, target[dest], target_err[dest],
                                   clean=resample is None)
                if part is s.parts[0]:
                    source_out[row:row + n] = source_number[block.source]
                row += n
            piece_start = piece_stop
        column += width
    if resample is not None:
        resample(target, flux_out)
        resample(target_err, error_out)
        _clean(flux_out, error_out)


def _copy_rows(block: SpectralBlock, src_rows, col_index, target: np.ndarray, target_err: np.ndarray,
               clean: bool) -> None:
    """``block``'s flux and error at ``src_rows`` × ``col_index`` into ``target`` / ``target_err`` as
    float64, flagged values NaN, in steps of :data:`_FILL_STEP_BYTES` whose file pages are
    released once copied; ``clean``: unknown errors NaN (:func:`_clean`) while the step is in cache."""
    steps = list(_row_chunks(src_rows, target.shape[0], block.flux))

    def copy_steps(part: slice) -> None:
        for src, rows_out in steps[part]:
            step, step_err = target[rows_out], target_err[rows_out]
            step[...] = _take(block.flux, src, col_index)
            step_err[...] = _take(block.error, src, col_index)
            if block.bad is not None:
                np.copyto(step, np.nan, where=_take(block.bad, src, col_index).astype(bool, copy=False))
            if clean:
                _clean(step, step_err)  # while the step is in cache: no second pass
            for array in (block.flux, block.error, block.bad):
                _release_pages(array, src)

    # Steps in threads (stamp_engine.threads): the new memory's page faults and the casts scale with cores.
    map_pieces(copy_steps, pieces(len(steps), target.size))


#: Source bytes copied per step when filling the cube from a memory-mapped file: the
#: pages of a step are released from this process once copied (see :func:`_release_pages`).
_FILL_STEP_BYTES = 8 * 1024 * 1024
#: ... and at most this many bytes of the values themselves: where rows are short and dense (a
#: ``.npy`` the reader exported) 8 MiB of rows would be a small cube's whole source mapped at once.
_FILL_STEP_VALUE_BYTES = 1024 * 1024


def _row_chunks(rows, n: int, source: np.ndarray):
    """``(source rows, output rows)`` steps of about :data:`_FILL_STEP_BYTES` of the source (at most
    :data:`_FILL_STEP_VALUE_BYTES` of its values) for a forward slice; else one step."""
    if not (isinstance(rows, slice) and rows.step in (None, 1)) or source.ndim != 2:
        yield rows, slice(0, n)
        return
    step = max(1, min(_FILL_STEP_BYTES // max(1, abs(source.strides[0])),
                      _FILL_STEP_VALUE_BYTES // max(1, source.shape[1] * source.itemsize)))
    for start in range(0, n, step):
        stop = min(n, start + step)
        yield slice(rows.start + start, rows.start + stop), slice(start, stop)


def _release_pages(array, rows) -> None:
    """Drop the pages behind ``array[rows]`` from this process's memory when it is a read-only file map.

    The input files are mapped read-only (:mod:`stamp_engine.io.sandbox`); a page
    copied into the cube is not needed again, and keeping every mapped page resident
    makes the reader's memory grow with the size of the files (a 100,000-integration
    observation is tens of GB of FITS).  ``MADV_DONTNEED`` on a read-only file mapping
    only unmaps: a page touched again is read back from the page cache, so this is never
    a change of values.  Anything else (a writeable or copy-on-write map, an array in
    memory) is left alone.
    """
    if array is None or not isinstance(rows, slice) or not hasattr(mmap, "MADV_DONTNEED"):
        return
    view = array[rows]
    base = view
    while isinstance(base, np.ndarray):
        if base.flags.writeable:
            return
        base = base.base
    if not isinstance(base, mmap.mmap) or view.size == 0:
        return
    start = np.frombuffer(base, dtype=np.uint8).__array_interface__["data"][0]
    low = high = view.__array_interface__["data"][0]
    for extent, stride in zip(view.shape, view.strides):
        if stride < 0:
            low += stride * (extent - 1)
        else:
            high += stride * (extent - 1)
    high += view.itemsize
    first = (low - start) // mmap.PAGESIZE * mmap.PAGESIZE
    last = min(len(base), high - start)
    if 0 <= first < last:
        base.madvise(mmap.MADV_DONTNEED, first, last - first)


def _take(array, rows, cols):
    """``array[rows][:, cols]`` with as few copies as the indices allow."""
    if isinstance(rows, slice):
        return array[rows, cols] if isinstance(cols, slice) else np.asarray(array[rows])[:, cols]
    picked = np.asarray(array)[rows]
    return picked[:, cols]


def _as_slice(index: np.ndarray) -> slice | np.ndarray:
    """A slice equivalent to ``index`` when it is an arithmetic run of step ±1, else the index."""
    if index.size == 0:
        return index
    if index.size == 1:
        return slice(int(index[0]), int(index[0]) + 1)
    step = int(index[1] - index[0])
    if step in (1, -1) and np.all(np.diff(index) == step):
        stop = int(index[-1]) + step
        return slice(int(index[0]), None if stop < 0 else stop, step)
    return index


def _clean(flux: np.ndarray, error: np.ndarray) -> None:
    """Errors that are 0, negative or not finite mean "unknown" (extract_1d writes 0 under NaN flux).

    Done in row blocks so the masks stay small and in cache on a large cube.
    """
    rows_per_block = max(1, (1 << 16) // max(1, flux.shape[1]))
    for start in range(0, flux.shape[0], rows_per_block):
        f = flux[start:start + rows_per_block]
        e = error[start:start + rows_per_block]
        usable = (e > 0) & (e < np.inf) & (f == f)  # False for NaN error, NaN flux, 0, inf
        np.copyto(e, np.nan, where=~usable)


# ---------------------------------------------------------------- filling while reading
class _StagingRows:
    """Rows of one width in two anonymous memory maps (flux, error) that grow without copying.

    Linux grows a map in place or moves its pages (``mremap``), so appending a file's rows
    never copies the rows already there; the cube can then be these maps themselves.
    """

    def __init__(self, width: int) -> None:
        self.width = width
        self.n_rows = 0
        self._maps: tuple[mmap.mmap, mmap.mmap] | None = None

    def append(self, n: int) -> tuple[np.ndarray, np.ndarray]:
        """Room for ``n`` more rows: (flux, error) views of them, to be dropped before the next append.

        Raises
        ------
        OSError, ValueError, BufferError, SystemError
            The maps cannot grow here (no ``mremap``, or a view of them is still held).
        """
        row_bytes = 8 * self.width
        size = (self.n_rows + n) * row_bytes
        if self._maps is None:
            self._maps = tuple(mmap.mmap(-1, size, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS) for _ in range(2))
        else:
            for m in self._maps:
                m.resize(size)
        # No huge-page advice: where the kernel compacts memory for advised regions, the first
        # touch of a large map stalled a job for a second (stamp_engine.settings.numpy_without_huge_pages).
        start = self.n_rows * row_bytes
        self.n_rows += n
        return tuple(np.frombuffer(m, dtype=np.float64, count=n * self.width, offset=start).reshape(n, self.width)
                     for m in self._maps)

    @property
    def flux(self) -> np.ndarray:
        return self._rows(0)

    @property
    def error(self) -> np.ndarray:
        return self._rows(1)

    def _rows(self, k: int) -> np.ndarray:
        return np.frombuffer(self._maps[k], dtype=np.float64, count=self.n_rows * self.width).reshape(self.n_rows, self.width)


@dataclass(frozen=True)
class _Staged:
    """A block's rows ``start:start + n_rows`` of ``buffer``, its columns in ascending wavelength (``order``)."""

    buffer: _StagingRows
    start: int
    n_rows: int
    order: np.ndarray


class _Stager:
    """Copies each file's spectra into native float64 as the file arrives from the reader child,
    while the child reads the next file: the copy the cube needs, overlapped with the reading.

    A file of one spectral element (the usual segment file) is copied with its columns in
    ascending wavelength, flagged values NaN and unknown errors NaN (:func:`_copy_rows`):
    exactly what the fill would write.  Segments of one exposure and element go one after
    the other into one :class:`_StagingRows`; when the cube is exactly those rows in that order
    (the usual observation) it *is* those maps (:meth:`whole_cube`), else the fill copies
    staged rows from there (:meth:`lookup`) and the rest from the files.  Anything
    unusual (several elements in a file, a grid that changes between rows, columns or rows
    dropped later, resampling) is simply not staged or not used: the fill reads the file.

    Parameters
    ----------
    limit_bytes : int or None
        Stop staging (and free it) beyond this many bytes: a cube this large goes to a
        memory-mapped file (``LoadOptions.cube_folder``) instead.
    """

    def __init__(self, limit_bytes: int | None = None) -> None:
        self.limit_bytes = limit_bytes
        self.enabled = hasattr(mmap, "MAP_ANONYMOUS")
        self._rows: dict[tuple[str, str, int], _StagingRows] = {}
        # id(block.flux) → (block.flux, where): the array is held so that its id stays its own
        self._staged: dict[int, tuple[Any, _Staged]] = {}
        self._bytes = 0

    def arrived(self, index: int, outcome) -> None:
        """``read_files``' hook: stage the outcome's block if it is a file of one element."""
        if not self.enabled or outcome.error is not None or not outcome.blocks or len(outcome.blocks) != 1:
            return
        try:
            self._stage(outcome.blocks[0])
        except ReadError:
            return  # a grid that changes between rows: the assembler reports it, the fill reads the file
        except (OSError, ValueError, BufferError, SystemError, MemoryError):
            self.stop()  # no growing maps here, or no memory: fill from the files as without staging

    def _stage(self, block: SpectralBlock) -> None:
        flux = block.flux
        if (flux.ndim != 2 or 0 in flux.shape or np.shape(block.error) != flux.shape
                or (block.bad is not None and block.bad.shape != flux.shape)):
            return
        wavelength = _block_wavelength(block)
        n, width = flux.shape
        if wavelength.shape != (width,):
            return
        if self.limit_bytes is not None and self._bytes + 16 * n * width >= self.limit_bytes:
            self.stop()
            return
        order = np.argsort(wavelength, kind="stable")  # as _join_detectors orders a part's columns
        rows = self._rows.setdefault((block.exposure, block.element, width), _StagingRows(width))
        start = rows.n_rows
        target, target_err = rows.append(n)
        _copy_rows(block, slice(0, n), _as_slice(order), target, target_err, clean=True)
        del target, target_err  # no view may outlive an append: the next one may move the maps
        self._bytes += 16 * n * width
        self._staged[id(flux)] = (flux, _Staged(rows, start, n, order))

    def stop(self) -> None:
        """Stage nothing more and free what was staged."""
        self.enabled = False
        self._rows.clear()
        self._staged.clear()

    def lookup(self, block: SpectralBlock, cols: np.ndarray) -> _Staged | None:
        """Where ``block``'s rows were staged with its columns in the order ``cols``, if they were."""
        entry = self._staged.get(id(block.flux))
        if entry is None or entry[0] is not block.flux or not np.array_equal(entry[1].order, cols):
            return None
        return entry[1]

    def whole_cube(self, series: list[_Series], resample: dict) -> tuple[np.ndarray, np.ndarray] | None:
        """(flux, error) of the cube without a copy, when it is exactly one staging's rows in order."""
        if len(series) != 1 or resample or len(series[0].parts) != 1:
            return None
        s = series[0]
        if not np.array_equal(s.rows[0], np.arange(len(s.parts[0].integration))):
            return None
        rows, expected = None, 0
        for block, block_rows in s.parts[0].pieces:
            staged = self.lookup(block, s.column_order[0])
            if staged is None or (rows is not None and staged.buffer is not rows) or staged.start != expected:
                return None
            if block_rows.size != staged.n_rows or not np.array_equal(block_rows, np.arange(staged.n_rows)):
                return None
            rows, expected = staged.buffer, expected + staged.n_rows
        if rows is None or expected != rows.n_rows or rows.width != s.wavelength.size:
            return None
        return rows.flux, rows.error


def _common_units(series: list[_Series], problems: list[Problem]) -> list[_Series]:
    if not series:
        return series
    unit = series[0].flux_unit
    kept = [series[0]]
    for s in series[1:]:
        if _same_unit(s.flux_unit, unit):
            kept.append(s)
        else:
            problems.append(Problem(_sources([b for p in s.parts for b, _ in p.pieces]),
                                    f"not used: flux in {s.flux_unit}, the other files in {unit}"))
    return kept


def _common_time_standard(series: list[_Series], problems: list[Problem]) -> str:
    standards = {s.time_standard for s in series}
    if len(standards) == 1:
        return standards.pop()
    # Mixed standards: convert everything to the scale of the first series via astropy.
    first = series[0].time_standard
    for s in series[1:]:
        if s.time_standard != first:
            s.time_mjd = _convert_times(s.time_mjd, s.time_standard, first)
            problems.append(Problem(_sources([b for p in s.parts for b, _ in p.pieces]),
                                    f"times are {s.time_standard}, others {first}: converted to the {first} "
                                    "time scale (no barycentric correction applied)", "warning"))
    return first


def _common_grid(series: list[_Series], problems: list[Problem]):
    """The cube's wavelength grid and, for series on another grid, a resampling function."""
    first = series[0].wavelength
    if all(s.wavelength.shape == first.shape and np.allclose(s.wavelength, first, rtol=1e-9, equal_nan=True) for s in series):
        return first, {}
    lo = max(float(np.nanmin(s.wavelength)) for s in series)
    hi = min(float(np.nanmax(s.wavelength)) for s in series)
    if not lo < hi:
        raise NoUsableData(problems + [Problem("wavelength axis", "the files share no wavelength range")])
    inside = [s.wavelength[(s.wavelength >= lo) & (s.wavelength <= hi)] for s in series]
    grid = max(inside, key=len)  # the finest sampling over the common range
    problems.append(Problem("wavelength axis", f"files have different wavelength grids: resampled onto "
                                               f"{grid.size} points over the common range {lo:.4f}–{hi:.4f} µm", "warning"))
    resample = {}
    for s in series:
        resample[id(s)] = _linear_resampler(s.wavelength, grid)
    return grid, resample


def _linear_resampler(source: np.ndarray, grid: np.ndarray):
    """Linear interpolation along wavelength for all rows at once (no extrapolation)."""
    right = np.clip(np.searchsorted(source, grid, side="left"), 1, source.size - 1)
    left = right - 1
    span = source[right] - source[left]
    weight = np.where(span > 0, (grid - source[left]) / np.where(span > 0, span, 1), 0.0)
    outside = (grid < source[0]) | (grid > source[-1])

    def apply(values: np.ndarray, out: np.ndarray) -> None:
        np.multiply(values[:, left], 1.0 - weight, out=out)
        out += values[:, right] * weight
        out[:, outside] = np.nan

    return apply


def _integration_gaps(series: list[_Series]) -> list[list[int]]:
    gaps = []
    for s in series:
        steps = np.diff(s.integration)
        gaps += [[int(s.integration[i] + 1), int(s.integration[i + 1] - 1)] for i in np.flatnonzero(steps > 1)]
    return gaps


def _cube_meta(blocks: list[SpectralBlock], series: list[_Series]) -> dict[str, Any]:
    used = [b for s in series for p in s.parts for b, _ in p.pieces]
    meta: dict[str, Any] = {}
    for key in CUBE_META_KEYS:
        values = []
        for b in used:
            value = b.meta.get(key)
            if value not in (None, "") and str(value) not in values:
                values.append(str(value))
        if values:
            meta[key] = ", ".join(values)
    meta["layouts"] = sorted({b.layout for b in used})
    meta["flux_unit_assumed"] = any(b.meta.get("flux_unit_assumed") for b in used)
    meta["exposures"] = [s.exposure for s in series]
    edges = _channel_edges(used)
    if edges:
        meta["channel_edges"] = edges
    return meta


def _channel_edges(blocks: list[SpectralBlock]) -> dict[str, list[float]] | None:
    """The wavelength edges (µm) of channels whose file gives them (Eureka! S4 ``wave_low``/``wave_hi``,
    or ``wave_err``): ``{"centre", "low", "high"}``, matched to the cube's wavelengths by centre
    (:func:`stamp_engine.figures.band_map.wavelength_cells`); None when no file gives them."""
    centre: list[float] = []
    low: list[float] = []
    high: list[float] = []
    for b in blocks:
        c, lo, hi = (b.meta.get(k) for k in ("wave_centre", "wave_low", "wave_hi"))
        if c is not None and lo is not None and hi is not None and len(c) == len(lo) == len(hi):
            for values in zip(c, lo, hi):
                if values[0] not in centre:
                    centre.append(values[0])
                    low.append(values[1])
                    high.append(values[2])
    return {"centre": centre, "low": low, "high": high} if centre else None
