"""Static figures for papers: PNG and PDF of the heatmap, the light curves and the spectra.

Drawn with matplotlib (the field's standard for paper figures: vector PDF with embedded
fonts, no browser needed) through :class:`matplotlib.figure.Figure` and its Agg/PDF
canvases, never pyplot, so no global figure state is touched and threads or forked job
servers can draw at the same time.  The interactive views stay plotly (the HTML files).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Sequence

import numpy as np

from ..cube import Cube

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from ..bands import Band
    from ..steps import LightCurve
    from .science import ScienceProducts

#: Formats each figure is written in, and the raster resolution.
FORMATS = ("png", "pdf")
DPI = 200


def _figure() -> tuple["Figure", object]:
    from matplotlib.figure import Figure

    figure = Figure(figsize=(8, 5), layout="constrained")
    return figure, figure.add_subplot()


def _save(figure: "Figure", folder: Path, stem: str, stamp: str, what: str) -> dict[str, str]:
    written = {}
    for ext in FORMATS:
        name = f"{stem}_{stamp}.{ext}"
        figure.savefig(folder / name, dpi=DPI)
        written[name] = f"{what} (static figure, {ext.upper()})."
    return written


def _shade_bands(ax, bands: Sequence["Band"]) -> None:
    for band in bands:
        ax.axvspan(band.start, band.end, color="#ffe9a8", alpha=0.6, lw=0, zorder=0)
        ax.annotate(band.name, ((band.start + band.end) / 2, 1.0), xycoords=("data", "axes fraction"),
                    ha="center", va="bottom", fontsize="small")


def heatmap_figure(cube: Cube) -> "Figure":
    """Wavelength × time map of the cube's values, with the dashboard's automatic colour limits.

    Each value fills the cell between the midpoints to its neighbours (``pcolorfast``: an
    image, 3× faster to write than a mesh of quads, and the same picture).
    """
    from ..channels import _pixel_edges
    from ..colour import robust_colour_limits

    figure, ax = _figure()
    lo, hi = robust_colour_limits(cube.flux, cube.is_normalized) or (0.0, 1.0)  # the same limits as the HTML maps
    cmap = "RdBu_r" if cube.is_normalized else "viridis"
    axis = cube.time_axis()
    times = axis.values(cube.hours)
    hour_edges = _pixel_edges(times) if times.size > 1 else times[0] + np.array([-0.01, 0.01])
    mesh = ax.pcolorfast(_pixel_edges(np.asarray(cube.wavelength, dtype=float)), hour_edges, cube.flux,
                         cmap=cmap, vmin=lo, vmax=hi)
    figure.colorbar(mesh, ax=ax, label=cube.value_label)
    ax.set_xlabel("Wavelength (µm)")
    ax.set_ylabel(axis.title)
    ax.set_title(cube.target)
    return figure


def light_curve_figure(cube: Cube, curves: Sequence["LightCurve"]) -> "Figure":
    """The light curves with their 1σ error bars."""
    figure, ax = _figure()
    axis = cube.time_axis()
    for curve in curves:
        ax.errorbar(axis.values(curve.hours), curve.value, yerr=curve.error, fmt=".", ms=2, elinewidth=0.5, label=curve.name)
    ax.set_xlabel(axis.title)
    ax.set_ylabel(cube.value_label)
    ax.set_title(cube.target)
    ax.legend(fontsize="small")
    return figure


def spectra_figure(cube: Cube, products: "ScienceProducts", bands: Sequence["Band"]) -> "Figure | None":
    """Transmission/emission depth and amplitude against wavelength with 1σ errors; None without either."""
    panels = [p for p in (products.transmission, products.amplitude) if p is not None]
    if not panels:
        return None
    from matplotlib.figure import Figure

    figure = Figure(figsize=(8, 3.2 * len(panels) + 0.8), layout="constrained")
    axes = figure.subplots(len(panels), 1, sharex=True, squeeze=False)[:, 0]
    for ax, product in zip(axes, panels):
        half_width = np.abs(np.diff(product.edges, axis=1)[:, 0]) / 2
        if product is products.transmission:
            values, errors = product.depth.to_value("1e-6"), product.error.to_value("1e-6")
            label = f"{product.kind.capitalize()} depth (ppm)"
        else:
            values, errors = product.relative_amplitude.to_value("%"), product.relative_amplitude_error.to_value("%")
            label = f"Amplitude at P = {product.period.to_value('hour'):.4g} h (%)"
        ax.errorbar(product.wavelength, values, xerr=half_width, yerr=errors, fmt="o", ms=3, elinewidth=0.8, capsize=0)
        _shade_bands(ax, bands)
        ax.set_ylabel(label)
    axes[-1].set_xlabel("Wavelength (µm)")
    figure.suptitle(cube.target)
    return figure


def write_static_figures(
    cube: Cube, curves: Sequence["LightCurve"], products: "ScienceProducts", bands: Sequence["Band"],
    folder: Path, stamp: str,
) -> dict[str, str]:
    """Write PNG and PDF of the heatmap, the light curves and (when made) the spectra into ``folder``.

    Returns
    -------
    dict
        File name → description, for the README.
    """
    written = _save(heatmap_figure(cube), folder, "heatmap", stamp, f"Heatmap of {cube.value_label}")
    written.update(_save(light_curve_figure(cube, curves), folder, "lightcurves", stamp, "Light curves with 1σ errors"))
    spectra = spectra_figure(cube, products, bands)
    if spectra is not None:
        written.update(_save(spectra, folder, "spectra", stamp,
                             "Transmission/emission and amplitude spectra against wavelength with 1σ errors"))
    return written
