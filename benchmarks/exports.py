"""Section "exports": video encoding speed, package build time and size.

1. **Video** — ``stamp_engine.export.video.write_spectrum_video`` on a normalized synthetic cube of
   300 integrations × 2,040 wavelengths (built in memory, no file reading), 1280×720,
   300 frames; frames per second = frames ÷ wall time of the call (best of 3 after a
   warm-up).  Target ≥ 30 fps.
2. **Package** — ``stamp_engine.export.build_package`` (its defaults: video on, near-IR
   molecular bands) for the 10,000 × 2,040 dataset of the ingest section after load +
   normalize: wall time, time per stage (from its progress callback), ZIP size and what
   is inside.  No target: reported for scale.
"""

from __future__ import annotations

import importlib.util
import tempfile
import time
from pathlib import Path
from typing import Any

from . import datasets
from .common import MB, SectionNotRun, SectionResult, Target, heading, print_table, run_worker

TARGET_FPS = 30.0
VIDEO_SIZE = (1280, 720)


def run(quick: bool, regenerate: bool = False) -> SectionResult:
    result = SectionResult("exports", quick)
    heading("Exports: MP4 frames per second, download package build time and size")
    _video(result, quick)
    _package(result, quick, regenerate)
    result.print_verdicts()
    return result


def _video(result: SectionResult, quick: bool) -> None:
    if importlib.util.find_spec("stamp_engine.export.video") is None:
        result.not_run["video"] = "stamp_engine.export.video is not there yet"
        return
    frames = 60 if quick else 300
    params = {"frames": frames, "n_wavelengths": 2040, "size": VIDEO_SIZE, "fps": 30, "repeats": 1 if quick else 3}
    print()
    print(f"Video: {frames} frames at {VIDEO_SIZE[0]}×{VIDEO_SIZE[1]}, cube {frames} × 2,040, "
          f"best of {params['repeats']} after a warm-up")
    try:
        answer = run_worker("video", params, "time", timeout=900)
    except SectionNotRun as exc:
        result.not_run["video"] = str(exc)
        return
    fps = frames / answer["best_s"]
    answer["frames_per_second"] = fps
    result.measurements["video"] = answer
    print_table(
        ["video", "frames", "wall s (best)", "all runs s", "frames/s", "MP4 size"],
        [[f"{VIDEO_SIZE[0]}×{VIDEO_SIZE[1]} H.264", answer["frames"], f"{answer['best_s']:.2f}",
          ", ".join(f"{t:.2f}" for t in answer["times_s"]), f"{fps:.1f}", f"{answer['mp4_bytes'] / MB:.2f} MiB"]],
    )
    result.targets.append(Target(f"video frames per second at {VIDEO_SIZE[0]}×{VIDEO_SIZE[1]}", fps, TARGET_FPS, ">=", " fps"))


def _package(result: SectionResult, quick: bool, regenerate: bool) -> None:
    missing = [m for m in ("stamp_engine.export", "stamp_engine.synthetic.x1dints")
               if importlib.util.find_spec(m) is None]
    if missing:
        result.not_run["package"] = f"not there yet: {', '.join(missing)}"
        return
    spec = datasets.ingest_specs(quick)[0]
    try:
        data = datasets.ensure(spec, regenerate=regenerate)
    except Exception as exc:  # noqa: BLE001
        result.not_run["package"] = f"could not generate the dataset: {type(exc).__name__}: {exc}"
        return
    print()
    print(f"Package: build_package (defaults, video on) for {spec.label}")
    try:
        answer = run_worker("package", {"paths": data.path_strings}, "once", timeout=3600)
    except SectionNotRun as exc:
        result.not_run["package"] = str(exc)
        return
    result.measurements["package"] = answer
    print(f"  load+normalize {answer['load_s']:.1f} s (not counted); cube {answer['cube_shape']}")
    print_table(["package", "build s", "ZIP size", "files"],
                [["stamp_package_*.zip", f"{answer['build_s']:.1f}", f"{answer['zip_bytes'] / MB:.1f} MiB",
                  len(answer["contents"])]])
    print("  stages (from the progress callback: a stage's first report to the next stage's):")
    print_table(["stage", "s"], [[name, f"{s:.2f}"] for name, s in answer["stages_s"].items()])
    print("  contents:")
    print_table(["file", "MiB"], [[name, f"{size / MB:.2f}"] for name, size in answer["contents"].items()])


# ------------------------------------------------------------------ worker side


def _synthetic_cube(n_integrations: int, n_wavelengths: int):
    """A normalized cube straight from the signal model: no reader involved."""
    import astropy.units as u
    import numpy as np
    from astropy.time import Time

    import stamp_engine
    from stamp_engine.cube import Cube
    from stamp_engine.synthetic import make_observation

    obs = make_observation(n_integrations=n_integrations, wavelength=np.linspace(0.6, 5.3, n_wavelengths),
                           seed=7, cadence_s=30.0)
    cube = Cube(
        wavelength=obs.wavelength,
        time=Time(obs.time_bjd_tdb, format="mjd", scale="tdb"),
        flux=obs.flux,
        error=obs.error,
        flux_unit=u.Unit(obs.flux_unit),
        time_standard="BJD_TDB",
        meta=dict(obs.meta),
    )
    return stamp_engine.normalize(cube)


def measure_video(params: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
    """One video encode (the worker's ``time`` mode repeats it)."""
    from stamp_engine.export.video import write_spectrum_video

    cube = _CACHE.get("cube")
    if cube is None:  # built once per process, outside the timed calls after the warm-up
        cube = _CACHE["cube"] = _synthetic_cube(int(params["frames"]), int(params["n_wavelengths"]))
    with tempfile.TemporaryDirectory(prefix="stamp-bench-video-") as folder:
        path = Path(folder) / "spectrum.mp4"
        video = write_spectrum_video(cube, path, fps=float(params["fps"]), size=tuple(params["size"]),
                                     max_frames=int(params["frames"]))
        info = {"frames": video.frames, "mp4_bytes": path.stat().st_size,
                "reported_fps": video.frames_per_second_encoded}
    return None, info


_CACHE: dict[str, Any] = {}


def measure_package(params: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
    """Load + normalize the dataset, then time ``build_package`` with its stages (runs in a worker)."""
    import zipfile

    import stamp_engine
    from stamp_engine.bands import PRESETS, usable_bands
    from stamp_engine.export import build_package

    t0 = time.perf_counter()
    cube = stamp_engine.normalize(stamp_engine.load(params["paths"]))
    load_s = time.perf_counter() - t0
    bands = usable_bands(cube, PRESETS["Molecules (near-IR)"])
    first: dict[str, float] = {}

    def progress(stage: str, done: int, total: int) -> None:
        first.setdefault(stage, time.perf_counter())

    with tempfile.TemporaryDirectory(prefix="stamp-bench-package-") as folder:
        start = time.perf_counter()
        zip_path = build_package(cube, Path(folder), bands=bands, options={"normalization": "median"},
                                 progress=progress)
        build_s = time.perf_counter() - start
        with zipfile.ZipFile(zip_path) as archive:
            contents = {item.filename: item.file_size for item in archive.infolist()}
        info = {
            "cube_shape": list(cube.shape),
            "load_s": load_s,
            "build_s": build_s,
            "zip_bytes": zip_path.stat().st_size,
            "contents": contents,
            "stages_s": _stage_durations(first, start + build_s),
        }
    return None, info


def _stage_durations(first: dict[str, float], end: float) -> dict[str, float]:
    """Seconds from each stage's first progress report to the next stage's (the last to ``end``)."""
    ordered = sorted(first.items(), key=lambda item: item[1])
    stops = [t for _, t in ordered[1:]] + [end]
    return {stage: stop - t for (stage, t), stop in zip(ordered, stops)}
