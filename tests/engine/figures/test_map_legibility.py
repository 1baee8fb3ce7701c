"""What a map's greys and colour bar tell a reader: "no data" is a different grey from "outside the
highlighted band", and the colour bar says where the colour range clips and how much lies beyond.
The pictures are read in tests/browser/test_map_legibility_browser.py."""

from __future__ import annotations

import astropy.units as u
import numpy as np
import pytest
from astropy.time import Time

from stamp_engine import colour, figures
from stamp_engine.bands import Band
from stamp_engine.cube import Cube
from stamp_engine.figures.map_overlays import BAND_DIM_COLOUR, BAND_DIM_KEY, BAND_KEY_ANNOTATION, GAP_COLOUR, MASK_COLOUR

RNG = np.random.default_rng(7)


def _rgb(text: str) -> np.ndarray:
    return np.array([float(v) for v in text[text.index("(") + 1:-1].split(",")])


def _variability(hours, flux) -> Cube:
    flux = np.asarray(flux, dtype=float)
    cube = Cube(np.linspace(1.0, 3.0, flux.shape[1]), Time(60000.0 + np.asarray(hours) / 24.0, format="mjd", scale="tdb"),
                flux, np.full_like(flux, 0.1), u.percent)
    return cube.replace(reference=np.ones((1, flux.shape[1])), reference_unit=u.Jy)


def test_no_data_band_dimming_and_masked_are_three_distinct_greys():
    gap, dim, mask = _rgb(GAP_COLOUR), _rgb(BAND_DIM_COLOUR), _rgb(MASK_COLOUR)
    assert np.abs(gap - dim).max() >= 40 and np.abs(gap - mask).max() >= 40
    # and the band grey named here is the one stamp_bands.js paints
    from tests.helpers.paths import REPO
    script = (REPO / "stamp_engine" / "web" / "stamp_bands.js").read_text()
    assert f'var GREY = "{BAND_DIM_COLOUR}"' in script
    assert f'var BAND_KEY_ANNOTATION = "{BAND_KEY_ANNOTATION}"' in script  # it shows the item the engine writes


def test_time_gaps_get_rectangles_and_the_key_names_both_greys():
    hours = np.concatenate([np.arange(40), 100 + np.arange(40)]) / 60.0  # a 1 h gap inside one visit
    cube = _variability(hours, RNG.normal(0, 1, (80, 30))).split_visits(gap_hours=1.5)
    fig = figures.heatmap_figure(cube, bands=[Band("mid", 1.8, 2.2)])
    gaps = [s for s in fig.layout.shapes if s.name == "gap"]
    assert len(gaps) == 1 and gaps[0].fillcolor == GAP_COLOUR
    assert 39.5 / 60 <= gaps[0].y0 < 40 / 60 and 99 / 60 < gaps[0].y1 <= 99.5 / 60
    key = [a.text for a in fig.layout.annotations if a.name == "map-key"]
    assert key and "no data" in key[0] and GAP_COLOUR in key[0]
    # drawn with no band highlighted, the key does not name the highlight's grey: that item is its
    # own annotation, at opacity 0 until the browser shows it with a band (tests/browser reads it drawn)
    assert "outside the highlighted band" not in key[0]
    band_key = [a for a in fig.layout.annotations if a.name == BAND_KEY_ANNOTATION]
    assert len(band_key) == 1 and band_key[0].text == BAND_DIM_KEY and band_key[0].opacity == 0
    assert BAND_DIM_COLOUR in BAND_DIM_KEY
    # no gap, no band: no key
    plain = figures.heatmap_figure(_variability(np.arange(40) / 60.0, RNG.normal(0, 1, (40, 30))))
    assert not [s for s in plain.layout.shapes if s.name == "gap"]
    assert not [a for a in plain.layout.annotations if a.name in ("map-key", BAND_KEY_ANNOTATION)]


def test_visits_on_one_axis_leave_the_time_between_them_as_a_gap():
    hours = np.concatenate([np.arange(30), 600 + np.arange(30)]) / 60.0  # two visits 10 h apart
    cube = _variability(hours, RNG.normal(0, 1, (60, 20))).split_visits(gap_hours=1.5)
    assert cube.n_visits == 2
    fig = figures.heatmap_figure(cube, visits="one axis")
    gaps = [s for s in fig.layout.shapes if s.name == "gap"]
    assert len(gaps) == 1 and gaps[0].y0 < 0.6 and gaps[0].y1 > 9.9


@pytest.mark.parametrize("low, high, fraction, text", [
    (-2.0, 2.0, 0.031, "clipped at ±2 %: 3.1 % of cells beyond"),
    (-0.3, 0.9, 0.0, "clipped at −0.3…0.9 %: 0 % of cells beyond"),
    (-2.0, 2.0, 0.0004, "clipped at ±2 %: < 0.1 % of cells beyond"),
    (1200.0, 31000.0, 0.25, "clipped at 1.2e+03…3.1e+04 Jy: 25.0 % of cells beyond"),
    (-2.0, 2.0, float("nan"), "clipped at ±2 %"),
])
def test_clip_note_text(low, high, fraction, text):
    unit = "Jy" if high > 100 else "%"
    assert colour.clip_note(low, high, fraction, unit) == text


def test_an_injected_fraction_of_cells_beyond_the_clip_is_reported():
    n_time, n_wave = 100, 50
    values = RNG.uniform(-1.0, 1.0, (n_time, n_wave))
    beyond = RNG.choice(n_time * n_wave, size=155, replace=False)  # 3.1 % of 5000 cells
    values.flat[beyond] = np.where(np.arange(155) % 2, 10.0, -10.0)
    values[:5, :] = np.nan  # NaN cells are not cells with data: they count for neither side
    finite_beyond = np.isfinite(values.flat[beyond]).sum()
    expected = finite_beyond / np.isfinite(values).sum()
    assert colour.beyond_fraction(values, -2.0, 2.0) == pytest.approx(expected)
    cube = _variability(np.arange(n_time) / 60.0, values)
    fig = figures.heatmap_figure(cube, zrange=(-2.0, 2.0))
    title = fig.layout.coloraxis.colorbar.title.text
    assert f"clipped at ±2 %: {100 * expected:.1f} % of cells beyond" in title and title.startswith("Variability (%)")
    # the automatic range clips too, and says how much
    auto = figures.heatmap_figure(cube)
    low, high = auto.layout.coloraxis.cmin, auto.layout.coloraxis.cmax
    share = colour.beyond_fraction(values, low, high)
    assert share >= expected - 1e-12
    assert f"{100 * share:.1f} % of cells beyond" in auto.layout.coloraxis.colorbar.title.text
    # the browser gets the same title with a slot for the note it recounts
    clip = auto.layout.meta["colour"]["clip"]
    assert clip["title"].replace(clip["slot"], "X") == auto.layout.coloraxis.colorbar.title.text.replace(
        colour.clip_note(low, high, share, "%"), "X")


# ------------------------------------------------------------ cells as wide as the file's channels
UNEVEN = [(1.0, 1.5), (1.5, 3.0)]  # two channels, one three times as wide as the other


def _lcdata(tmp_path, channels=UNEVEN, drop_edges=False):
    import h5py

    import stamp_engine
    from stamp_engine.synthetic import make_observation
    from stamp_engine.synthetic.eureka import write_eureka_s4_lc

    obs = make_observation("transit", n_integrations=60, wavelength=np.linspace(1.0, 3.0, 80))
    path = write_eureka_s4_lc(tmp_path / "S4_LCData.h5", obs, channels)
    if drop_edges == "all":
        with h5py.File(path, "a") as h5:
            for name in ("wave_low", "wave_hi", "wave_err"):
                del h5[name]
    elif drop_edges:  # only the half widths left, as some Eureka! versions write
        with h5py.File(path, "a") as h5:
            del h5["wave_low"], h5["wave_hi"]
    return stamp_engine.load([path])


@pytest.mark.parametrize("drop_edges", [False, True], ids=["wave_low/wave_hi", "wave_err"])
def test_two_uneven_channels_are_drawn_at_the_files_edges(tmp_path, drop_edges):
    from stamp_engine.recipe import ProcessOptions, process

    cube = process(_lcdata(tmp_path, drop_edges=drop_edges), ProcessOptions())
    np.testing.assert_allclose(cube.wavelength, [1.25, 2.25])
    band = Band("wide channel", 1.6, 2.9)
    fig = figures.heatmap_figure(cube, bands=[band])
    np.testing.assert_allclose(np.asarray(fig.data[0].x, dtype=float), [1.0, 1.5, 3.0], rtol=1e-6)
    meta = fig.data[0].meta
    assert meta["extent"] == pytest.approx([1.0, 3.0]) and meta["bands"][0]["x"] == pytest.approx([1.5, 3.0])
    key = [a.text for a in fig.layout.annotations if a.name == "map-key"][0]
    assert "the file's channel edges" in key
    # cut to the wide channel: still its own edges, not ±0.5 µm around a lone centre
    wide = figures.heatmap_figure(cube.select(wavelength=(2.0, 2.5)))
    np.testing.assert_allclose(np.asarray(wide.data[0].x, dtype=float), [1.5, 3.0], rtol=1e-6)


def test_channels_without_edges_are_centres_plus_half_spacing_and_the_key_says_so(tmp_path):
    from stamp_engine.recipe import ProcessOptions, process

    cube = process(_lcdata(tmp_path, drop_edges="all"), ProcessOptions())
    assert "channel_edges" not in cube.meta
    fig = figures.heatmap_figure(cube)
    np.testing.assert_allclose(np.asarray(fig.data[0].x, dtype=float), [0.75, 1.75, 2.75], rtol=1e-6)
    key = [a.text for a in fig.layout.annotations if a.name == "map-key"][0]
    assert "centres ± half their spacing (the file gives no channel edges)" in key


def test_channels_that_do_not_touch_meet_halfway_and_the_key_says_so(tmp_path):
    cube = _lcdata(tmp_path, channels=[(1.0, 1.4), (1.6, 3.0)])
    fig = figures.heatmap_figure(cube)
    np.testing.assert_allclose(np.asarray(fig.data[0].x, dtype=float), [1.0, 1.5, 3.0], rtol=1e-6)
    key = [a.text for a in fig.layout.annotations if a.name == "map-key"][0]
    assert "1 pair(s) of neighbouring channels do not touch" in key


def test_no_zero_line_crosses_the_map_where_cells_are_masked_or_empty():
    # the template's zero line (rgb(235,240,248)) showed through masked columns at t0 as a line of data
    flux = RNG.normal(0, 1, (40, 30))
    flux[:, 10:12] = np.nan
    fig = figures.heatmap_figure(_variability(np.arange(40) / 60.0, flux))
    assert fig.layout.xaxis.zeroline is False and fig.layout.yaxis.zeroline is False
    panels = figures.heatmap_figure(_variability(np.concatenate([np.arange(20), 3000 + np.arange(20)]) / 60.0, flux)
                                    .split_visits(gap_hours=1.0), visits="side by side")
    axes = [v for k, v in panels.layout.to_plotly_json().items() if k.startswith(("xaxis", "yaxis"))]
    assert len(axes) >= 4 and all(axis.get("zeroline") is False for axis in axes)


def test_the_key_has_a_masked_swatch_only_when_a_column_is_masked():
    flux = RNG.normal(0, 1, (40, 30))
    plain = figures.heatmap_figure(_variability(np.arange(40) / 60.0, flux), bands=[Band("mid", 1.8, 2.2)])
    key = "".join(a.text for a in plain.layout.annotations if a.name == "map-key")  # no key items: none
    assert "masked" not in key and MASK_COLOUR not in key
    flux[:, 10:12] = np.nan
    masked = figures.heatmap_figure(_variability(np.arange(40) / 60.0, flux), bands=[Band("mid", 1.8, 2.2)])
    key = [a.text for a in masked.layout.annotations if a.name == "map-key"][0]
    assert f'<span style="color:{MASK_COLOUR}">■</span> masked column' in key
