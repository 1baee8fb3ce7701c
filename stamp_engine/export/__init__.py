"""What a user takes away: standalone HTML plots, tables, the cube as FITS, a video, a ZIP.

One module per product, everything offline and self-describing:

* :mod:`.html` — pages that embed plotly.js and the band-highlighting script (style and
  script are package data of :mod:`stamp_engine.web`), every string from a file escaped;
* :mod:`.tables` — light curves as ECSV (units, time scale, band ranges in the header) and
  CSV with a commented header; transmission/emission and amplitude spectra and
  periodograms as ECSV with units and how they were made;
* :mod:`.fits_cube` — the processed cube as FITS (``BUNIT``, ``-TAB`` WCS axes, time
  standard, provenance) and :func:`read_cube_fits` to read it back;
* :mod:`.video` — the MP4 of the spectrum over time;
* :mod:`.static_figures` — PNG and PDF figures for papers (matplotlib);
* :mod:`.recipe` — ``recipe.py``, the stamp_engine calls that rebuild the package's tables;
* :mod:`.readme` and :mod:`.package` — the README and :func:`build_package`, which puts all
  of it in one ZIP.
"""

from __future__ import annotations

from .fits_cube import WCS_TABLE, read_cube_fits, write_cube_fits
from .html import ALL_BANDS, combined_html, standalone_html
from .package import (
    DEFAULT_MAX_VIDEO_FRAMES,
    DEFAULT_VIDEO_FPS,
    DEFAULT_VIDEO_SIZE,
    build_package,
    package_files,
    package_stamp,
)
from .readme import readme_text, video_description
from .tables import light_curve_table, science_table, write_light_curves, write_science_product

__all__ = [
    "ALL_BANDS", "DEFAULT_MAX_VIDEO_FRAMES", "DEFAULT_VIDEO_FPS", "DEFAULT_VIDEO_SIZE", "WCS_TABLE", "build_package", "combined_html", "light_curve_table",
    "package_files", "package_stamp", "read_cube_fits", "readme_text", "science_table", "standalone_html",
    "video_description", "write_cube_fits", "write_light_curves", "write_science_product",
]
