"""The products a user can download one by one, and how each is written.

The dashboard's download card offers the package and each of these files
(:data:`PRODUCTS`, in the order of its buttons); their names are those the package
gives them (:func:`stamp_engine.export.package_files`).  :func:`product` is the one
check of what is asked for, :func:`write_product` writes one file, and
:func:`progress_text` words the stages the writers report.
"""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Mapping, Sequence

from ..bands import Band, usable_bands
from ..progress import Progress
from .fits_cube import write_cube_fits
from .html import combined_html, standalone_html
from .package import DEFAULT_MAX_VIDEO_FRAMES, DEFAULT_VIDEO_FPS, DEFAULT_VIDEO_SIZE, package_stamp
from .science import SciencePlan, science_products
from .tables import light_curve_table, write_light_curves, write_science_product

if TYPE_CHECKING:
    import plotly.graph_objects as go

    from ..cube import Cube


@dataclass(frozen=True)
class Product:
    """One kind of download: what to call it in messages, its file name and type."""

    what: str
    filename: str  # with "{stamp}" = YYYYMMDD_HHMMSS, as in the package
    mime: str

    def file_name(self, when: _dt.datetime | None = None) -> str:
        """The file's name for a download made at ``when`` (default: now)."""
        return self.filename.format(stamp=package_stamp(when))


#: Kind → product, in the order the dashboard offers them; ``"package"`` is the whole ZIP
#: (:func:`stamp_engine.export.build_package`), every other kind one of its files.
PRODUCTS: dict[str, Product] = {
    "package": Product("package", "stamp_package_{stamp}.zip", "application/zip"),
    "surface": Product("3D surface page", "surface_plot_{stamp}.html", "text/html"),
    "heatmap": Product("heatmap page", "heatmap_plot_{stamp}.html", "text/html"),
    "combined": Product("combined page", "combined_plots_{stamp}.html", "text/html"),
    "video": Product("spectrum video", "spectrum_{stamp}.mp4", "video/mp4"),
    "ecsv": Product("light-curve table (ECSV)", "lightcurves_{stamp}.ecsv", "text/plain"),
    "csv": Product("light-curve table (CSV)", "lightcurves_{stamp}.csv", "text/csv"),
    "fits": Product("cube FITS file", "stamp_cube_{stamp}.fits", "application/fits"),
    "periodogram": Product("white-light periodogram (ECSV)", "periodogram_white_light_{stamp}.ecsv", "text/plain"),
    "amplitude": Product("amplitude spectrum (ECSV)", "amplitude_spectrum_{stamp}.ecsv", "text/plain"),
    "transit": Product("transit spectrum (ECSV)", "transit_spectrum_{stamp}.ecsv", "text/plain"),
}
#: Science products among the single files: the product of :func:`science_products` each one is.
SCIENCE_PRODUCTS = {"periodogram": "periodogram_white_light", "amplitude": "amplitude_spectrum",
                    "transit": "transit_spectrum"}

#: Stages :func:`stamp_engine.export.build_package` and :func:`write_product` report, in words.
STAGE_WORDS = {
    "light curves": "Measuring light curves",
    "tables": "Writing light-curve tables",
    "science": "Computing periodograms and spectra",
    "figures": "Drawing figures",
    "html": "Writing HTML pages",
    "video": "Encoding the spectrum video",
    "fits": "Writing the cube as FITS",
    "readme": "Writing README.txt",
    "zip": "Zipping",
    "done": "Sending",
}

#: A page's figure ("surface" or "heatmap") as the page should show it.
PageFigure = Callable[[str], "go.Figure"]


class ProductNotMade(ValueError):
    """The data cannot give this product (e.g. no transit spectrum without windows); the message says why."""


def product(kind: Any) -> Product:
    """The product ``kind`` names.

    Raises
    ------
    ValueError
        ``kind`` is not one of :data:`PRODUCTS`.
    """
    if not isinstance(kind, str) or kind not in PRODUCTS:
        raise ValueError(f"unknown download {kind!r} (one of {', '.join(PRODUCTS)})")
    return PRODUCTS[kind]


def progress_text(kind: str, stage: str, done: int, total: int) -> tuple[float, str]:
    """Percent done and the words for one progress report while making ``kind``."""
    percent = round(min(max(100.0 * done / total if total else 0.0, 0.0), 100.0), 1)
    words = STAGE_WORDS.get(stage, stage.capitalize())
    what = product(kind).what
    return percent, f"{what[0].upper() + what[1:]}: {words} — {percent:.0f} %"


def write_product(
    kind: str,
    cube: "Cube",
    folder: Path,
    progress: Progress | None = None,
    *,
    bands: Sequence[Band] = (),
    options: Mapping[str, Any] | None = None,
    science: SciencePlan | None = None,
    colorscale: str | None = None,
    zrange: tuple[float, float] | None = None,
    page_figure: PageFigure | None = None,
    video_size: tuple[int, int] = DEFAULT_VIDEO_SIZE,
    when: _dt.datetime | None = None,
) -> Path:
    """Write one file of the package (``kind`` of :data:`PRODUCTS`, not ``"package"``) into ``folder``.

    Parameters
    ----------
    cube : Cube
        The processed cube at full resolution: tables, video and FITS use it as it is.
    bands : sequence of Band
        Bands of the light curves and the pages' buttons; those with no sample in
        ``cube`` are left out (:func:`~stamp_engine.bands.usable_bands`).
    options : mapping, optional
        What the FITS provenance records.
    science : SciencePlan, optional
        Channels and windows of the science tables.
    colorscale, zrange
        Colour scale and fixed range of the surface and heatmap pages.
    page_figure : callable, optional
        ``"surface"``/``"heatmap"`` → the figure to put on that page (the dashboard
        passes the one its view shows); default: drawn from ``cube`` at display resolution.

    Raises
    ------
    ProductNotMade
        A science product the data cannot give (the message says why).
    ValueError
        ``kind`` is unknown or ``"package"``.
    """
    from .. import figures
    from .video import write_spectrum_video

    if product(kind) is PRODUCTS["package"]:
        raise ValueError("the package is built by stamp_engine.export.build_package, not write_product")
    report = progress or (lambda stage, done, total: None)
    path = folder / product(kind).file_name(when)
    bands = usable_bands(cube, bands)
    title = f"{cube.target} — STAMP"

    def page(which: str) -> "go.Figure":
        if page_figure is not None:
            return page_figure(which)
        build = {"surface": figures.surface_figure, "heatmap": figures.heatmap_figure}[which]
        return build(figures.display_cube(cube), bands, colorscale=colorscale, zrange=zrange)

    if kind in ("surface", "heatmap"):
        report("figures", 0, 2)
        figure = page(kind)
        report("html", 1, 2)
        what = "3D surface" if kind == "surface" else "heatmap"
        path.write_text(standalone_html(figure, bands, f"{title}: {what}"), encoding="utf-8")
    elif kind == "combined":
        report("figures", 0, 2)
        views = {
            "3D surface": page("surface"),
            "Heatmap": page("heatmap"),
            "Light curves": figures.light_curve_figure(cube.light_curves(bands)),
            "Spectrum over time": figures.spectrum_player_figure(cube),
        }
        report("html", 1, 2)
        path.write_text(combined_html(views, bands, title), encoding="utf-8")
    elif kind == "video":
        write_spectrum_video(cube, path, fps=DEFAULT_VIDEO_FPS, size=video_size, max_frames=DEFAULT_MAX_VIDEO_FRAMES,
                             bands=bands, progress=report)
    elif kind in ("ecsv", "csv"):
        report("light curves", 0, 2)
        table = light_curve_table(cube.light_curves(bands), cube.time_standard)
        report("tables", 1, 2)
        ecsv = folder / PRODUCTS["ecsv"].file_name(when)
        csv = folder / PRODUCTS["csv"].file_name(when)
        write_light_curves(table, ecsv, csv if kind == "csv" else None, title=f"STAMP light curves of {cube.target}")
    elif kind == "fits":
        report("fits", 0, 1)
        write_cube_fits(cube, path, options=dict(options or {}))
    else:  # a science product
        report("science", 0, 1)
        products = science_products(cube, [cube.white_light()], science or SciencePlan())
        made = dict(products.items())
        stem = SCIENCE_PRODUCTS[kind]
        if stem not in made:
            raise ProductNotMade(f"No {product(kind).what}: {products.not_made.get(stem, 'the data cannot give it')}.")
        write_science_product(made[stem], path)
    report("done", 1, 1)
    return path
