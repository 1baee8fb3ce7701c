"""The shape of a time × wavelength ``flux`` array: one row per integration, one column per wavelength.

Shared by :class:`stamp_engine.io.block.SpectralBlock` (one file's spectra),
:class:`stamp_engine.cube.Cube` (the stitched cube) and
:class:`stamp_engine.channels.ChannelLightCurves` (wavelength channels), so they count rows and
columns by one rule.
"""

from __future__ import annotations

import numpy as np


class TimeWavelengthGrid:
    """``n_integrations`` and ``n_wavelengths`` of a dataclass with a 2-D ``flux`` (time × wavelength).

    A base without fields: the dataclasses built on it keep their own fields unchanged.
    """

    __slots__ = ()
    flux: np.ndarray

    @property
    def n_integrations(self) -> int:
        return int(self.flux.shape[0])

    @property
    def n_wavelengths(self) -> int:
        return int(self.flux.shape[1])
