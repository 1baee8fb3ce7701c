"""Section "ingest": stamp_engine.load + normalize against the astropy read floor.

For each dataset (new layout 10,000 × 2,040 in 5 segment files; old layout 1,200 × 430):

* **floor**: ``astropy.io.fits.open`` + ``np.array`` of WAVELENGTH, FLUX, FLUX_ERROR and
  INT_TIMES ``int_mid_BJD_TDB``, per file, each materialized as a native float64 array —
  the least any reader must do;
* **stamp_engine**: ``stamp_engine.load(paths)`` then ``stamp_engine.normalize(cube, in_place=True)``
  (the loaded cube is not kept, as in ``stamp render``);
* **chromatic** (a peer, in its own venv): ``chromatic.read_rainbow(paths)``.

Wall time: best of 3 after one warm-up, page cache warm, each method in a fresh process; the
floor and the engine are timed in :data:`ROUNDS` alternating rounds (floor, engine, then
engine, floor, …), so that neither always runs in the other's wake on a shared machine.  The
judged ratio is the median of the rounds' ratios (each round's two times were taken within
seconds of each other); the best engine time over the best floor time and the load average
of each round are printed beside it.
Memory: tracemalloc peak (NumPy buffers are traced) and the RSS high-water growth (VmHWM;
see worker.measure_rss for why not ru_maxrss), each in its own fresh process, relative to
the cube's flux + error bytes; the target is on the RSS (≤ 2×).  tracemalloc does not see
the engine's cube when it was filled while the files were read (anonymous memory maps, not
NumPy allocations): its peak is then context only; the RSS counts it.
"""

from __future__ import annotations

import importlib.util
import statistics
import subprocess
import sys
from typing import Any

from . import datasets
from .common import (
    MB, REPO_ROOT, VENV_DIR, SectionNotRun, SectionResult, Target, heading, last_lines, print_table,
    run_worker,
)

TARGET_RATIO = {"new": 1.5, "old": 1.3}
#: Alternating floor/engine timing rounds (one with --quick, and one more is enough when the
#: first round's ratio is below half its target: the verdict cannot change).
ROUNDS = 3
TARGET_MEMORY = 2.0
#: Below this cube size (flux + error) the memory ratio is reported, not judged: the
#: fixed allocations of reading (astropy tables, headers, index arrays: about a MiB) dominate it.
MEMORY_TARGET_MIN_CUBE_BYTES = 4 * MB

QUOTED_FLASK = ("Original Flask STAMP (quoted from the project's earlier measurement, not re-measured here — it is not on PyPI): "
                "about 22–37× the floor in time and 26× the cube bytes in memory on the same data.")

CHROMATIC_PACKAGE = "chromatic-lightcurves"


def run(quick: bool, peers: bool = True, install_peers: bool = True, regenerate: bool = False) -> SectionResult:
    result = SectionResult("ingest", quick)
    heading("Ingest: stamp_engine.load + normalize time and memory vs the astropy read floor")
    print(f"Wall: best of {1 if quick else 3} after 1 warm-up (page cache warm), each method in a fresh process.")
    print("peak/cube: tracemalloc peak ÷ flux+error bytes (blind to memory maps: the engine's staged cube is one).  "
          "RSS/cube: RSS high-water (VmHWM) growth ÷ the same.")
    if importlib.util.find_spec("stamp_engine.synthetic.x1dints") is None:
        result.not_run["ingest"] = "the synthetic x1dints writer (stamp_engine.synthetic.x1dints) is not there yet"
        result.print_verdicts()
        return result

    chromatic_python = _chromatic_python(result, peers, install_peers and not quick)
    for spec in datasets.ingest_specs(quick):
        try:
            data = datasets.ensure(spec, regenerate=regenerate)
        except Exception as exc:  # noqa: BLE001 - any failure of the generator is reported, not raised
            result.not_run[f"{spec.layout} layout"] = f"could not generate the dataset: {type(exc).__name__}: {exc}"
            continue
        result.measurements[spec.layout] = _measure_dataset(data, result, chromatic_python, quick)

    print()
    print(QUOTED_FLASK)
    result.notes.append(QUOTED_FLASK)
    result.print_verdicts()
    return result


def _measure_dataset(data: datasets.Dataset, result: SectionResult, chromatic_python: str | None,
                     quick: bool) -> dict[str, Any]:
    spec = data.spec
    print()
    print(f"{spec.label}: {data.bytes_on_disk / 1024**3:.2f} GiB on disk, "
          f"cube (flux+error float64) {spec.cube_bytes / MB:,.0f} MiB")
    params = {"paths": data.path_strings, "layout": spec.layout, "repeats": 1 if quick else 3}
    measured: dict[str, Any] = {"dataset": spec.label, "files": [p.name for p in data.paths],
                                "bytes_on_disk": data.bytes_on_disk, "cube_bytes": spec.cube_bytes}
    # --quick: the floor's memory is context, not a target; skip it (tracing astropy is slow)
    measured["floor"] = _measure_method("floor", params, spec.cube_bytes,
                                        memory_modes=() if quick else ("tracemalloc", "rss"))
    measured["engine"] = _measure_method("engine", params, spec.cube_bytes)
    if chromatic_python:
        measured["chromatic"] = _measure_method("chromatic", {**params, "budget_s": 90.0}, spec.cube_bytes,
                                                python=chromatic_python, memory_modes=() if quick else ("rss",))

    _alternate_rounds(measured, params, 1 if quick else ROUNDS, TARGET_RATIO[spec.layout])
    floor_s = measured["floor"].get("best_s")
    rows = []
    names = {"floor": "astropy floor", "engine": "stamp_engine load+normalize", "chromatic": "chromatic read_rainbow"}
    for method, m in measured.items():
        if method not in names:
            continue
        if "error" in m:
            rows.append([names[method], "FAILED", None, None, None, None, None])
            continue
        best = m.get("best_s")
        ratio = best / floor_s if (best is not None and floor_s) else None
        m["ratio_to_floor"] = ratio
        rows.append([
            names[method], _f(best, "{:.3f}"), _f(ratio, "{:.2f}×"),
            _f(m.get("peak_bytes"), "{:,.0f}", MB), _f(m.get("peak_over_cube"), "{:.2f}×"),
            _f(m.get("rss_growth_bytes"), "{:,.0f}", MB), _f(m.get("rss_over_cube"), "{:.2f}×"),
        ])
    print_table(["method", "wall s", "÷ floor", "peak MiB", "peak/cube", "RSS+ MiB", "RSS/cube"], rows)
    engine = measured["engine"]
    if measured.get("rounds"):
        rounds = "; ".join(f"{r['engine_s']:.3f}/{r['floor_s']:.3f} s = {r['ratio']:.2f}× (load {r['loadavg']})"
                           for r in measured["rounds"])
        print(f"  rounds (engine/floor, best of 3 each): {rounds}; median ratio {measured['median_ratio']:.2f}× "
              f"(judged); best engine ÷ best floor {engine.get('ratio_to_floor', float('nan')):.2f}×")
    if "phases_s" in engine:
        phases = ", ".join(f"{k} {v:.3f} s" for k, v in engine["phases_s"].items())
        print(f"  stamp_engine phases (best run): {phases}; cube {engine.get('shape')}")
    if engine.get("problems"):
        print(f"  stamp_engine reported {len(engine['problems'])} problem(s): {engine['problems'][:3]}")
    for method in ("engine", "chromatic"):
        if "error" in measured.get(method, {}):
            print(f"  {names[method]} failed: {measured[method]['error']}")
    if engine.get("shape") and engine["shape"] != [spec.n_integrations, spec.n_wavelengths]:
        print(f"  note: stamp_engine cube shape {engine['shape']} ≠ generated "
              f"{[spec.n_integrations, spec.n_wavelengths]}")

    # Judged on the rounds' median: each round's floor and engine ran within seconds of each other,
    # where the best engine time over the best floor time may pair a quiet minute with a busy one.
    result.targets.append(Target(f"{spec.layout} layout: load+normalize ÷ floor",
                                 measured.get("median_ratio", engine.get("ratio_to_floor")), TARGET_RATIO[spec.layout],
                                 "<=", "×"))
    result.targets.append(memory_target(spec.layout, engine.get("rss_over_cube"), spec.cube_bytes))
    return measured


def _alternate_rounds(measured: dict[str, Any], params: dict[str, Any], rounds: int, target: float) -> None:
    """Time floor and engine again in alternating order; keep each one's best and every round's ratio."""
    floor, engine = measured["floor"], measured["engine"]
    if "error" in floor or "error" in engine or "best_s" not in floor or "best_s" not in engine:
        return
    found = [{"floor_s": floor["best_s"], "engine_s": engine["best_s"], "loadavg": _loadavg()}]
    for k in range(1, rounds):
        if found[0]["engine_s"] / found[0]["floor_s"] < target / 2:
            break
        order = ("engine", "floor") if k % 2 else ("floor", "engine")
        times = {}
        for method in order:
            try:
                times[method] = run_worker(method, params, "time")["best_s"]
            except SectionNotRun:
                return
        found.append({"floor_s": times["floor"], "engine_s": times["engine"], "loadavg": _loadavg()})
    for r in found:
        r["ratio"] = r["engine_s"] / r["floor_s"]
    floor["best_s"] = min(r["floor_s"] for r in found)
    engine["best_s"] = min(r["engine_s"] for r in found)
    measured["rounds"] = found
    measured["median_ratio"] = statistics.median(r["ratio"] for r in found)


def _loadavg() -> str:
    try:
        with open("/proc/loadavg") as handle:
            return " ".join(handle.read().split()[:3])
    except OSError:
        return "?"


def memory_target(layout: str, peak_over_cube: float | None, cube_bytes: int) -> Target:
    """The peak-RSS ÷ cube target, only reported for cubes below :data:`MEMORY_TARGET_MIN_CUBE_BYTES`."""
    small = cube_bytes < MEMORY_TARGET_MIN_CUBE_BYTES
    return Target(
        f"{layout} layout: peak RSS (VmHWM growth) ÷ flux + error bytes", peak_over_cube, TARGET_MEMORY, "<=", "×",
        report_only=(f"a {cube_bytes / MB:.1f} MiB cube, where fixed overhead dominates "
                     f"(judged from {MEMORY_TARGET_MIN_CUBE_BYTES / MB:.0f} MiB)") if small else None,
    )


def _measure_method(method: str, params: dict[str, Any], cube_bytes: int, *, python: str | None = None,
                    memory_modes: tuple[str, ...] = ("tracemalloc", "rss")) -> dict[str, Any]:
    """Time and memory of one method, each in a fresh process; failures become ``{"error": …}``."""
    out: dict[str, Any] = {}
    allow_error = method == "chromatic"
    for mode in ("time", *memory_modes):
        if sys.stdout.isatty():
            print(f"  … {method}: {mode}", end="\r", flush=True)
        try:
            answer = run_worker(method, params, mode, python=python, allow_error=allow_error)
        except SectionNotRun as exc:
            answer = {"error": str(exc)}
        if sys.stdout.isatty():
            print(" " * 40, end="\r")
        if "error" in answer:
            out["error"] = answer["error"]
            break
        out[mode] = answer
        out.update({key: answer[key] for key in _KEYS_FROM[mode] if key in answer})
    if "peak_bytes" in out:
        out["peak_over_cube"] = out["peak_bytes"] / cube_bytes
    if "rss_growth_bytes" in out:
        out["rss_over_cube"] = out["rss_growth_bytes"] / cube_bytes
    return out


#: What each measurement mode contributes to a method's summary (phases come from the timed runs).
_KEYS_FROM = {
    "time": ("best_s", "times_s", "warmup_s", "phases_s", "shape", "problems", "chromatic_version"),
    "tracemalloc": ("peak_bytes",),
    "rss": ("rss_growth_bytes", "rss_highwater_bytes"),
}


def _f(value: float | None, fmt: str, divide: float = 1.0) -> str | None:
    return None if value is None else fmt.format(value / divide)


# ------------------------------------------------------------------ peer: chromatic


def _chromatic_python(result: SectionResult, peers: bool, install: bool) -> str | None:
    """The venv interpreter that can import chromatic, installing it there if allowed."""
    if not peers:
        result.not_run["chromatic"] = "peers skipped (--no-peers)"
        return None
    python = VENV_DIR / "bin" / "python"
    if _imports_chromatic(python):
        result.measurements["chromatic_version"] = _chromatic_version(python)
        return str(python)
    if not install:
        reason = (f"chromatic is not installed in {VENV_DIR.relative_to(REPO_ROOT)} "
                  "(not installed in --quick runs; a full run installs it)")
        result.not_run["chromatic"] = reason
        print(f"  chromatic: {reason}")
        return None
    print(f"  installing {CHROMATIC_PACKAGE} into {VENV_DIR.relative_to(REPO_ROOT)} (separate venv) …", flush=True)
    try:
        if not python.exists():
            subprocess.run([sys.executable, "-m", "venv", str(VENV_DIR)], check=True, capture_output=True, text=True)
        done = subprocess.run([str(python), "-m", "pip", "install", "-q", CHROMATIC_PACKAGE],
                              capture_output=True, text=True, timeout=900)
        if done.returncode != 0:
            raise RuntimeError(last_lines(done.stderr or done.stdout))
    except Exception as exc:  # noqa: BLE001 - reported as a result
        reason = f"{CHROMATIC_PACKAGE} could not be installed in a separate venv: {exc}"
        result.not_run["chromatic"] = reason
        print(f"  chromatic: {reason}")
        return None
    if not _imports_chromatic(python):
        result.not_run["chromatic"] = f"{CHROMATIC_PACKAGE} installed but does not import"
        return None
    result.measurements["chromatic_version"] = _chromatic_version(python)
    return str(python)


def _imports_chromatic(python) -> bool:
    if not python.exists():
        return False
    done = subprocess.run([str(python), "-c", "import chromatic"], capture_output=True, timeout=120)
    return done.returncode == 0


def _chromatic_version(python) -> str:
    done = subprocess.run(
        [str(python), "-c", f"import importlib.metadata as m; print(m.version('{CHROMATIC_PACKAGE}'))"],
        capture_output=True, text=True, timeout=60,
    )
    return done.stdout.strip() or "?"
