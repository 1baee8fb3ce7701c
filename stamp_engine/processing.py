"""Former home of the processing steps, kept importable for code not yet moved.

The steps now live one per module in :mod:`stamp_engine.steps` (bound as
:class:`~stamp_engine.cube.Cube` methods), the NaN-aware statistics in
:mod:`stamp_engine.statistics` and the per-integration labels in :mod:`stamp_engine.labels`.
New code imports from there; this module only re-exports those names.
"""

from .labels import INTERPOLATED_KEY, ROW_SPAN_KEY, row_spans
from .labels import interpolated_flags as _row_flags
from .statistics import MEDIAN_ERROR_FACTOR, inverse_variance_mean, nanmedian_over_time
from .steps import (
    LightCurve,
    band_light_curve,
    bin,
    clip,
    interpolate_gaps,
    limit,
    normalize,
    select,
    smooth,
    split_visits,
    white_light_curve,
)

__all__ = [
    "INTERPOLATED_KEY",
    "MEDIAN_ERROR_FACTOR",
    "ROW_SPAN_KEY",
    "LightCurve",
    "band_light_curve",
    "bin",
    "clip",
    "interpolate_gaps",
    "inverse_variance_mean",
    "limit",
    "nanmedian_over_time",
    "normalize",
    "row_spans",
    "select",
    "smooth",
    "split_visits",
    "white_light_curve",
]
