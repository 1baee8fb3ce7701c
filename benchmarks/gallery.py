"""A gallery to LOOK at: screenshots of every view for the demo and every real file.

    python -m benchmarks.gallery OUTDIR [--data tests/data/real] [--no-demo]

Writes ``OUTDIR/index.html`` with one row per dataset (the bundled demo, then every
x1dints FITS and Eureka! HDF5 file under ``--data`` that loads; those that do not are
listed with the reason) and one PNG per view. Each view is drawn from the engine's
figures in a small page of its own (plotly.js and ``stamp_engine/web/stamp_bands.js`` next to it,
no network) in headless Chromium with software WebGL, as the dashboard and the exported
pages draw them; band-highlighted views are highlighted with the same script, and the
linked exploration panels are filled by the dashboard's own ``assets/stamp_explore.js``
through the middle row and column of the display cube.

The science views are the dashboard's science panels (:mod:`dashboard.features.science`,
its default channels): stacked spectroscopic light curves, the transit spectrum and the
variability (periodograms, amplitude spectrum).  The transit spectrum's windows are found
from the white light (:func:`transit_windows`); a file without one clear transit with
baseline on both sides gets the reason instead of a picture.  A view that cannot be made
for a dataset shows its reason in ``index.html``; the other views still render.

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
    """One screenshot per dataset: ``build(dataset) -> figure``; ``highlight`` picks the band first.

    ``explore`` ("spectrum" / "light-curve"): ``build`` returns :class:`ExplorePanels`, and the
    page draws that panel as the dashboard does after a click on the map's middle cell.
    """

    name: str
    title: str
    build: Callable[[Dataset], Any]
    highlight: bool = False
    is_3d: bool = False
    explore: str | None = None


@dataclass(frozen=True)
class ExplorePanels:
    """What ``stampExplore.draw`` needs: the payload, both empty panels and the clicked point."""

    payload: dict
    spectrum: Any
    light_curve: Any
    row: int
    column: int


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
    return figures.light_curve_figure(d.cube.light_curves(inside))


def _spectrum(d: Dataset):
    from stamp_engine import figures

    shown = figures.display_cube(d.cube)
    return figures.spectrum_figure(shown, shown.n_integrations // 2)


def _explore(d: Dataset) -> ExplorePanels:
    from stamp_engine import figures
    from stamp_engine.explore_figures import explore_payload, point_light_curve_figure, point_spectrum_figure

    shown = figures.display_cube(d.cube)
    return ExplorePanels(explore_payload(shown), point_spectrum_figure(shown), point_light_curve_figure(shown),
                         row=shown.n_integrations // 2, column=shown.n_wavelengths // 2)


# the science panels' defaults (dashboard/features/science.py layouts)
CHANNELS = ("n", 10)
DEPTH_CHANNELS = {"R": 30.0}
AMPLITUDE_CHANNELS = ("R", 30)
#: The in-transit window: the lowest fifth of the smoothed white light.
TRANSIT_LOW_FRACTION = 0.2
#: Fewer integrations than this cannot show a transit with baseline on both sides.
TRANSIT_MIN_INTEGRATIONS = 10
#: The white-light dip must be this many times its own error to be called a transit.
TRANSIT_MIN_SIGNIFICANCE = 5.0


@dataclass(frozen=True)
class TransitWindows:
    """Windows (hours since t0) of a transit found in the white light, and its white-light depth."""

    in_transit: tuple[float, float]
    baseline: tuple[tuple[float, float], ...]
    depth: float  # white-light 1 − F_in/F_out
    significance: float  # depth / the noise of the smoothed white light


def _runs(rows: np.ndarray, breaks: np.ndarray) -> list[np.ndarray]:
    """Consecutive runs of ``rows`` (sorted indices), split also where ``breaks[i]`` (a gap after row i)."""
    if rows.size == 0:
        return []
    split = np.flatnonzero((np.diff(rows) != 1) | breaks[rows[:-1]]) + 1
    return np.split(rows, split)


def transit_windows(cube) -> TransitWindows:
    """In-transit and baseline windows of the cube's white light, for a transit spectrum.

    The white light (relative flux) is median-smoothed over ~1/15 of the integrations;
    in transit runs from the first to the last integration of its lowest
    :data:`TRANSIT_LOW_FRACTION`, which must all lie in one stretch below half the dip; the
    baseline is every integration within a tenth of the depth of the out-of-transit level
    (so ingress and egress are in neither).

    Raises
    ------
    ValueError
        The data cannot show one transit: too few integrations, the low part in several
        stretches (variability or noise) or at an end of the data (a trend or a partial
        transit), no baseline on one side, or a dip below :data:`TRANSIT_MIN_SIGNIFICANCE` σ.
    """
    from scipy.ndimage import median_filter

    from stamp_engine.channels import relative_flux
    from stamp_engine.timeaxis import time_gaps

    white = cube.white_light()
    flux, error = relative_flux(white.value, white.error, white.unit)
    hours = np.asarray(white.hours, dtype=float)
    good = np.flatnonzero(np.isfinite(flux) & np.isfinite(hours))
    if good.size < TRANSIT_MIN_INTEGRATIONS:
        raise ValueError(f"{good.size} integration(s) with a white light: too few to find a transit "
                         f"(at least {TRANSIT_MIN_INTEGRATIONS})")
    size = max(3, 2 * (good.size // 30) + 1)
    smooth = median_filter(flux[good], size=size, mode="nearest")
    bottom_cut = np.quantile(smooth, TRANSIT_LOW_FRACTION)
    low = smooth <= bottom_cut
    top = float(np.median(flux[good][smooth >= np.quantile(smooth, 1 - TRANSIT_LOW_FRACTION)]))
    bottom = float(np.median(flux[good][low]))
    depth = 1.0 - bottom / top
    breaks = time_gaps(hours[good], np.asarray(white.visit)[good])
    # one dip: every low row in one stretch below half depth (noise on a flat bottom may scatter
    # the lowest rows inside it; troughs of variability or noise are separate stretches)
    dips = [r for r in _runs(np.flatnonzero(smooth < 0.5 * (top + bottom)), breaks) if low[r].any()]
    share = f"the lowest {100 * TRANSIT_LOW_FRACTION:g} % of the smoothed white light"
    if len(dips) != 1:
        raise ValueError(f"{share} falls in {len(dips)} separate stretches (variability or noise): "
                         "no single transit to take windows from")
    lowest = np.flatnonzero(low)
    run = np.arange(lowest[0], lowest[-1] + 1)
    baseline = np.flatnonzero(smooth >= bottom + 0.9 * (top - bottom))
    before, after = baseline[baseline < run[0]], baseline[baseline > run[-1]]
    if not before.size or not after.size:
        side = "before" if not before.size else "after"
        raise ValueError(f"{share} has no baseline {side} it (a trend or a partial transit, "
                         f"{hours[good][run[0]]:.3g}–{hours[good][run[-1]]:.3g} h of "
                         f"{hours[good][0]:.3g}–{hours[good][-1]:.3g} h)")
    # the dip is judged against the noise of the smoothed curve it was found in (point-to-point
    # scatter / √(median window), × 1.25 for a median), not of a mean over the window: the extremes
    # of pure noise always differ by many σ of a mean
    step = np.diff(flux[good])
    scatter = 1.4826 * np.median(np.abs(step - np.median(step))) / np.sqrt(2)
    sigma = 1.25 * scatter / np.sqrt(size) / top
    significance = depth / sigma if sigma > 0 else np.inf
    if not significance >= TRANSIT_MIN_SIGNIFICANCE:
        raise ValueError(f"the white-light dip ({1e6 * depth:.0f} ppm) is {significance:.1f} σ of the smoothed white light's noise: "
                         f"no clear transit (at least {TRANSIT_MIN_SIGNIFICANCE:g} σ)")
    h = hours[good]
    return TransitWindows(
        in_transit=(float(h[run[0]]), float(h[run[-1]])),
        baseline=tuple((float(h[r[0]]), float(h[r[-1]])) for r in _runs(baseline, breaks)),
        depth=float(depth), significance=float(significance),
    )


def _channels(d: Dataset):
    from dashboard.features.science import channels_view

    return channels_view(d.cube, *CHANNELS, None, False, None)[0]


def _depth(d: Dataset):
    from dashboard.features.science import DepthRequest, depth_view

    found = transit_windows(d.cube)
    request = DepthRequest(dict(DEPTH_CHANNELS), "transit", "ppm", found.in_transit, found.baseline)
    return depth_view(d.cube, request, list(d.bands))[0]


def _periodogram(d: Dataset):
    from dashboard.features.science import variability_view

    return variability_view(d.cube, list(d.bands), *AMPLITUDE_CHANNELS, None)[0]


def _amplitude(d: Dataset):
    from dashboard.features.science import variability_view

    return variability_view(d.cube, list(d.bands), *AMPLITUDE_CHANNELS, None)[1]


VIEWS: list[View] = [
    View("heatmap", "Heatmap", _heatmap),
    View("heatmap_band", "Heatmap, band highlighted", _heatmap, highlight=True),
    View("surface", "3D surface", _surface, is_3d=True),
    View("surface_band", "3D surface, band highlighted", _surface, highlight=True, is_3d=True),
    View("lightcurves", "Light curves, band highlighted", _light_curves, highlight=True),
    View("spectrum", "Spectrum (middle integration), band shaded", _spectrum, highlight=True),
    View("explore_spectrum", "Linked panel: spectrum at the middle time, crosshair", _explore, highlight=True,
         explore="spectrum"),
    View("explore_lightcurve", "Linked panel: light curve at the middle wavelength, crosshair, band curve", _explore,
         highlight=True, explore="light-curve"),
    View("channels", f"Spectroscopic light curves ({CHANNELS[1]} channels)", _channels),
    View("depth", "Transit spectrum (R = 30, windows from the white light)", _depth),
    View("periodogram", "Lomb–Scargle periodograms (white light, bands)", _periodogram),
    View("amplitude", "Amplitude spectrum at the white-light peak (R = 30)", _amplitude),
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
<script src="plotly.min.js"></script><script src="stamp_bands.js"></script><script src="stamp_dashboard.js"></script><script src="stamp_explore.js"></script>
<style>body {{ margin: 0; background: #fff; }} #plot {{ width: {width}px; height: {height}px; }}</style>
</head><body><div id="plot"></div>
<script type="application/json" id="figure">{figure}</script>
<script type="application/json" id="explore">{explore}</script>
<script>
  var fig = JSON.parse(document.getElementById("figure").textContent);
  var highlight = {highlight};
  var explore = JSON.parse(document.getElementById("explore").textContent);
  new Promise(function (resolve) {{
    if (explore) {{  // the dashboard's click handler, as after a click on the map at explore.point
      var drawn = window.dash_clientside.stampExplore.draw(explore.point, highlight && highlight.band,
          explore.payload, highlight && highlight.bands, explore.spectrum, explore.light_curve);
      fig = drawn[explore.panel === "spectrum" ? 0 : 1];
      highlight = null;  // draw() applied the band
    }}
    resolve(Plotly.newPlot("plot", fig.data, fig.layout, {{displayModeBar: false}}));
  }}).then(function (gd) {{
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


def _explore_json(panels: ExplorePanels, panel: str) -> str:
    return json.dumps({"panel": panel, "payload": panels.payload, "point": {"row": panels.row, "column": panels.column},
                       "spectrum": json.loads(panels.spectrum.to_json()),
                       "light_curve": json.loads(panels.light_curve.to_json())})


def _shoot(driver, work: Path, fig, highlight: dict | None, out: Path, settle_s: float,
           explore: str | None = None) -> float:
    """Draw ``fig`` in a page of its own, screenshot it to ``out``; seconds to draw.

    With ``explore`` ("spectrum" / "light-curve"), ``fig`` is :class:`ExplorePanels` and
    that panel is drawn by ``stampExplore.draw`` through its point.
    """
    from stamp_engine.export.serialize import script_json

    page = work / "view.html"
    if explore:
        explore_json, figure_json = script_json(_explore_json(fig, explore)), "null"
    else:
        explore_json, figure_json = "null", script_json(fig.to_json())
    page.write_text(_PAGE.format(width=WINDOW[0], height=WINDOW[1], figure=figure_json, explore=explore_json,
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
    shutil.copy(REPO / "assets" / "stamp_explore.js", work / "stamp_explore.js")
    # stamp_explore.js draws the ±1σ band with stamp_dashboard.js's stampBandPolygons
    shutil.copy(REPO / "assets" / "stamp_dashboard.js", work / "stamp_dashboard.js")
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
                    seconds = _shoot(driver, work, fig, highlight, outdir / png, 2.0 if view.is_3d else 0.3,
                                     explore=view.explore)
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
