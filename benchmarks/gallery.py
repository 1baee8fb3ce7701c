"""A gallery to LOOK at: screenshots of every view for the demo and every real file.

    python -m benchmarks.gallery OUTDIR [--data tests/data/real] [--no-demo]

Writes ``OUTDIR/index.html`` with one row per dataset (the bundled demo, then every
x1dints FITS and Eureka! HDF5 file under ``--data`` that loads; those that do not are
listed with the reason) and one PNG per view. Each view is drawn from the engine's
figures in a small page of its own (plotly.js and ``stamp_engine/web/stamp_bands.js`` next to it,
no network) in headless Chromium with software WebGL, as the dashboard and the exported
pages draw them; band-highlighted views are highlighted with the same script.

Views are the :data:`VIEWS` list: to add one, append a :class:`View` whose ``build``
makes a Plotly figure from the processed cube and the dataset's bands.
"""

from __future__ import annotations

import argparse
import html
import json
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]
CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
#: 3D surfaces are drawn from a coarser grid: software WebGL takes seconds per surface.
SURFACE_GRID = {"max_time": 200, "max_wavelength": 200}
#: Plot size (CSS px); the browser window is larger so no screenshot is clipped.
WINDOW = (1240, 720)


@dataclass(frozen=True)
class Dataset:
    """A processed cube to show, its bands and the band to highlight."""

    name: str
    source: str
    cube: Any
    bands: tuple
    band: Any  # the Band highlighted in the *_band views


@dataclass(frozen=True)
class View:
    """One screenshot per dataset: ``build(dataset) -> figure``; ``highlight`` picks the band first."""

    name: str
    title: str
    build: Callable[[Dataset], Any]
    highlight: bool = False
    is_3d: bool = False


def _heatmap(d: Dataset):
    from stamp_engine import figures

    return figures.heatmap_figure(d.cube, bands=d.bands)


def _surface(d: Dataset):
    from stamp_engine import figures

    return figures.surface_figure(d.cube, bands=d.bands, **SURFACE_GRID)


def _light_curves(d: Dataset):
    from stamp_engine import figures

    lo, hi = float(d.cube.wavelength[0]), float(d.cube.wavelength[-1])
    inside = [b for b in d.bands if b.overlaps(lo, hi) and np.any(b.mask(d.cube.wavelength))]
    return figures.light_curve_figure(d.cube.light_curves(inside), time_label=d.cube.time_label)


def _spectrum(d: Dataset):
    from stamp_engine import figures

    shown = figures.display_cube(d.cube)
    return figures.spectrum_figure(shown, shown.n_integrations // 2)


VIEWS: list[View] = [
    View("heatmap", "Heatmap", _heatmap),
    View("heatmap_band", "Heatmap, band highlighted", _heatmap, highlight=True),
    View("surface", "3D surface", _surface, is_3d=True),
    View("surface_band", "3D surface, band highlighted", _surface, highlight=True, is_3d=True),
    View("lightcurves", "Light curves, band highlighted", _light_curves, highlight=True),
    View("spectrum", "Spectrum (middle integration), band shaded", _spectrum, highlight=True),
]


# ------------------------------------------------------------------------ datasets
def _bands_for(cube) -> tuple:
    """The preset with the most bands holding samples of this cube (what a user would pick)."""
    from stamp_engine.bands import PRESETS

    def usable(bands):
        return [b for b in bands if np.any(b.mask(cube.wavelength))]

    name = max(PRESETS, key=lambda n: len(usable(PRESETS[n])))
    return tuple(usable(PRESETS[name]))


def _dataset(name: str, source: str, cube) -> Dataset:
    from stamp_engine.bands import Band
    from stamp_engine.recipe import ProcessOptions, process

    processed = process(cube, ProcessOptions())
    bands = _bands_for(processed)
    if not bands:  # no preset band in range: a band over the middle fifth of the data
        lo, hi = float(processed.wavelength[0]), float(processed.wavelength[-1])
        half = max(0.1 * (hi - lo), 1e-3)  # a single-wavelength cube still gets a band around it
        bands = (Band("middle", 0.5 * (lo + hi) - half, 0.5 * (lo + hi) + half),)
    band = bands[len(bands) // 2]
    return Dataset(name, source, processed, bands, band)


def find_files(data: Path) -> list[Path]:
    """Every x1dints FITS and Eureka! HDF5 file under ``data``."""
    return sorted([*data.rglob("*x1dints*.fits"), *data.rglob("*.h5")])


def load_datasets(data: Path | None, demo: bool) -> tuple[list[Dataset], list[tuple[str, str]]]:
    """(datasets that loaded, (file, reason) for those that did not)."""
    import stamp_engine

    loaded, failed = [], []
    if demo:
        from dashboard.server.config import SHIPPED_DEMO

        loaded.append(_dataset("demo", str(SHIPPED_DEMO), stamp_engine.load([SHIPPED_DEMO])))
    for path in find_files(data) if data else []:
        label = str(path.relative_to(data))
        try:
            loaded.append(_dataset(label, str(path), stamp_engine.load([path])))
        except Exception as exc:  # a file that does not load is listed with its reason
            failed.append((label, f"{type(exc).__name__}: {exc}"))
    return loaded, failed


# ------------------------------------------------------------------------ drawing
_PAGE = """<!DOCTYPE html><html><head><meta charset="utf-8">
<script src="plotly.min.js"></script><script src="stamp_bands.js"></script>
<style>body {{ margin: 0; background: #fff; }} #plot {{ width: {width}px; height: {height}px; }}</style>
</head><body><div id="plot"></div>
<script type="application/json" id="figure">{figure}</script>
<script>
  var fig = JSON.parse(document.getElementById("figure").textContent);
  var highlight = {highlight};
  Plotly.newPlot("plot", fig.data, fig.layout, {{displayModeBar: false}}).then(function (gd) {{
    return highlight ? stampHighlightDiv(gd, highlight.band, highlight.bands) : gd;
  }}).then(function () {{ window.DRAWN = true; }}, function (e) {{ window.DRAWN = "error: " + e; }});
</script></body></html>"""


def _driver():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--disable-background-networking", "--no-first-run", f"--window-size={WINDOW[0] + 60},{WINDOW[1] + 240}",
                "--proxy-server=127.0.0.1:9", "--proxy-bypass-list=<-loopback>"):
        options.add_argument(arg)
    return webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)


def _shoot(driver, work: Path, fig, highlight: dict | None, out: Path, settle_s: float) -> float:
    """Draw ``fig`` in a page of its own, screenshot it to ``out``; seconds to draw."""
    from stamp_engine.export.serialize import script_json

    page = work / "view.html"
    page.write_text(_PAGE.format(width=WINDOW[0], height=WINDOW[1], figure=script_json(fig.to_json()),
                                 highlight=json.dumps(highlight)), encoding="utf-8")
    start = time.monotonic()
    driver.get(page.as_uri())
    while True:
        state = driver.execute_script("return window.DRAWN || null")
        if state:
            break
        if time.monotonic() - start > 180:
            state = "error: not drawn in 180 s"
            break
        time.sleep(0.1)
    time.sleep(settle_s)  # WebGL paints on the next frames
    elapsed = time.monotonic() - start
    if state is not True:
        raise RuntimeError(state)
    driver.find_element("id", "plot").screenshot(str(out))
    return elapsed


def render(datasets: Sequence[Dataset], failed: Sequence[tuple[str, str]], outdir: Path,
           views: Sequence[View] = VIEWS, log=print) -> Path:
    """Screenshots of every view of every dataset, and ``outdir/index.html``."""
    import plotly

    outdir.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="stamp-gallery-"))
    shutil.copy(Path(plotly.__file__).parent / "package_data" / "plotly.min.js", work / "plotly.min.js")
    shutil.copy(REPO / "stamp_engine" / "web" / "stamp_bands.js", work / "stamp_bands.js")
    rows = []
    driver = _driver()
    try:
        for i, d in enumerate(datasets):
            cells = []
            ranges = [{"name": b.name, "start": b.start, "end": b.end} for b in d.bands]
            for view in views:
                png = f"{i:02d}_{view.name}.png"
                try:
                    fig = view.build(d)
                    highlight = {"band": d.band.name, "bands": ranges} if view.highlight else None
                    seconds = _shoot(driver, work, fig, highlight, outdir / png, 2.0 if view.is_3d else 0.3)
                    cells.append(f'<td><a href="{png}"><img src="{png}" loading="lazy"></a>'
                                 f'<div>{html.escape(view.title)} · {seconds:.1f} s</div></td>')
                    log(f"{d.name}: {view.name} {seconds:.1f} s")
                except Exception as exc:
                    cells.append(f"<td class=err>{html.escape(view.title)}: {html.escape(str(exc))}</td>")
                    log(f"{d.name}: {view.name} FAILED {exc}")
            cube = d.cube
            about = (f"{cube.target} · {cube.n_integrations} integrations × {cube.n_wavelengths} wavelengths "
                     f"({cube.wavelength[0]:.3f}–{cube.wavelength[-1]:.3f} µm), {cube.n_visits} visit(s) · "
                     f"highlighted band: {d.band.name} ({d.band.start:g}–{d.band.end:g} µm)")
            rows.append(f"<h2>{html.escape(d.name)}</h2><p>{html.escape(about)}</p><table><tr>{''.join(cells)}</tr></table>")
    finally:
        driver.quit()
        shutil.rmtree(work, ignore_errors=True)
    not_loaded = "".join(f"<li><b>{html.escape(n)}</b>: {html.escape(r)}</li>" for n, r in failed)
    index = outdir / "index.html"
    index.write_text(
        "<!DOCTYPE html><html><head><meta charset='utf-8'><title>STAMP gallery</title><style>"
        "body{font-family:system-ui,sans-serif;margin:1rem} td{vertical-align:top;font-size:.8rem}"
        "img{width:420px;border:1px solid #ddd} .err{color:#b00;max-width:420px}</style></head><body>"
        f"<h1>STAMP gallery</h1><p>Every view of every dataset, drawn in headless Chromium.</p>{''.join(rows)}"
        + (f"<h2>Files that did not load</h2><ul>{not_loaded}</ul>" if failed else "")
        + "</body></html>",
        encoding="utf-8",
    )
    return index


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.gallery", description=__doc__.split("\n\n")[0])
    parser.add_argument("outdir", type=Path)
    parser.add_argument("--data", type=Path, default=REPO / "tests" / "data" / "real",
                        help="folder searched for x1dints FITS and Eureka! HDF5 files (default: %(default)s)")
    parser.add_argument("--no-demo", action="store_true", help="leave out the bundled demo")
    args = parser.parse_args(argv)
    datasets, failed = load_datasets(args.data, demo=not args.no_demo)
    for name, reason in failed:
        print(f"{name}: did not load: {reason}", file=sys.stderr)
    index = render(datasets, failed, args.outdir)
    print(f"wrote {index}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
