"""Plotly figures of a cube (being split by view; this commit only moves the module)."""

from .spectrum import *  # noqa: F401,F403
from .spectrum import (  # noqa: F401  names the engine's other figure modules use
    _CURVE_COLOURS, _TEMPLATE, _WHITE_LIGHT_COLOUR, _block_mean, _display_name, _f32, _rgba, _value_name_and_unit, _y_range,
)
