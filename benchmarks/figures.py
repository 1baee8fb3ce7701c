"""Section "figures": bytes of every figure sent to the browser, and time to plots.

1. **Figure bytes** — the 10,000 × 2,040 new-layout dataset of the ingest section is loaded
   and normalized, reduced with ``stamp_engine.figures.display_cube`` (its defaults), and
   every view is built: 3-D surface, heatmap (both with the near-IR molecular band preset),
   light curves (white light + each band), spectrum (middle integration).  Each figure's
   size is the length of the JSON Dash sends (``plotly.io.to_json``), and, when the
   figures module offers it, ``figure_nbytes``.  Target: ≤ 5 MB (5,000,000 bytes) each.
2. **Click to plots** — the dashboard (``dashboard.app.create_app``) is started in a
   subprocess on a free loopback port with ``STAMP_DATA_DIR`` pointing at the dataset;
   headless Chromium opens it, picks the files in the server data-folder picker, clicks
   "process", and the time until the surface and heatmap graphs hold their plots is
   measured — for the shipped demo and for the big dataset.
"""

from __future__ import annotations

import importlib.util
import json
import time
from typing import Any

from . import datasets
from .common import SectionNotRun, SectionResult, Target, heading, print_table, run_worker

FIGURE_LIMIT_BYTES = 5_000_000


def run(quick: bool, browser: bool = True, regenerate: bool = False) -> SectionResult:
    result = SectionResult("figures", quick)
    heading("Figures: bytes sent to the browser per figure, time from 'process' to drawn plots")
    spec = datasets.ingest_specs(quick)[0]
    data = None
    missing = [m for m in ("stamp_engine.synthetic.x1dints", "stamp_engine.figures")
               if importlib.util.find_spec(m) is None]
    if missing:
        result.not_run["figure bytes"] = f"not there yet: {', '.join(missing)}"
    else:
        try:
            data = datasets.ensure(spec, regenerate=regenerate)
            _figure_bytes(data, result)
        except SectionNotRun as exc:
            result.not_run["figure bytes"] = str(exc)
        except Exception as exc:  # noqa: BLE001 - reported, other subsections go on
            result.not_run["figure bytes"] = f"{type(exc).__name__}: {exc}"

    if not browser:
        result.not_run["click to plots"] = "skipped (--no-browser)"
    else:
        from . import browser as browser_timing

        try:
            browser_timing.run(result, data, spec, quick)
        except SectionNotRun as exc:
            result.not_run["click to plots"] = str(exc)
    result.print_verdicts()
    return result


def _figure_bytes(data: datasets.Dataset, result: SectionResult) -> None:
    print()
    print(f"Figure bytes for {data.spec.label} after figures.display_cube (target ≤ 5 MB each)")
    answer = run_worker("figures", {"paths": data.path_strings}, "once", timeout=1800)
    result.measurements["figure_bytes"] = answer
    rows = []
    for name, fig in answer["figures"].items():
        rows.append([name, f"{fig['json_bytes'] / 1e6:.2f}", None if fig.get("nbytes") is None else f"{fig['nbytes'] / 1e6:.2f}",
                     fig["traces"], fig["points"], "yes" if fig["typed_arrays"] else "no", f"{fig['build_s']:.2f}"])
        result.targets.append(Target(f"{name} figure JSON", fig["json_bytes"] / 1e6, FIGURE_LIMIT_BYTES / 1e6, "<=", " MB"))
    print(f"  cube {answer['cube_shape']} → display cube {answer['display_shape']} "
          f"(display_cube {answer['display_s']:.2f} s; load+normalize {answer['load_s']:.1f} s)")
    print_table(["figure", "JSON MB", "figure_nbytes MB", "traces", "values", "typed arrays", "build s"], rows)


# ------------------------------------------------------------------ worker side


def measure_figures(params: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
    """Build every view of the dataset and measure what each weighs (runs in a worker)."""
    import numpy as np
    import plotly.io as pio

    import stamp_engine
    from stamp_engine import figures as stamp_figures
    from stamp_engine.bands import PRESETS, usable_bands
    from stamp_engine.steps import band_light_curve, white_light_curve

    t0 = time.perf_counter()
    cube = stamp_engine.normalize(stamp_engine.load(params["paths"]))
    t1 = time.perf_counter()
    display = stamp_figures.display_cube(cube)
    t2 = time.perf_counter()
    bands = usable_bands(cube, PRESETS["Molecules (near-IR)"])

    builders = {
        "surface": lambda: stamp_figures.surface_figure(display, bands=bands),
        "heatmap": lambda: stamp_figures.heatmap_figure(display, bands=bands),
        "light curves": lambda: stamp_figures.light_curve_figure(
            [white_light_curve(cube)] + [band_light_curve(cube, band) for band in bands]),
        "spectrum": lambda: stamp_figures.spectrum_figure(cube, cube.n_integrations // 2),
    }
    nbytes = getattr(stamp_figures, "figure_nbytes", None)
    figures: dict[str, Any] = {}
    for name, build in builders.items():
        start = time.perf_counter()
        fig = build()
        built = time.perf_counter() - start
        text = pio.to_json(fig, validate=False)
        data = json.loads(text)["data"]  # what the browser receives
        figures[name] = {
            "json_bytes": len(text.encode()),
            "nbytes": int(nbytes(fig)) if nbytes else None,
            "traces": len(data),
            "points": int(sum(_count_values(trace) for trace in data)),
            "typed_arrays": '"bdata"' in text,
            "build_s": built,
        }
    info = {
        "cube_shape": list(cube.shape),
        "display_shape": list(display.shape),
        "bands": [b.name for b in bands],
        "load_s": t1 - t0,
        "display_s": t2 - t1,
        "figures": figures,
    }
    del np
    return None, info


def _count_values(trace: dict) -> int:
    """Plotted values in a trace (z for surfaces/heatmaps, else y)."""
    import base64

    import numpy as np

    for key in ("z", "y"):
        value = trace.get(key)
        if value is None:
            continue
        if isinstance(value, dict) and "bdata" in value:  # plotly typed array
            return len(base64.b64decode(value["bdata"])) // np.dtype(value.get("dtype", "f8")).itemsize
        try:
            return int(np.asarray(value, dtype=object).size)
        except Exception:  # noqa: BLE001
            return 0
    return 0
