"""Pixel measures of band highlighting, shared by the exported-HTML and dashboard browser tests.

A highlighted band must be SEEN: outside it the heatmap and the surface are flat light
grey (the original STAMP's grey at 35 % over white, ≈ rgb(222,222,222)), inside it the
colours stay; and a heatmap shows no pale hairline where bands meet.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tests.helpers import pixels

#: Grey of out-of-band regions: rgb(160,160,160) at 35 % opacity over white.
OVERLAY_GREY = 222.0

_PLOT_AREA = """
var gd = arguments[0].closest('.js-plotly-plot') || arguments[0];
var r = gd.getBoundingClientRect(), s = gd._fullLayout._size;
var xa = gd._fullLayout.xaxis;
return {box: [r.left + s.l, r.top + s.t, r.left + s.l + s.w, r.top + s.t + s.h],
        x: (arguments[1] || []).map(function (x) { return r.left + s.l + xa.l2p(x); })};
"""

_SCENE_BOX = """
var gd = arguments[0].closest('.js-plotly-plot') || arguments[0];
var r = gd.getBoundingClientRect(), bar = gd.querySelector('.colorbar');
var right = bar ? bar.getBoundingClientRect().left : r.right;
var top = r.top + (gd._fullLayout._size.t || 0);
return [r.left, top, right - 4, r.bottom];
"""


def heatmap_area(driver: Any, graph: Any, xs=()) -> tuple[tuple[float, ...], list[float]]:
    """(plot-area box in page pixels, page x of each wavelength in ``xs``) of a drawn heatmap."""
    out = driver.execute_script(_PLOT_AREA, graph, [float(x) for x in xs])
    return tuple(out["box"]), out["x"]


def scene_box(driver: Any, graph: Any) -> tuple[float, ...]:
    """The part of a 3D graph left of its colour bar (page pixels)."""
    return tuple(driver.execute_script(_SCENE_BOX, graph))


def is_overlay_grey(image: np.ndarray, tolerance: float = 8.0) -> np.ndarray:
    """True where a pixel is the out-of-band grey."""
    return np.abs(image.astype(np.float32) - OVERLAY_GREY).max(axis=-1) <= tolerance


def is_gap_grey(image: np.ndarray, tolerance: float = 8.0) -> np.ndarray:
    """True where a pixel is the map's "no data" grey (a time gap), which a band highlight leaves as it is."""
    from stamp_engine.figures.map_overlays import GAP_COLOUR

    gap = np.array([float(v) for v in GAP_COLOUR[GAP_COLOUR.index("(") + 1:-1].split(",")])
    return np.abs(image.astype(np.float32) - gap).max(axis=-1) <= tolerance


def is_greyed_out(image: np.ndarray) -> np.ndarray:
    """True where a heatmap shows no data colour outside a highlighted band: the band grey, or a gap's own grey."""
    return is_overlay_grey(image) | is_gap_grey(image)


def is_surface_grey(image: np.ndarray) -> np.ndarray:
    """Grey surface pixels: no colour, neither background white nor axis-line dark (lighting shades the grey)."""
    light = pixels.lightness(image)
    return (pixels.saturation(image) < 0.06) & (light > 120) & (light < 238)


def heatmap_regions(driver: Any, graph: Any, band_x: tuple[float, float], extent: tuple[float, float], margin: int = 3):
    """Screenshot crops (inside the band, outside it) of a drawn heatmap's plot area."""
    (left, top, right, bottom), (x0, x1, e0, e1) = heatmap_area(driver, graph, [*band_x, *extent])
    image = pixels.screenshot(driver)
    rows = image[int(top) + margin:int(bottom) - margin]
    inside = rows[:, int(x0) + margin:int(x1) - margin]
    outside = np.concatenate(
        [rows[:, int(max(left, e0)) + margin:int(x0) - margin], rows[:, int(x1) + margin:int(min(right, e1)) - margin]],
        axis=1,
    )
    return inside, outside


def seam_columns(area: np.ndarray, jump: float = 4.0) -> np.ndarray:
    """Indices of pixel columns paler than both neighbours (mean lightness over the column
    higher by more than ``jump``, or mostly near white): hairlines where traces meet and the
    background shines through their anti-aliased edges."""
    light = pixels.lightness(area).mean(axis=0)
    hairline = np.zeros(light.shape, dtype=bool)
    hairline[1:-1] = (light[1:-1] - np.maximum(light[:-2], light[2:])) > jump
    white = pixels.is_near_white(area).mean(axis=0) > 0.5
    return np.flatnonzero(hairline | white)
