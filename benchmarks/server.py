"""Section "server": the dashboard server's own stages, each in a fresh process.

* **cube cache** — a 10,000 × 2,040 cube written to and reopened from the cube cache as
  memory-mapped ``.npy`` entries (:class:`dashboard.cache.CubeCache`) against the pickled
  diskcache entry it replaced; and remaking the processed cube (``process``) against
  writing it (why only its recipe is stored);
* **display reduction** — :func:`stamp_engine.figures.display_cube` of a processed
  10,000 × 2,040 cube to the dashboard's default ``STAMP_DISPLAY_MAX_*`` (best of 3);
* **job start** — the dashboard (``create_app``, diskcache background manager) is asked
  to process the demo over its HTTP protocol (Flask test client); time from the request
  until the first progress report the page can read, polled every 5 ms, plus the page's
  own progress poll interval (the browser sees the report at its next poll);
* **ZIP members** — expanding a ZIP of the 1,000 × 2,040 segment files against copying
  the same bytes (the floor of any extraction); the same files deflated: inflating every
  member (CPU time) with ISA-L (:func:`~stamp_engine.io.containers.copy_member`) against zipfile's
  reader, and reading them all (``read_files``) with members copied ahead in threads
  against one after the other;
* **scale** — load + process + display reduction of new-layout datasets of 1k, 10k, 30k
  and (unless ``--quick`` or ``--no-scale-100k``) 100k × 2,048: wall time and peak RSS
  (``VmHWM`` growth), and whether both grow linearly with the integrations; files read cold.
"""

from __future__ import annotations

import math
import os
import time
from typing import Any

from . import datasets
from .common import (
    DATA_DIR,
    MB,
    SectionNotRun,
    SectionResult,
    Target,
    heading,
    print_table,
    run_worker,
)

DISPLAY_LIMIT_S = 0.5
JOB_START_LIMIT_S = 0.5
#: Per-integration time and memory of the largest scale run may exceed the smallest judged
#: one by at most this factor (linear growth; fixed costs make small runs dearer per row).
LINEAR_SLACK = 1.5
SCALE_SIZES = (1_000, 10_000, 30_000, 100_000)
SCALE_WAVELENGTHS = 2048
#: Integrations per segment file of the scale datasets (about 0.5 GB each in the new layout).
SCALE_SEGMENT = 2_000


def scale_spec(n_integrations: int) -> datasets.DatasetSpec:
    return datasets.DatasetSpec(f"scale_{n_integrations}x{SCALE_WAVELENGTHS}", "new", n_integrations,
                                SCALE_WAVELENGTHS, max(1, n_integrations // SCALE_SEGMENT), cadence_s=10.0)


def run(quick: bool, regenerate: bool = False, scale_100k: bool = True) -> SectionResult:
    result = SectionResult("server", quick)
    heading("Server: cube cache, display reduction, job start, ZIP members, scale")
    n_int = 1_000 if quick else 10_000
    for name, step in (("cube cache", _cube_cache), ("display reduction", _display),
                       ("job start", _job_start), ("ZIP members", _zip_members)):
        try:
            step(result, n_int, quick, regenerate)
        except SectionNotRun as exc:
            result.not_run[name] = str(exc)
    sizes = tuple(n // 10 for n in SCALE_SIZES[:3]) if quick else SCALE_SIZES[:3] + ((SCALE_SIZES[3],) if scale_100k else ())
    if not quick and not scale_100k:
        result.not_run["scale 100k"] = "skipped (--no-scale-100k)"
    try:
        _scale(result, sizes, quick, regenerate)
    except SectionNotRun as exc:
        result.not_run["scale"] = str(exc)
    result.print_verdicts()
    return result


# ------------------------------------------------------------------------ cube cache
def _cube_cache(result: SectionResult, n_int: int, quick: bool, regenerate: bool) -> None:
    answer = run_worker("server_cache", {"n_integrations": n_int, "n_wavelengths": 2040}, "once")
    result.measurements["cube_cache"] = answer
    print(f"\nCube cache, {n_int:,} × 2,040 ({answer['cube_bytes'] / MB:,.0f} MiB flux + error):")
    print_table(["how", "write s", "reopen s", "first full read s"], [
        ["pickled diskcache entry (before)", answer["pickle_write_s"], answer["pickle_read_s"], None],
        ["memory-mapped .npy entries (now)", answer["npy_write_s"], answer["npy_reopen_s"], answer["npy_touch_s"]],
    ])
    print(f"  processed cube: remade by process() in {answer['process_s']:.3f} s vs "
          f"{answer['processed_write_s']:.3f} s to write it (so only its recipe is stored)")
    result.targets.append(Target("cached cube reopens without copying: reopen time", answer["npy_reopen_s"], 0.05,
                                 "<=", " s"))


def measure_cache(params: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
    """Write/read one cube both ways, and time remaking vs writing the processed cube."""
    import pickle
    import tempfile
    from pathlib import Path

    import diskcache
    import numpy as np

    from dashboard.cache import CubeCache
    from stamp_engine.recipe import ProcessOptions, process
    from stamp_engine.synthetic import make_observation

    cube = make_observation(n_integrations=params["n_integrations"],
                            wavelength=np.linspace(0.6, 5.3, params["n_wavelengths"]), seed=1).to_cube()
    info: dict[str, Any] = {"cube_bytes": cube.nbytes}
    with tempfile.TemporaryDirectory(prefix="stamp-bench-cache-") as folder:
        old = diskcache.Cache(str(Path(folder) / "pickled"))
        _timed(info, "pickle_write_s", old.set, "loaded-x", cube)
        _timed(info, "pickle_read_s", old.get, "loaded-x")
        old.close()

        new = CubeCache(Path(folder) / "npy", size_limit=2**40)
        _timed(info, "npy_write_s", new.set, "loaded-x", cube)
        mapped = _timed(info, "npy_reopen_s", new.get, "loaded-x")
        _timed(info, "npy_touch_s", lambda: float(np.nansum(mapped.flux)) + float(np.nansum(mapped.error)))
        info["pickle_bytes"] = len(pickle.dumps(cube, protocol=pickle.HIGHEST_PROTOCOL))

        processed = _timed(info, "process_s", process, mapped, ProcessOptions())
        _timed(info, "processed_write_s", new.set, "processed-x", processed)
        new.disk.close()
    return None, info


def _timed(info: dict[str, Any], name: str, function, *args):
    """``function(*args)``, its wall time stored as ``info[name]``."""
    t0 = time.perf_counter()
    value = function(*args)
    info[name] = time.perf_counter() - t0
    return value


# ------------------------------------------------------------------ display reduction
def _display(result: SectionResult, n_int: int, quick: bool, regenerate: bool) -> None:
    answer = run_worker("server_display", {"n_integrations": n_int, "n_wavelengths": 2040}, "once")
    result.measurements["display_reduction"] = answer
    print(f"\nDisplay reduction of a processed {n_int:,} × 2,040 cube to {answer['limits']}: "
          f"best {answer['best_s']:.3f} s of {', '.join(f'{t:.3f}' for t in answer['times_s'])} → {answer['shape']}")
    result.targets.append(Target(f"display reduction, {n_int:,} × 2,040", answer["best_s"], DISPLAY_LIMIT_S, "<=", " s",
                                 report_only="--quick: 1/10 of the integrations" if quick else None))


def measure_display(params: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
    import numpy as np

    from dashboard.server.config import Config
    from stamp_engine.figures import display_cube
    from stamp_engine.recipe import ProcessOptions, process
    from stamp_engine.synthetic import make_observation

    cube = make_observation(n_integrations=params["n_integrations"],
                            wavelength=np.linspace(0.6, 5.3, params["n_wavelengths"]), seed=1,
                            nan_columns=(0, 1)).to_cube()
    processed = process(cube, ProcessOptions())
    limits = Config().display_limits
    times = []
    for _ in range(4):  # the first one warms imports and allocator
        t0 = time.perf_counter()
        shown = display_cube(processed, **limits)
        times.append(time.perf_counter() - t0)
    return None, {"best_s": min(times[1:]), "times_s": times[1:], "shape": list(shown.shape), "limits": limits}


# ---------------------------------------------------------------------------- job start
def _job_start(result: SectionResult, n_int: int, quick: bool, regenerate: bool) -> None:
    answer = run_worker("server_job_start", {"repeats": 2 if quick else 4}, "once", timeout=600)
    result.measurements["job_start"] = answer
    poll = answer["page_poll_s"]
    print(f"\nJob start on the diskcache path (demo, fresh cache; the server was ready for jobs "
          f"{answer['server_ready_s']:.1f} s after it started): first progress readable after "
          f"{', '.join(f'{t:.3f}' for t in answer['first_progress_s'])} s; first loader report after "
          f"{', '.join(f'{t:.3f}' for t in answer['first_work_s'])} s; the page polls every {poll:.2f} s")
    # the page reads progress at its polls: a report ready at t shows at the first poll after t
    shown = max(math.ceil(t / poll) * poll for t in answer["first_progress_s"])
    result.measurements["job_start"]["shown_s"] = shown
    result.targets.append(Target("job start: click → progress shown on the page (worst run, page polls included)",
                                 shown, JOB_START_LIMIT_S, "<=", " s"))


def measure_job_start(params: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
    import tempfile
    from pathlib import Path

    from dashboard import ids
    from dashboard.app import create_app
    from dashboard.features import job
    from dashboard.server.config import Config
    from tests.helpers.dashboard_client import DashClient, flask_transport

    first_progress, first_work, done_s = [], [], []
    with tempfile.TemporaryDirectory(prefix="stamp-bench-jobs-") as folder:
        started = time.perf_counter()
        app = create_app(Config(cache_dir=Path(folder) / "cache"))
        client = DashClient(flask_transport(app.server.test_client()))
        # A page takes a moment to open after the server starts; wait here until the jobs'
        # fork server has its imports (a no-op job), and report how long that took.
        from multiprocess import get_context

        probe = get_context("forkserver").Process(target=int)
        probe.start()
        probe.join()
        warm_s = time.perf_counter() - started
        session = client.store(ids.SESSION)
        for repeat in range(int(params["repeats"])):
            values = {f"{ids.DATASET}.data": {"kind": "demo"}, f"{ids.SESSION}.data": session,
                      f"{ids.PROCESS}.n_clicks": repeat + 1, "bin-time.value": repeat + 2}
            t0 = time.perf_counter()
            body, status, data = client.submit(f"{ids.RESULT}.data", values)
            handles = {"cacheKey": data["cacheKey"], "job": data["job"]}
            seen_progress = seen_work = None
            while True:
                status, data = client.transport("POST", "_dash-update-component", body, handles)
                now = time.perf_counter() - t0
                text = str((data or {}).get("progress", ""))
                if data and "progress" in data and seen_progress is None:
                    seen_progress = now
                if seen_work is None and data and "progress" in data and "Starting" not in text:
                    seen_work = now
                if status == 204 or (data and "response" in data) or now > 120:
                    break
                time.sleep(0.005)
            first_progress.append(seen_progress if seen_progress is not None else now)
            first_work.append(seen_work if seen_work is not None else now)
            done_s.append(now)
    return None, {"first_progress_s": first_progress, "first_work_s": first_work, "done_s": done_s,
                  "page_poll_s": job.PROGRESS_POLL_MS / 1000.0, "server_ready_s": warm_s}


# --------------------------------------------------------------------------- ZIP members
def _zip_members(result: SectionResult, n_int: int, quick: bool, regenerate: bool) -> None:
    data = datasets.ensure(datasets.ingest_specs(True)[0], regenerate=regenerate)
    answer = run_worker("server_zip", {"paths": data.path_strings}, "once", timeout=900)
    result.measurements["zip_members"] = answer
    ratio = answer["expand_s"] / answer["copy_s"]
    print(f"\nZIP members ({answer['bytes'] / MB:,.0f} MiB, stored): expand_inputs {answer['expand_s']:.3f} s, "
          f"plain copy of the same bytes {answer['copy_s']:.3f} s ({ratio:.2f}×); "
          f"RSS growth while expanding {answer['rss_growth_bytes'] / MB:,.1f} MiB")
    result.targets.append(Target("ZIP members streamed: RSS growth while expanding ÷ member bytes",
                                 answer["rss_growth_bytes"] / answer["bytes"], 0.1, "<=", "×"))
    result.targets.append(Target("ZIP members: expanding ÷ copying the same bytes", ratio, 2.0, "<=", "×",
                                 report_only="disk-bound; the member CRC check costs CPU a copy does not pay"))
    inflate = answer["inflate_isal_s"] / answer["inflate_zipfile_s"]
    ahead = answer["read_ahead_s"] / answer["read_serial_s"]
    print(f"ZIP members deflated ({answer['deflated_bytes'] / MB:,.0f} MiB → {answer['bytes'] / MB:,.0f} MiB, "
          f"{answer['files']} members, {os.cpu_count()} cores): inflating with ISA-L {answer['inflate_isal_s']:.2f} "
          f"CPU s, zipfile {answer['inflate_zipfile_s']:.2f} CPU s ({inflate:.2f}×, both writing to memory); reading them all with members copied ahead "
          f"{answer['read_ahead_s']:.2f} s, one after the other {answer['read_serial_s']:.2f} s ({ahead:.2f}×); "
          f"load {answer['loadavg']}")
    result.targets.append(Target("ZIP members deflated: inflating with ISA-L ÷ zipfile (CPU time)", inflate, 0.8,
                                 "<=", "×", report_only="both pay for writing the member into memory"))
    result.targets.append(Target("ZIP members deflated: reading with members copied ahead ÷ one by one", ahead, 0.8,
                                 "<=", "×", report_only="needs two free cores"))


def measure_zip(params: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
    import shutil
    import tempfile
    import zipfile
    from pathlib import Path

    from stamp_engine.io.containers import ArchiveLimits, expand_inputs

    from .worker import _status_bytes

    paths = [Path(p) for p in params["paths"]]
    with tempfile.TemporaryDirectory(prefix="stamp-bench-zip-") as folder:
        archive = Path(folder) / "upload.zip"
        with zipfile.ZipFile(archive, "w", zipfile.ZIP_STORED) as zipped:
            for path in paths:
                zipped.write(path, f"MAST_2026/JWST/{path.name}")
        t0 = time.perf_counter()
        for path in paths:
            shutil.copyfile(path, Path(folder) / ("copy-" + path.name))
        copy_s = time.perf_counter() - t0
        for path in paths:
            (Path(folder) / ("copy-" + path.name)).unlink()
        os.sync()
        work = Path(folder) / "work"
        work.mkdir()
        before = _status_bytes("VmRSS")
        t0 = time.perf_counter()
        files, problems = expand_inputs([archive], work, ArchiveLimits())
        expand_s = time.perf_counter() - t0
        growth = _status_bytes("VmHWM") - before
        deflated = _deflated_members(paths, Path(folder))
    return None, {"expand_s": expand_s, "copy_s": copy_s, "bytes": sum(p.stat().st_size for p in paths),
                  "files": len(files), "problems": [str(p) for p in problems], "rss_growth_bytes": growth, **deflated}


def _deflated_members(paths: list, folder) -> dict[str, Any]:
    """Inflating the members of a deflated ZIP (ISA-L against zipfile) and reading them (ahead against not)."""
    import zipfile

    from stamp_engine.io import sandbox
    from stamp_engine.io.containers import _copy_limited, copy_member, expand_inputs

    archive = folder / "deflated.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zipped:
        for path in paths:
            zipped.write(path, f"MAST_2026/JWST/{path.name}")
    items, _ = expand_inputs([archive], folder / "work-deflated", extract_members=False)

    def inflate(with_isal: bool) -> float:
        # CPU seconds: one thread inflates, so its CPU time is the cost whatever else the machine runs.
        t0 = time.process_time()
        for item in items:
            with open(os.memfd_create("member"), "w+b") as out:
                if with_isal:
                    copy_member(archive, item.member, out)
                else:
                    with zipfile.ZipFile(archive) as handle, handle.open(item.member.name) as src:
                        _copy_limited(src, out, item.member.size, what=item.member.name)
        return time.process_time() - t0

    def read(ahead: int) -> float:
        saved, sandbox.MEMBERS_AHEAD = sandbox.MEMBERS_AHEAD, ahead
        try:
            t0 = time.perf_counter()
            outcomes = sandbox.read_files(items, sandbox.ReadLimits(), folder / f"read-{ahead}")
            assert all(o.error is None for o in outcomes), [o.error for o in outcomes]
            return time.perf_counter() - t0
        finally:
            sandbox.MEMBERS_AHEAD = saved

    # Alternated, best of two each: the machine's load changes between runs.
    times = {"isal": [], "zipfile": [], "ahead": [], "serial": []}
    for _ in range(2):
        times["zipfile"].append(inflate(False))
        times["isal"].append(inflate(True))
        times["serial"].append(read(0))
        times["ahead"].append(read(sandbox.MEMBERS_AHEAD))
    with open("/proc/loadavg") as handle:
        load = " ".join(handle.read().split()[:3])
    return {"deflated_bytes": archive.stat().st_size, "inflate_isal_s": min(times["isal"]),
            "inflate_zipfile_s": min(times["zipfile"]), "read_ahead_s": min(times["ahead"]),
            "read_serial_s": min(times["serial"]), "loadavg": load}


# -------------------------------------------------------------------------------- scale
def _scale(result: SectionResult, sizes: tuple[int, ...], quick: bool, regenerate: bool) -> None:
    print(f"\nScale: load + process + display reduction, new layout × {SCALE_WAVELENGTHS}, fresh process each, "
          "files read cold (dropped from the page cache first: 100k's 27 GB cannot stay cached, 10k's would)")
    rows, measured = [], {}
    for n in sizes:
        spec = scale_spec(n)
        data = datasets.ensure(spec, regenerate=regenerate)
        _drop_from_page_cache(data.paths)
        answer = run_worker("server_scale", {"paths": data.path_strings}, "rss", timeout=3600)
        answer["cube_bytes"] = spec.cube_bytes
        measured[n] = answer
        rows.append([f"{n:,} × {SCALE_WAVELENGTHS:,}", data.bytes_on_disk / 1024**3, answer["load_s"],
                     answer["process_s"], answer["display_s"], answer["total_s"],
                     answer["rss_growth_bytes"] / MB, answer["rss_growth_bytes"] / spec.cube_bytes,
                     answer["anon_peak_bytes"] / MB])
        print(f"  … {n:,}: {answer['total_s']:.1f} s", flush=True)
    result.measurements["scale"] = measured
    print_table(["integrations × wavelengths", "GiB on disk", "load s", "process s", "display s", "total s",
                 "RSS+ MiB", "RSS/cube", "anon peak MiB"], rows)
    judged = [n for n in sizes if n >= (1_000 if quick else 10_000)]
    if len(judged) >= 2:
        small, big = judged[0], judged[-1]
        for what, field in (("time", "total_s"), ("peak RSS", "rss_growth_bytes")):
            ratio = (measured[big][field] / big) / (measured[small][field] / small)
            result.targets.append(Target(
                f"scale: {what} per integration at {big:,} ÷ at {small:,} (linear growth)", ratio, LINEAR_SLACK,
                "<=", "×", report_only="--quick sizes" if quick else None))
    biggest = max(sizes)
    result.targets.append(Target(f"scale: {biggest:,} × {SCALE_WAVELENGTHS:,} loads, processes and displays "
                                 "(peak RSS growth, GiB; machine has 24)",
                                 measured[biggest]["rss_growth_bytes"] / 1024**3, 24.0, "<=", " GiB",
                                 report_only="--quick sizes" if quick else None))


def _drop_from_page_cache(paths) -> None:
    """Written out and dropped from the page cache (``POSIX_FADV_DONTNEED``), so every size is read from
    disk alike; only these files' pages, no privilege needed, nothing else on the machine is touched."""
    for path in paths:
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)  # dirty pages (a dataset just generated) are not dropped
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        finally:
            os.close(fd)


def measure_scale(params: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
    """load → process (defaults) → display_cube, as a job does (the cube streamed into a memory map in
    a scratch folder on disk when it is ≥ 1 GiB, as the job's folder); the anonymous-memory peak sampled too."""
    import tempfile
    import threading

    import stamp_engine
    from dashboard.server.config import Config
    from stamp_engine.figures import display_cube
    from stamp_engine.recipe import ProcessOptions, process

    anon_peak = [0]
    running = [True]

    def sample() -> None:
        while running[0]:
            with open("/proc/self/status") as status:
                for line in status:
                    if line.startswith("RssAnon:"):
                        anon_peak[0] = max(anon_peak[0], int(line.split()[1]) * 1024)
            time.sleep(0.02)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="stamp-bench-scale-", dir=DATA_DIR) as scratch:
        cube = stamp_engine.load(params["paths"], cube_folder=scratch)  # files unlinked at once
    t1 = time.perf_counter()
    processed = process(cube, ProcessOptions())
    t2 = time.perf_counter()
    shown = display_cube(processed, **Config().display_limits)
    t3 = time.perf_counter()
    running[0] = False
    sampler.join()
    return (cube, processed, shown), {"load_s": t1 - t0, "process_s": t2 - t1, "display_s": t3 - t2,
                                      "total_s": t3 - t0, "shape": list(cube.shape), "anon_peak_bytes": anon_peak[0]}
