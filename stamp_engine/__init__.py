"""STAMP engine: JWST time-series spectra → one wavelength × time cube, and what is made from it.

Usable from a notebook without Dash::

    import stamp_engine
    cube = stamp_engine.load(["jw..._seg001_nis_x1dints.fits", "jw..._seg002_nis_x1dints.fits"])
    var = stamp_engine.normalize(cube, method="median")   # variability in %
    lc = var.light_curve(stamp_engine.Band("H2O", 1.3, 1.5))
"""

from .assemble import LoadOptions, load
from .bands import PRESETS, Band
from .cube import Cube
from .problems import NoUsableData, Problem, ReadError, StampError
from .processing import LightCurve, normalize

__all__ = [
    "Band",
    "Cube",
    "LightCurve",
    "LoadOptions",
    "NoUsableData",
    "PRESETS",
    "Problem",
    "ReadError",
    "StampError",
    "load",
    "normalize",
]

__version__ = "0.1.0"
