"""The download package: every export of one processed cube in one ZIP."""

from __future__ import annotations

import datetime as _dt
import shutil
import tempfile
import zipfile
from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping, Sequence

from ..bands import Band, usable_bands
from ..cube import Cube
from ..progress import Progress
from .fits_cube import write_cube_fits
from .html import combined_html, standalone_html
from .readme import readme_text, video_description
from .recipe import RECIPE_FILE, recipe_script
from .science import SciencePlan, ScienceProducts, science_products
from .static_figures import write_static_figures
from .tables import light_curve_table, write_light_curves, write_science_product

if TYPE_CHECKING:
    from ..recipe import ProcessOptions


#: Default upper limit on the frames of the package's video: a longer cube is binned in
#: time (see :func:`stamp_engine.export.video.frame_bin_size`), so a 10,000-integration
#: observation makes a 30 s clip at 20 fps, not an 8-minute one.
DEFAULT_MAX_VIDEO_FRAMES = 600
#: The package video's frame rate and size unless asked otherwise (``stamp render --fps/--size``).
DEFAULT_VIDEO_FPS = 20.0
DEFAULT_VIDEO_SIZE = (1280, 720)


def package_stamp(when: _dt.datetime | None = None) -> str:
    """``YYYYMMDD_HHMMSS`` of ``when`` (default now, local time): the suffix of package file names."""
    return (when or _dt.datetime.now()).strftime("%Y%m%d_%H%M%S")


def package_files(stamp: str, *, video: bool = True) -> dict[str, str]:
    """Names of the files of a package made at ``stamp``, with what each holds."""
    files = {
        f"surface_plot_{stamp}.html": "3D surface (wavelength × time × value), interactive; band buttons highlight a band.",
        f"heatmap_plot_{stamp}.html": "Heatmap (wavelength × time), interactive; band buttons highlight a band.",
        f"combined_plots_{stamp}.html": "All views on one page; one row of band buttons drives all of them.",
    }
    if video:
        files[f"spectrum_{stamp}.mp4"] = "Video of the spectrum over time, one frame per (binned) integration (H.264)."
    files.update(
        {
            f"lightcurves_{stamp}.ecsv": "Light curves (white light and each band) with errors; units and time scale in the header.",
            f"lightcurves_{stamp}.csv": "The same light curves as CSV, with a commented header giving units.",
            f"stamp_cube_{stamp}.fits": "The processed cube: FLUX, ERROR, WAVELENGTH, TIME with units, time system and provenance.",
            "README.txt": "This file.",
        }
    )
    return files


def science_files(products: ScienceProducts, stamp: str) -> dict[str, str]:
    """File name → description of each science product of a package (ECSV)."""
    files = {}
    for stem, product in products.items():
        files[f"{stem}_{stamp}.ecsv"] = f"{product.description} (ECSV: units, and how it was made, in the header)."
    return files


def build_package(
    cube: Cube,
    destination: str | Path,
    *,
    bands: Sequence[Band] = (),
    options: Mapping[str, Any] | None = None,
    video: bool = True,
    fps: float = DEFAULT_VIDEO_FPS,
    size: tuple[int, int] = DEFAULT_VIDEO_SIZE,
    max_video_frames: int | None = DEFAULT_MAX_VIDEO_FRAMES,
    colorscale: str | None = None,
    zrange: tuple[float, float] | None = None,
    progress: Progress | None = None,
    unpacked: bool = False,
    when: _dt.datetime | None = None,
    process_options: "ProcessOptions | None" = None,
    science: SciencePlan | None = None,
) -> Path:
    """Write the export package of ``cube`` as a ZIP.

    Contents (``<stamp>`` = ``YYYYMMDD_HHMMSS``): ``surface_plot_<stamp>.html``,
    ``heatmap_plot_<stamp>.html``, ``combined_plots_<stamp>.html``,
    ``spectrum_<stamp>.mp4`` (with ``video``), ``lightcurves_<stamp>.ecsv`` and ``.csv``,
    ``stamp_cube_<stamp>.fits``, ``README.txt``, PNG and PDF of the heatmap, the light
    curves and the spectra (``heatmap_``, ``lightcurves_``, ``spectra_<stamp>.png/.pdf``),
    ``periodogram_<curve>_<stamp>.ecsv`` per light curve, ``amplitude_spectrum_<stamp>.ecsv``,
    ``transit_spectrum_<stamp>.ecsv`` (or ``eclipse_``; with windows in ``science``) and,
    with ``process_options``, ``recipe.py``.  A product the data cannot give is left out
    and the README says why.

    Parameters
    ----------
    cube : Cube
        The processed cube (normalized, binned… as the user chose).
    destination : path
        A ``.zip`` path, or a folder in which ``stamp_package_<stamp>.zip`` is written.
    bands : sequence of Band
        Bands highlighted in the plots and tabulated as light curves (those outside the
        data are left out and listed in the README).
    options : mapping
        What the user chose (recorded in the README and the FITS provenance).
    video, fps, size, max_video_frames
        Whether to make the MP4, its frame rate, pixel size and the most frames it may
        have (default :data:`DEFAULT_MAX_VIDEO_FRAMES`; None or 0: one frame per
        integration).  A cube with more integrations is binned in time for the video
        only — consecutive integrations averaged within each visit, none left out — and
        the README and each frame's time stamp (the bin centre) say so.
    colorscale, zrange
        Colour scale name and fixed colour range of the surface and heatmap.
    progress : callable
        ``progress(stage, done, total)``.
    unpacked : bool
        With a folder destination, also leave the files unpacked in
        ``<folder>/stamp_package_<stamp>/``.
    when : datetime, optional
        Time stamp of the file names (default now).
    process_options : ProcessOptions, optional
        The options ``cube`` was processed with (:func:`stamp_engine.recipe.process`);
        with them the package has ``recipe.py``, which rebuilds its tables from the files.
    science : SciencePlan, optional
        Channels, period and windows of the spectra (default :class:`SciencePlan`).

    Returns
    -------
    Path
        The ZIP written.
    """
    from .. import figures
    from .video import write_spectrum_video

    stamp = package_stamp(when)
    destination = Path(destination)
    if destination.suffix.lower() == ".zip":
        zip_path = destination
        zip_path.parent.mkdir(parents=True, exist_ok=True)
    else:
        destination.mkdir(parents=True, exist_ok=True)
        zip_path = destination / f"stamp_package_{stamp}.zip"
    options = dict(options or {})
    usable = usable_bands(cube, bands)
    skipped = [band for band in bands if band not in usable]
    if skipped:
        options["bands not in the data"] = skipped
    files = package_files(stamp, video=video)
    steps = ["light curves", "tables", "science", "figures", "html", *(["video"] if video else []), "fits", "readme", "zip"]
    total = len(steps)

    def step(name: str) -> None:
        if progress:
            progress(name, steps.index(name), total)

    with tempfile.TemporaryDirectory(prefix="stamp-package-", dir=zip_path.parent) as tmp:
        folder = Path(tmp)
        step("light curves")
        curves = cube.light_curves(usable)
        step("tables")
        table = light_curve_table(curves, cube.time_standard)
        write_light_curves(
            table, folder / f"lightcurves_{stamp}.ecsv", folder / f"lightcurves_{stamp}.csv",
            title=f"STAMP light curves of {cube.target}",
        )
        step("science")
        plan = science or SciencePlan()
        products = science_products(cube, curves, plan)
        for stem, product in products.items():
            write_science_product(product, folder / f"{stem}_{stamp}.ecsv")
        files.update(science_files(products, stamp))
        notes = [f"{stem}_{stamp}.ecsv: not made ({why})" for stem, why in products.not_made.items()]
        step("figures")
        files.update(write_static_figures(cube, curves, products, usable, folder, stamp))
        shown = figures.display_cube(cube)
        surface = figures.surface_figure(shown, usable, colorscale=colorscale, zrange=zrange)
        heatmap = figures.heatmap_figure(shown, usable, colorscale=colorscale, zrange=zrange)
        light = figures.light_curve_figure(curves)
        player = figures.spectrum_player_figure(cube)
        step("html")
        title = f"{cube.target} — STAMP"
        (folder / f"surface_plot_{stamp}.html").write_text(
            standalone_html(surface, usable, f"{title}: 3D surface"), encoding="utf-8")
        (folder / f"heatmap_plot_{stamp}.html").write_text(
            standalone_html(heatmap, usable, f"{title}: heatmap"), encoding="utf-8")
        combined = {"3D surface": surface, "Heatmap": heatmap, "Light curves": light, "Spectrum over time": player}
        (folder / f"combined_plots_{stamp}.html").write_text(combined_html(combined, usable, title), encoding="utf-8")
        if video:
            step("video")

            def video_progress(stage: str, done: int, frames: int) -> None:
                if progress:
                    progress("video", steps.index("video") * frames + done, total * frames)

            made = write_spectrum_video(
                cube, folder / f"spectrum_{stamp}.mp4", fps=fps, size=size, max_frames=max_video_frames,
                bands=usable, progress=video_progress,
            )
            files[f"spectrum_{stamp}.mp4"] = video_description(made, cube.n_integrations)
        step("fits")
        write_cube_fits(cube, folder / f"stamp_cube_{stamp}.fits", options=options)
        step("readme")
        if process_options is not None:
            files[RECIPE_FILE] = ("Python script: the stamp_engine calls, with every parameter, that rebuild the cube, "
                                  "the light curves and the spectra of this package from the original files.")
            (folder / RECIPE_FILE).write_text(
                recipe_script(cube, process_options, usable, plan, products, files, stamp), encoding="utf-8")
        else:
            notes.append(f"{RECIPE_FILE}: not written (the processing options of this cube were not given)")
        (folder / "README.txt").write_text(readme_text(cube, options, files, notes), encoding="utf-8")
        step("zip")
        partial = zip_path.with_name(zip_path.name + ".part")
        with zipfile.ZipFile(partial, "w") as archive:
            for name in files:
                # MP4/PNG/PDF are compressed already; FITS floats barely compress: store them fast
                stored = name.endswith((".mp4", ".png", ".pdf"))
                level = 1 if name.endswith(".fits") else 6
                archive.write(folder / name, name, compress_type=zipfile.ZIP_STORED if stored else zipfile.ZIP_DEFLATED,
                              compresslevel=None if stored else level)
        partial.replace(zip_path)
        if unpacked and destination.suffix.lower() != ".zip":
            target = destination / f"stamp_package_{stamp}"
            target.mkdir(exist_ok=True)
            for name in files:
                shutil.move(str(folder / name), target / name)
    if progress:
        progress("done", total, total)
    return zip_path


