"""Noisy channels (stamp_engine.noisy_channels): flagged in the summary and marked on the heatmap and
spectrum, never removed; injected noisy edges are found exactly, and the real NIRSpec PRISM edges too."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import stamp_engine
from dashboard.summary import summarize
from stamp_engine import figures
from stamp_engine.figures.map_overlays import NOISY_COLOUR
from stamp_engine.noisy_channels import MIN_DIFFERENCES, NOISY_CHANNEL_FACTOR, noisy_channels
from stamp_engine.recipe import ProcessOptions, process
from stamp_engine.synthetic import make_observation
from tests.helpers.paths import REAL

EDGE = 10  # channels at each end: 20 noisy channels in all


def _noisy_edge_cube(kind="transit", nan_fraction=0.0):
    obs = make_observation(kind, n_integrations=300, wavelength=np.linspace(0.6, 5.3, 200), snr=2000.0, seed=5)
    cube = obs.to_cube()
    rng = np.random.default_rng(11)
    flux = cube.flux.copy()
    sigma = flux / 2000.0  # the noise make_observation put in
    extra = np.sqrt(10.0 ** 2 - 1.0)  # total noise 10× the rest
    for columns in (slice(0, EDGE), slice(-EDGE, None)):
        flux[:, columns] += rng.normal(0.0, 1.0, flux[:, columns].shape) * sigma[:, columns] * extra
    if nan_fraction:
        flux[rng.random(flux.shape) < nan_fraction] = np.nan
    return cube.replace(flux=flux)


@pytest.mark.parametrize("kind, nan_fraction", [("transit", 0.0), ("variability", 0.0), ("transit", 0.1)])
def test_twenty_injected_noisy_edge_channels_are_flagged_and_nothing_else(kind, nan_fraction):
    cube = _noisy_edge_cube(kind, nan_fraction)
    for values, normalized in ((cube.flux, False), (process(cube, ProcessOptions()).flux, True)):
        found = noisy_channels(values, normalized)
        expected = np.zeros(cube.n_wavelengths, dtype=bool)
        expected[:EDGE] = expected[-EDGE:] = True
        np.testing.assert_array_equal(found.flagged, expected)
        ratio = found.scatter[expected] / found.typical
        assert np.all((ratio > 6) & (ratio < 15)), ratio  # ≈ 10× measured, whatever the transit or NaN
    text = noisy_channels(cube.flux, False).describe(cube.wavelength)
    lo, hi = cube.wavelength[EDGE - 1], cube.wavelength[-EDGE]
    assert text.startswith("20 of 200: ") and f"0.600–{lo:.3f} µm" in text and f"{hi:.3f}–5.300 µm" in text
    assert f"> {NOISY_CHANNEL_FACTOR:g}× the median" in text and "kept" in text


def test_noisy_channels_are_kept_and_marked_on_the_heatmap_spectrum_and_summary():
    cube = process(_noisy_edge_cube(), ProcessOptions())
    fig = figures.heatmap_figure(cube)
    strips = [s for s in fig.layout.shapes if s.name == "noisy"]
    edges = np.asarray(fig.data[0].x, dtype=float)
    np.testing.assert_allclose([(s.x0, s.x1) for s in strips], [(edges[0], edges[EDGE]), (edges[-EDGE - 1], edges[-1])],
                               rtol=1e-6)
    assert all(s.fillcolor == NOISY_COLOUR and s.yref == "paper" and s.y0 >= 1.0 for s in strips)  # above the cells
    z = np.asarray(fig.data[0].z, dtype=float)
    assert np.isfinite(z[:, :EDGE]).all()  # the data are drawn, not removed
    assert "noisy channels" in [a.text for a in fig.layout.annotations if a.name == "map-key"][0]
    spectrum = figures.spectrum_figure(cube, 10)
    assert len([s for s in spectrum.layout.shapes if s.name == "noisy"]) == 2
    rows = dict(summarize(cube))
    assert rows["Noisy channels"].startswith("20 of 200")


def test_a_short_series_is_not_assessed_and_a_clean_one_flags_nothing():
    obs = make_observation("transit", n_integrations=MIN_DIFFERENCES, wavelength=np.linspace(1, 2, 50))
    assert "not assessed" in noisy_channels(obs.to_cube().flux, False).describe(obs.wavelength)
    clean = make_observation("variability", n_integrations=300, wavelength=np.linspace(1, 2, 300), seed=9).to_cube()
    found = noisy_channels(clean.flux, False)
    assert not found.flagged.any() and found.describe(clean.wavelength).startswith("none")
    fig = figures.heatmap_figure(clean)
    assert not [s for s in fig.layout.shapes if s.name == "noisy"]


def test_the_real_nirspec_prism_edges_are_flagged():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cube = stamp_engine.load([REAL / "eureka" / "tests_data" / "S3_NIRSpec_ap5_bg10_SpecData.h5"])
    found = noisy_channels(cube.flux, False)
    w = cube.wavelength
    flagged = w[found.flagged]
    # the faint blue end (0.47–0.6 µm) and red end (5.4–5.72 µm), as the gallery review saw them
    assert flagged.min() < 0.48 and flagged.max() > 5.7
    assert found.flagged[(w > 0.52) & (w < 0.6)].all() and found.flagged[(w > 5.47) & (w < 5.7)].mean() > 0.9
    assert not found.flagged[(w > 0.8) & (w < 5.3)].any()
