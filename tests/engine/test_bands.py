"""The engine's band rules: a band is usable when it holds a wavelength sample; the preset fits the data."""

from __future__ import annotations

import numpy as np
import pytest

from stamp_engine import figures
from stamp_engine.bands import PRESETS, Band, preset_for, usable_bands
from stamp_engine.synthetic import make_observation

#: Samples 0.1 µm apart: a band from 1.42 to 1.47 µm lies between two of them.
GRID = np.round(np.arange(1.0, 2.01, 0.1), 6)
BETWEEN = Band("narrow", 1.42, 1.47)


def test_a_band_between_two_samples_has_none_and_says_which_are_nearest():
    assert not BETWEEN.has_samples(GRID)
    assert Band("wide", 1.35, 1.45).has_samples(GRID)
    assert Band("edge", 1.4, 1.41).has_samples(GRID)  # a sample on the edge counts
    reason = BETWEEN.unusable_reason(GRID)
    assert "narrow" in reason and "1.4 µm" in reason and "1.5 µm" in reason
    assert Band("wide", 1.35, 1.45).unusable_reason(GRID) is None
    assert "outside the data" in Band("far", 5.0, 6.0).unusable_reason(GRID)


def test_usable_bands_takes_a_cube_or_a_wavelength_array():
    cube = make_observation("transit", n_integrations=10, wavelength=GRID).to_cube()
    bands = [Band("a", 1.05, 1.15), BETWEEN, Band("far", 5.0, 6.0)]
    assert usable_bands(cube, bands) == [bands[0]]
    assert usable_bands(GRID, bands) == [bands[0]]
    assert usable_bands(np.array([]), bands) == []


def test_light_curves_of_every_usable_band_work():
    cube = make_observation("transit", n_integrations=10, wavelength=GRID).to_cube().normalize()
    bands = usable_bands(cube, [Band("a", 1.05, 1.15), BETWEEN])
    fig = figures.light_curve_figure(cube.light_curves(bands))
    assert {t.name for t in fig.data} >= {"a"}
    with pytest.raises(ValueError, match="no wavelength sample"):
        cube.light_curves([BETWEEN])  # what the light-curve view hit before the rule


@pytest.mark.parametrize("wavelength, expected", [
    (np.linspace(0.6, 5.3, 300), "Molecules (near-IR)"),   # NIRSpec PRISM
    (np.linspace(5.0, 12.0, 300), "Mid-IR (MIRI)"),        # MIRI LRS
    (np.linspace(0.55, 0.9, 100), "Exoplanet transmission"),  # only Na and K
])
def test_preset_fits_the_wavelength_range(wavelength, expected):
    assert preset_for(wavelength) == expected
    assert len(usable_bands(wavelength, PRESETS[expected])) >= 2
