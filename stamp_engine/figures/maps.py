"""What the 3D surface and the heatmap of a cube share: the display cube and its colour axis,
the gap-aware rows of each visit (one trace per visit), the band meta, hover and layout.

:mod:`.surface` and :mod:`.heatmap` build their figures from these; they differ in the
trace type, the surface's coarser grid (:func:`~.surface.surface_grid`) and the heatmap's
overlays (:mod:`.map_overlays`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from ..bands import Band
from ..cube import Cube
from ..timeaxis import TimeAxis, TimeRows, time_rows
from .band_map import BandColumns, _band_map_meta, band_columns, wavelength_cells
from .colour_axis import (
    COLORAXIS,
    _coloraxis,
    _colorscale_name,
    _colour_range,
    _stretched_range,
    saturation_note,
)
from .common import (
    _TEMPLATE,
    _f32,
    _hours_since,
    _title,
    _value_name_and_unit,
    _value_scale,
    _ValueScale,
    display_cube,
)
from .map_overlays import _panel_axes, interpolated_rows


#: Where a map's hover finds a cell's wavelength and error: the trace's x and its customdata.
HOVER_FIELDS = {"wavelength": "%{x:.4f} µm", "error": "%{customdata:.3g}"}


def _hover_template(cube: Cube, visit_label: str, scale: _ValueScale | None = None, since_visit_start: bool = False,
                    axis: TimeAxis | None = None, wavelength: str = HOVER_FIELDS["wavelength"],
                    error: str = HOVER_FIELDS["error"]) -> str:
    scale = scale or _ValueScale(*_value_name_and_unit(cube))
    unit = f" {scale.unit}" if scale.unit and scale.stretch == "linear" else ""
    error_unit = f" {scale.unit}" if scale.unit else ""
    axis = axis or cube.time_axis(since_visit_start)
    return (
        f"λ = {wavelength}<br>"
        f"{axis.hover('y')}<br>"
        f"{scale.hover_name} = %{{z:.4g}}{unit}<br>"
        f"error = ± {error}{error_unit}"
        f"<extra>{visit_label}</extra>"
    )


@dataclass(frozen=True)
class _MapData:
    """A cube at display resolution and how its values are coloured, for a surface or a heatmap."""

    shown: Cube
    hours: np.ndarray
    values: _ValueScale
    drawn: np.ndarray
    limits: tuple[float, float] | None
    scale_name: str
    spans: list[BandColumns]
    interpolated: np.ndarray
    edges: np.ndarray
    cells_note: str = ""


def _map_data(cube: Cube, bands: Sequence[Band], scale: str | None, zrange: tuple[float, float] | None,
              max_time: int, max_wavelength: int, stretch: str) -> _MapData:
    """``cube`` binned to ``max_time`` × ``max_wavelength``, stretched, with its colour limits and band columns."""
    scale_name = _colorscale_name(cube, scale)
    shown = display_cube(cube, max_time=max_time, max_wavelength=max_wavelength)
    hours = _hours_since(shown.time, cube.t0) if cube.n_integrations else np.empty(0)
    values = _value_scale(cube, shown, stretch)
    drawn = values.apply(shown.flux)
    limits = _colour_range(drawn, cube.is_normalized, _stretched_range(zrange, values))
    spans = band_columns(shown.wavelength, bands)
    interpolated = interpolated_rows(shown)
    cells = wavelength_cells(shown)
    return _MapData(shown, hours, values, drawn, limits, scale_name, spans, interpolated, cells.edges, cells.note)


@dataclass(frozen=True)
class _VisitMap:
    """One visit's rows as drawn: an empty row in every gap, nothing stretched across it."""

    visit: int
    rows: np.ndarray
    label: str
    template: str
    drawn_rows: TimeRows
    flux: np.ndarray
    error: np.ndarray
    axes: dict[str, str]

    def trace(self, data: _MapData, x: np.ndarray, y: np.ndarray, columns: np.ndarray,
              ranges: Sequence[tuple[int, int]]) -> dict:
        """The trace arguments a surface and a heatmap of this visit share."""
        return dict(
            x=x,
            y=_f32(y),
            z=_f32(self.flux[:, columns]),
            coloraxis=COLORAXIS,
            hovertemplate=self.template,
            name=self.label or "Data",
            meta=_band_map_meta(self.visit, data.edges, data.spans, ranges),
            **self.axes,
        )


def _visit_maps(cube: Cube, data: _MapData, panels: bool, hover: dict[str, str] = HOVER_FIELDS) -> list[_VisitMap]:
    """Each visit with data, in order, its time in the display unit of ``cube.time_axis(panels)``;
    with ``panels``, counted from its own start.  ``hover``: where the hover finds the wavelength
    and the error (:data:`HOVER_FIELDS`)."""
    shown, axis = data.shown, cube.time_axis(panels)
    hours = axis.values(data.hours)
    n_visits = shown.n_visits
    maps = []
    for v in range(n_visits):
        rows = np.flatnonzero(shown.visit == v)
        if rows.size == 0:
            continue
        visit_label = f"Visit {v + 1}" if n_visits > 1 else ""
        template = _hover_template(cube, visit_label, data.values, since_visit_start=panels, axis=axis, **hover)
        visit_times = hours[rows] - hours[rows[0]] if panels else hours[rows]
        drawn_rows = time_rows(visit_times)  # an empty row in every gap: nothing stretched across it
        flux = drawn_rows.expand(data.drawn[rows])
        error = drawn_rows.expand(np.where(data.interpolated[rows, None], np.nan, shown.error[rows]))
        axes = _panel_axes(v) if panels else {}
        maps.append(_VisitMap(v, rows, visit_label, template, drawn_rows, flux, error, axes))
    return maps


def _map_layout(cube: Cube, data: _MapData, title: str | None, kind: str, margin: dict, panels: bool,
                colour: dict | None = None) -> dict:
    """Layout of a surface or heatmap figure: title, the shared colour axis, and the meta the browser reads."""
    return dict(
        template=_TEMPLATE,
        title={"text": _title(cube, title, "3D view" if kind == "surface" else "map")},
        coloraxis=_coloraxis(cube, data.scale_name, data.limits, data.values,
                             note=saturation_note(data.values, data.drawn, data.limits)),
        margin=margin,
        uirevision="stamp",
        meta={"stamp_figure": kind, "time_standard": cube.time_standard, "t0_mjd": float(cube.t0.mjd) if cube.n_integrations else None,
              "time_axis": cube.time_axis(panels).meta(),
              "visits_side_by_side": bool(panels),
              **({"colour": colour} if colour is not None else {})},
    )
