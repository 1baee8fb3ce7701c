"""Static figures for papers: PNG and PDF drawn with matplotlib's Agg backend."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Sequence

from ..cube import Cube

if TYPE_CHECKING:
    from ..processing import LightCurve


# --------------------------------------------------------------------------------- package
def write_static_figures(cube: Cube, curves: Sequence["LightCurve"], folder: Path, stamp: str) -> dict[str, str]:
    """PNG and PDF of the heatmap and light curves, when matplotlib is installed (optional)."""
    try:
        import matplotlib

        matplotlib.use("Agg", force=False)
        import matplotlib.pyplot as plt
    except Exception:  # matplotlib is optional: no static figures without it
        return {}
    written: dict[str, str] = {}
    hours = cube.hours
    fig, ax = plt.subplots(figsize=(8, 5), layout="constrained")
    from ..colour import robust_colour_limits

    lo, hi = robust_colour_limits(cube.flux, cube.is_normalized) or (0.0, 1.0)  # the same limits as the HTML maps
    cmap = "RdBu_r" if cube.is_normalized else "viridis"
    mesh = ax.pcolormesh(cube.wavelength, hours, cube.flux, shading="nearest", cmap=cmap, vmin=lo, vmax=hi, rasterized=True)
    fig.colorbar(mesh, ax=ax, label=cube.value_label)
    ax.set_xlabel("Wavelength (µm)")
    ax.set_ylabel(cube.time_label)
    ax.set_title(cube.target)
    for ext in ("png", "pdf"):
        name = f"heatmap_{stamp}.{ext}"
        fig.savefig(folder / name, dpi=200)
        written[name] = f"Heatmap of {cube.value_label} (static figure, {ext.upper()})."
    plt.close(fig)
    fig, ax = plt.subplots(figsize=(8, 5), layout="constrained")
    for curve in curves:
        ax.errorbar(curve.hours, curve.value, yerr=curve.error, fmt=".", ms=2, elinewidth=0.5, label=curve.name)
    ax.set_xlabel(cube.time_label)
    ax.set_ylabel(cube.value_label)
    ax.set_title(cube.target)
    ax.legend(fontsize="small")
    for ext in ("png", "pdf"):
        name = f"lightcurves_{stamp}.{ext}"
        fig.savefig(folder / name, dpi=200)
        written[name] = f"Light curves (static figure, {ext.upper()})."
    plt.close(fig)
    return written

