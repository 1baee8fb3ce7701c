"""One measurement in a fresh interpreter: ``python -m benchmarks.worker TASK MODE PARAMS_JSON``.

Prints one JSON line.  Modes:

``time``
    one warm-up run (page cache and lazy imports warm), then the best of ``repeats`` wall times;
``tracemalloc``
    peak of Python-traced allocations during one run (NumPy reports its data buffers to
    tracemalloc, so array memory is included; memory-mapped file pages are not);
``rss``
    the growth of the process's resident-set high-water mark (``VmHWM``) over one untraced run.
    It includes file pages touched through memory maps and allocator slack.

Kept free of third-party imports at module level so it also runs in the chromatic venv.
"""

from __future__ import annotations

import gc
import json
import resource
import sys
import time
import traceback
from pathlib import Path
from typing import Any, Callable

# -------------------------------------------------------------------- tasks
# Each task returns (object to keep alive until the measurement ends, info dict).


def floor_read(params: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
    """The least any reader must do: astropy open + ``np.array`` of WAVELENGTH, FLUX, FLUX_ERROR
    and INT_TIMES ``int_mid_BJD_TDB``, per file (no integration numbers, no other time columns)."""
    import numpy as np
    from astropy.io import fits

    kept: list[Any] = []
    n_int = 0
    n_wave = 0
    for path in params["paths"]:
        with fits.open(path, memmap=True) as hdul:
            if "INT_TIMES" in hdul:
                kept.append(np.array(hdul["INT_TIMES"].data["int_mid_BJD_TDB"], dtype=np.float64))
            # Iterate the HDU list once; looking HDUs up by (name, ver) rescans it each time.
            for hdu in hdul:
                if hdu.name != "EXTRACT1D":
                    continue
                data = hdu.data
                flux = np.array(data["FLUX"], dtype=np.float64)
                kept += [np.array(data["WAVELENGTH"], dtype=np.float64), flux,
                         np.array(data["FLUX_ERROR"], dtype=np.float64)]
                if params["layout"] == "new":
                    n_int += flux.shape[0]
                    n_wave = flux.shape[1]
                else:
                    n_int += 1
                    n_wave = flux.shape[0]
    return kept, {"shape": [n_int, n_wave]}


def engine_load_normalize(params: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
    """``stamp_engine.load(paths)`` followed by ``stamp_engine.normalize(cube, in_place=True)``.

    In place, as ``stamp render`` does: an ingest keeps the normalized cube, not the loaded one
    (the values are the same bit for bit; tests/test_normalize_in_place.py checks it)."""
    import stamp_engine

    t0 = time.perf_counter()
    cube = stamp_engine.load(params["paths"])
    t1 = time.perf_counter()
    normalized = stamp_engine.normalize(cube, in_place=True)
    t2 = time.perf_counter()
    del cube
    info = {
        "shape": list(normalized.flux.shape),
        "phases_s": {"load": t1 - t0, "normalize": t2 - t1},
        "problems": [str(p) for p in normalized.problems],
    }
    return normalized, info


def chromatic_read(params: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
    """``chromatic.read_rainbow`` on the same files (runs in the chromatic venv)."""
    import warnings

    import chromatic

    paths = params["paths"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        rainbow = chromatic.read_rainbow(paths[0] if len(paths) == 1 else paths)
    shape = list(rainbow.flux.shape)  # chromatic stores (wavelength, time)
    return rainbow, {"shape": [shape[1], shape[0]] if len(shape) == 2 else shape,
                     "chromatic_version": getattr(chromatic, "__version__", "?")}


TASKS: dict[str, Callable[[dict[str, Any]], tuple[Any, dict[str, Any]]] | str] = {
    "floor": floor_read,
    "engine": engine_load_normalize,
    "chromatic": chromatic_read,
    # other sections' measurements, imported only when asked for
    "figures": "benchmarks.figures:measure_figures",
    "video": "benchmarks.exports:measure_video",
    "package": "benchmarks.exports:measure_package",
    "server_cache": "benchmarks.server:measure_cache",
    "server_display": "benchmarks.server:measure_display",
    "server_job_start": "benchmarks.server:measure_job_start",
    "server_zip": "benchmarks.server:measure_zip",
    "server_scale": "benchmarks.server:measure_scale",
}


def _task(name: str) -> Callable[[dict[str, Any]], tuple[Any, dict[str, Any]]]:
    task = TASKS[name]
    if isinstance(task, str):
        import importlib

        module, function = task.split(":")
        task = getattr(importlib.import_module(module), function)
    return task

# -------------------------------------------------------------------- modes


def measure_time(task, params) -> dict[str, Any]:
    repeats = int(params.get("repeats", 3))
    budget = float(params.get("budget_s", 120.0))
    t0 = time.perf_counter()
    kept, info = task(params)  # warm-up
    warmup = time.perf_counter() - t0
    del kept
    gc.collect()
    if warmup * repeats > budget:
        repeats = 1  # a slow peer: one timed run after the warm-up is enough to compare
    times = []
    best_info = info
    for _ in range(repeats):
        t0 = time.perf_counter()
        kept, info = task(params)
        times.append(time.perf_counter() - t0)
        if times[-1] == min(times):
            best_info = info  # e.g. the engine's phase times of its best run
        del kept
        gc.collect()
    return {**best_info, "best_s": min(times), "times_s": times, "warmup_s": warmup}


def measure_tracemalloc(task, params) -> dict[str, Any]:
    import tracemalloc

    gc.collect()
    tracemalloc.start()
    tracemalloc.reset_peak()
    kept, info = task(params)
    current, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    del kept
    return {**info, "peak_bytes": peak, "kept_bytes": current}


def _status_bytes(field: str) -> int:
    """A ``/proc/self/status`` memory field (``VmRSS``, ``VmHWM``) in bytes."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    raise OSError(f"{field} not in /proc/self/status")


def measure_rss(task, params) -> dict[str, Any]:
    """RSS high-water of this process during one run, less the RSS before it.

    ``VmHWM`` (the high-water mark of this process's own address space) rather than
    ``ru_maxrss``: Linux carries ``ru_maxrss`` across ``exec`` from the parent's memory
    (``subprocess`` spawns through vfork), so a worker started by a big parent would
    report the parent's peak.  ``ru_maxrss`` is recorded too, for reference.
    """
    gc.collect()
    before = _status_bytes("VmRSS")
    kept, info = task(params)
    highwater = _status_bytes("VmHWM")
    ru_maxrss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    del kept
    return {**info, "rss_before_bytes": before, "rss_highwater_bytes": highwater,
            "rss_growth_bytes": highwater - before, "ru_maxrss_bytes": ru_maxrss}


def measure_once(task, params) -> dict[str, Any]:
    """One run; the task times what matters itself and returns it in its info dict."""
    kept, info = task(params)
    del kept
    return info


MODES = {"time": measure_time, "tracemalloc": measure_tracemalloc, "rss": measure_rss, "once": measure_once}


def main(argv: list[str]) -> int:
    task_name, mode, raw = argv[1], argv[2], argv[3]
    params = json.loads(raw)
    try:
        if task_name in ("floor", "engine"):
            # imports before the clock starts, for every mode
            import numpy  # noqa: F401
            from astropy.io import fits  # noqa: F401
        if task_name == "chromatic":
            import chromatic  # noqa: F401  (seconds of imports: not part of reading a file)
        if task_name == "engine":
            import stamp_engine

            stamp_engine.load, stamp_engine.normalize  # resolve the lazy exports
            from stamp_engine.io import registry

            registry.readers()  # the format readers (h5py …), imported by the first load otherwise
        answer = MODES[mode](_task(task_name), params)
    except Exception as exc:  # reported as a result: a peer failing on a layout is a finding
        where = traceback.extract_tb(exc.__traceback__)[-1]
        answer = {"error": f"{type(exc).__name__}: {exc}".strip().rstrip(":")[:600]
                  + f" (raised at {Path(where.filename).name}:{where.lineno} `{where.line}`)",
                  "traceback_tail": traceback.format_exc().strip().splitlines()[-8:]}
    print(json.dumps(answer, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
