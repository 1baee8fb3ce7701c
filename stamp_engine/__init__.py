"""STAMP engine: JWST time-series spectra → one wavelength × time cube, and what is made from it.

Usable from a notebook without Dash::

    import stamp_engine
    cube = stamp_engine.load(["jw..._seg001_nis_x1dints.fits", "jw..._seg002_nis_x1dints.fits"])
    var = stamp_engine.normalize(cube, method="median")   # variability in %
    lc = var.light_curve(stamp_engine.Band("H2O", 1.3, 1.5))
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

# Public names and the module each lives in.  Imported on first use so that
# ``import stamp_engine`` stays cheap (a CLI call or a worker start needs no SciPy).
_EXPORTS = {
    "load": "assemble",
    "LoadOptions": "assemble",
    "Band": "bands",
    "PRESETS": "bands",
    "Cube": "cube",
    "NoUsableData": "problems",
    "Problem": "problems",
    "ReadError": "problems",
    "StampError": "problems",
    "LightCurve": "steps",
    "normalize": "steps",
    "band_light_curve": "steps",
    "white_light_curve": "steps",
    "split_visits": "steps",
    "ChannelLightCurves": "channels",
    "spectroscopic_light_curves": "channels",
    "divide_by_white": "channels",
    "ChannelSpectrum": "spectra",
    "TransmissionSpectrum": "spectra",
    "AmplitudeSpectrum": "spectra",
    "transmission_spectrum": "spectra",
    "amplitude_spectrum": "spectra",
    "Periodogram": "periodogram",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        module = importlib.import_module(f".{_EXPORTS[name]}", __name__)
        return getattr(module, name)
    raise AttributeError(f"module 'stamp_engine' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *_EXPORTS])
