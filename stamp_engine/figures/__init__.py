"""Plotly figures of a cube: 3D surface, heatmap, light curves, spectrum (+ player).

The dashboard and the standalone HTML exports build the same figures from here, so
what a user sees in the browser and what they download are identical.  One module per
view, and the parts they share:

- :mod:`.common` — display resolution (:func:`display_cube`), float32 arrays, the value
  scale with its names and units, titles, the figure-size budget;
- :mod:`.colour_axis` — the offered colour scales, colour ranges, zero on the centre
  colour, what the browser needs to re-colour a map (:func:`browser_colours`);
- :mod:`.band_map` — display columns of bands and the band-map trace meta the browser
  highlights from;
- :mod:`.surface` — the 3D surface on its decimated grid (:func:`surface_grid`);
- :mod:`.heatmap` — the heatmap (2D map);
- :mod:`.maps` — what those two share: the display cube, one gap-aware trace per visit, layout;
- :mod:`.map_overlays` — the heatmap's gaps, masked columns, interpolated rows, visits side by side;
- :mod:`.light_curves` — white-light and band light curves;
- :mod:`.spectrum` — the spectrum of a row and the spectrum player.

The names below are the package's public ones; import them from here or from their module.
"""

from .band_map import BandColumns, band_columns, surface_step_vertices, surface_vertex_columns
from .colour_axis import (
    COLORAXIS,
    COLORSCALES,
    DEFAULT_COLORSCALE,
    DEFAULT_FLUX_COLORSCALE,
    DIVERGING_COLORSCALES,
    browser_colours,
    colorscale,
    zero_is_centred,
)
from .common import (
    FIGURE_BUDGET_BYTES,
    MAX_DISPLAY_TIME,
    MAX_DISPLAY_WAVELENGTH,
    SPECTRUM_Y_PAD,
    SURFACE_Z_PAD,
    WAVELENGTH_LABEL,
    display_cube,
    figure_nbytes,
    plain_text,
)
from .heatmap import heatmap_figure
from .light_curves import light_curve_figure
from .map_overlays import (
    GAP_COLOUR,
    INTERPOLATED_VEIL,
    MASK_COLOUR,
    MASKED_FRACTION,
    interpolated_rows,
    masked_column_rects,
    masked_columns,
)
from .spectrum import (
    SPECTRUM_MODES,
    SpectrumFrames,
    frame_labels,
    spectrum_figure,
    spectrum_frames,
    spectrum_player_figure,
)
from .surface import (
    SURFACE_MAX_TIME,
    SURFACE_MAX_WAVELENGTH,
    surface_figure,
    surface_grid,
)

__all__ = [
    "BandColumns", "band_columns", "surface_step_vertices", "surface_vertex_columns",
    "COLORAXIS", "COLORSCALES", "DEFAULT_COLORSCALE", "DEFAULT_FLUX_COLORSCALE", "DIVERGING_COLORSCALES",
    "browser_colours", "colorscale", "zero_is_centred",
    "FIGURE_BUDGET_BYTES", "MAX_DISPLAY_TIME", "MAX_DISPLAY_WAVELENGTH", "SPECTRUM_Y_PAD", "SURFACE_Z_PAD",
    "WAVELENGTH_LABEL", "display_cube", "figure_nbytes", "plain_text",
    "light_curve_figure",
    "GAP_COLOUR", "INTERPOLATED_VEIL", "MASK_COLOUR", "MASKED_FRACTION", "interpolated_rows",
    "masked_column_rects", "masked_columns",
    "SURFACE_MAX_TIME", "SURFACE_MAX_WAVELENGTH", "heatmap_figure", "surface_figure", "surface_grid",
    "SPECTRUM_MODES", "SpectrumFrames", "frame_labels", "spectrum_figure", "spectrum_frames", "spectrum_player_figure",
]
