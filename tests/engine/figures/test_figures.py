"""Plotly figures of a cube: band pieces, units in labels, float32 payloads, hover errors, sizes."""

from __future__ import annotations

import re

import base64
import json

import numpy as np
import pytest

from stamp_engine import figures, steps
from stamp_engine.bands import Band, PRESETS
from stamp_engine.cube import Cube
from stamp_engine.synthetic import make_observation

WAVELENGTH = np.linspace(0.8, 5.2, 240)
VISIT_GAP_HOURS = 20.0
BANDS = (
    Band("H2O 1.4", 1.30, 1.50),
    Band("CH4 1.7", 1.60, 1.80),
    Band("H2O 1.9", 1.80, 2.05),  # shares the 1.80 µm edge with CH4 1.7
    Band("Wide", 1.40, 3.00),  # overlaps three others
    Band("Red end", 5.00, 6.00),  # runs past the data
    Band("Beyond", 6.00, 7.00),  # outside the data: no piece
)


def _cube(obs) -> Cube:
    return obs.to_cube()


def _decode(spec) -> np.ndarray:
    """A Plotly base64 typed array from figure JSON, as numpy."""
    assert isinstance(spec, dict) and set(spec) >= {"dtype", "bdata"}, f"not a typed array: {str(spec)[:80]}"
    values = np.frombuffer(base64.b64decode(spec["bdata"]), dtype=np.dtype(spec["dtype"]))
    if "shape" in spec:
        values = values.reshape([int(n) for n in str(spec["shape"]).split(",")])
    return values


def _json(fig) -> dict:
    return json.loads(fig.to_json())


@pytest.fixture(scope="module")
def flux_cube() -> Cube:
    obs = make_observation("variability", n_integrations=300, wavelength=WAVELENGTH, n_visits=2,
                           visit_gap_hours=VISIT_GAP_HOURS, cadence_s=60.0, seed=11)
    return _cube(obs)


@pytest.fixture(scope="module")
def var_cube(flux_cube) -> Cube:
    return steps.normalize(flux_cube)


# ------------------------------------------------------------------ colour scales
def test_colour_scales_offer_diverging_and_sequential_explicit_scales():
    assert len(figures.COLORSCALES) >= 10
    assert figures.DEFAULT_COLORSCALE == "RdBu_r" and "RdBu_r" in figures.DIVERGING_COLORSCALES
    for name in ("Viridis", "Inferno", "Magma", "Plasma", "Cividis", "Turbo", "Greys"):
        assert name in figures.COLORSCALES and name not in figures.DIVERGING_COLORSCALES
    for name, scale in figures.COLORSCALES.items():
        assert scale[0][0] == 0.0 and scale[-1][0] == 1.0, name
    # RdBu_r runs from blue (fainter) to red (brighter)
    low, high = figures.colorscale("RdBu_r")[0][1], figures.colorscale("RdBu_r")[-1][1]
    assert low == "rgb(5,48,97)" and high == "rgb(103,0,31)"
    with pytest.raises(ValueError, match="unknown colour scale 'Nope'"):
        figures.colorscale("Nope")


# -------------------------------------------------------------------- band columns
def test_band_columns_are_the_columns_inside_each_band():
    spans = figures.band_columns(WAVELENGTH, BANDS)
    assert [s.name for s in spans] == ["H2O 1.4", "CH4 1.7", "H2O 1.9", "Wide", "Red end"]  # "Beyond" holds none
    for span, band in zip(spans, BANDS):
        np.testing.assert_array_equal(np.arange(span.start, span.stop), np.flatnonzero(band.mask(WAVELENGTH)))


def test_band_narrower_than_a_column_gets_the_nearest_column():
    wavelength = np.array([1.0, 1.1, 1.2, 1.3])
    assert figures.band_columns(wavelength, [Band("Na", 1.12, 1.14)]) == [figures.BandColumns("Na", 1, 2)]


def test_surface_vertices_repeat_each_inner_band_edge_once():
    spans = [figures.BandColumns("a", 2, 4), figures.BandColumns("b", 0, 2), figures.BandColumns("c", 5, 6)]
    columns, ranges = figures.surface_vertex_columns(6, spans)
    np.testing.assert_array_equal(columns, [0, 1, 2, 2, 3, 4, 4, 5, 5])
    # band a colours the quads from column 2 to 4: the second copy of 2 … the first copy of 4
    assert ranges == [(3, 6), (0, 3), (8, 9)]
    assert figures.surface_vertex_columns(4, []) == (pytest.approx(np.arange(4)), [])


def test_a_step_surface_gives_each_channel_a_strip_and_draws_every_band_edge_step_twice():
    columns, edges, ranges = figures.surface_step_vertices(
        3, [figures.BandColumns("middle", 1, 2), figures.BandColumns("last", 2, 3)])
    # channel j spans edges j … j + 1; at the cuts (1 and 2) the vertices either side of the step repeat
    np.testing.assert_array_equal(columns, [0, 0, 0, 1, 1, 1, 1, 2, 2, 2])
    np.testing.assert_array_equal(edges, [0, 1, 1, 1, 1, 2, 2, 2, 2, 3])
    # "middle": from the second copy of channel 0's last vertex (the step up to it) to the first copy
    # of channel 2's first vertex (the step down from it); "last": its step, its strip, to the end
    assert ranges == [(2, 8), (6, 10)]
    columns, edges, ranges = figures.surface_step_vertices(2, [figures.BandColumns("first", 0, 1)])
    assert ranges == [(0, 4)] and list(columns[ranges[0][1]:]) == [1, 1]  # channel 1's strip stays grey


def test_a_surface_of_few_channels_is_drawn_in_steps_over_the_channel_cells_and_its_hover_names_the_centre():
    obs = make_observation("variability", n_integrations=30, wavelength=np.array([2.0, 3.0, 4.0]), n_visits=1, seed=2)
    fig = figures.surface_figure(obs.to_cube(), bands=[Band("last", 3.8, 4.2)])
    trace = fig.data[0]
    # cells reach halfway to the neighbours: 1.5 | 2.5 | 3.5 | 4.5 µm, each channel flat across its own
    assert sorted(set(np.round(np.asarray(trace.x, dtype=float), 3))) == [1.5, 2.5, 3.5, 4.5]
    z = np.asarray(trace.z, dtype=float)
    x = np.asarray(trace.x, dtype=float)
    centre = np.array([column[0][1] for column in trace.customdata])  # customdata[x index][y index]
    for wavelength in (2.0, 3.0, 4.0):  # every vertex of a channel has its value: a flat strip
        of_channel = z[:, centre == wavelength]
        assert of_channel.shape[1] >= 2 and np.allclose(of_channel, of_channel[:, :1])
    assert set(np.round(x[centre == 2.0], 3)) == {1.5, 2.5}
    (start, stop), = [band["columns"] for band in trace.meta["bands"]]
    assert x[start] == pytest.approx(3.5) and x[stop - 1] == pytest.approx(4.5)
    assert "channel centre" in trace.hovertemplate and "%{customdata[0]" in trace.hovertemplate
    centres = {round(point[1], 6) for row in trace.customdata for point in row}
    assert centres == {2.0, 3.0, 4.0}
    many = figures.surface_figure(make_observation("variability", n_integrations=30, n_visits=1).to_cube())
    assert "channel centre" not in many.data[0].hovertemplate  # many channels: a vertex per centre


# ------------------------------------------------------------------------ surface
def test_one_surface_per_visit_with_units_and_time_standard_in_the_axis_titles(flux_cube, var_cube):
    fig = figures.surface_figure(flux_cube)
    assert [t.type for t in fig.data] == ["surface", "surface"]
    assert [t.meta["visit"] for t in fig.data] == [0, 1]
    assert all(t.meta["role"] == "band-map" and t.meta["bands"] == [] for t in fig.data)
    assert [list(s) for s in fig.layout.coloraxis.colorscale] == figures.colorscale("Viridis")  # flux default
    scene = fig.layout.scene
    assert scene.xaxis.title.text == "Wavelength (µm)"
    assert scene.yaxis.title.text == "Time since t0 (h)"
    assert [a.text for a in fig.layout.annotations if a.name == "t0"] == [f"t0 = BJD_TDB {flux_cube.t0.jd:.5f}"]
    assert scene.zaxis.title.text == "Flux (Jy)"
    assert fig.layout.coloraxis.colorbar.title.text.split("  <span")[0] == "Flux (Jy)"

    var_fig = figures.surface_figure(var_cube)
    assert var_fig.layout.scene.zaxis.title.text == "Variability (%)"
    axis = var_fig.layout.coloraxis
    assert axis.cmid == 0 and axis.cmin == pytest.approx(-axis.cmax) and axis.cmax > 0
    assert [list(s) for s in axis.colorscale] == figures.colorscale("RdBu_r")
    assert all(t.coloraxis == "coloraxis" for t in var_fig.data)
    # visits keep their own hours: the 20 h gap between them is empty space
    first, second = (np.asarray(t.y) for t in var_fig.data)
    assert second[0] - first[-1] == pytest.approx(VISIT_GAP_HOURS, abs=0.1)


def test_one_surface_per_visit_whose_band_edges_are_drawn_twice(var_cube):
    fig = figures.surface_figure(var_cube, bands=BANDS, colorscale="PuOr_r")
    shown = figures.display_cube(var_cube)
    spans = figures.band_columns(shown.wavelength, BANDS)
    columns, ranges = figures.surface_vertex_columns(shown.n_wavelengths, spans)
    assert len(fig.data) == var_cube.n_visits
    assert [list(s) for s in fig.layout.coloraxis.colorscale] == figures.colorscale("PuOr_r")
    for v, trace in enumerate(fig.data):
        assert trace.meta["visit"] == v and trace.coloraxis == "coloraxis"
        np.testing.assert_allclose(np.asarray(trace.x, dtype=float), shown.wavelength[columns], rtol=1e-6)
        assert [b["name"] for b in trace.meta["bands"]] == [s.name for s in spans]
        for band, span, (start, stop) in zip(trace.meta["bands"], spans, ranges):
            assert band["columns"] == [start, stop]
            lit = columns[start:stop]  # vertex columns in colour: the band's own, up to the next column
            assert lit[0] == span.start and lit[-1] == min(span.stop, shown.n_wavelengths - 1)


def test_surface_json_carries_float32_binned_values_and_the_error_in_hover(var_cube):
    fig = figures.surface_figure(var_cube, bands=BANDS[:2], max_time=50, max_wavelength=60)
    shown = figures.display_cube(var_cube, max_time=50, max_wavelength=60)
    assert shown.n_integrations <= 50 + var_cube.n_visits and shown.n_wavelengths <= 60
    payload = _json(fig)
    columns, _ = figures.surface_vertex_columns(shown.n_wavelengths, figures.band_columns(shown.wavelength, BANDS[:2]))
    assert len(payload["data"]) == var_cube.n_visits
    for trace in payload["data"]:
        for key in ("x", "y", "z", "customdata"):
            assert trace[key]["dtype"] == "f4", key
        rows = np.flatnonzero(shown.visit == trace["meta"]["visit"])
        z, err = _decode(trace["z"]), _decode(trace["customdata"])
        np.testing.assert_array_equal(z, shown.flux[rows][:, columns].astype(np.float32))
        # Plotly.js indexes a surface's customdata [x][y]: the transpose of z
        np.testing.assert_array_equal(err, shown.error[rows][:, columns].T.astype(np.float32))
        assert "%{customdata" in trace["hovertemplate"] and "error" in trace["hovertemplate"]
        assert "µm" in trace["hovertemplate"] and "BJD_TDB" in trace["hovertemplate"]


def test_surface_is_decimated_for_display_while_the_heatmap_keeps_the_display_resolution():
    """A 3D surface shows shape: at most SURFACE_MAX_TIME × SURFACE_MAX_WAVELENGTH vertices (plus the
    repeated band-edge columns), so software WebGL draws it in seconds; the heatmap keeps every display cell."""
    obs = make_observation("transit", n_integrations=1_000, wavelength=np.linspace(0.6, 5.3, 900),
                           cadence_s=10.0, seed=3)
    cube = steps.normalize(_cube(obs))
    bands = BANDS[:3]
    surface = _json(figures.surface_figure(cube, bands=bands, max_time=600, max_wavelength=500))
    heatmap = _json(figures.heatmap_figure(cube, bands=bands, max_time=600, max_wavelength=500))
    (surface_trace,), (heatmap_trace,) = surface["data"], heatmap["data"]
    rows, columns = _decode(surface_trace["z"]).shape
    edges = 2 * len(bands)  # each inner band edge adds one repeated vertex column
    assert rows <= figures.SURFACE_MAX_TIME and columns <= figures.SURFACE_MAX_WAVELENGTH + edges, (rows, columns)
    assert rows * columns < 0.2 * cube.n_integrations * cube.n_wavelengths
    # every vertex is a bin mean of the cube: the surface keeps the data's range and shape
    shown = figures.display_cube(cube, *figures.surface_grid(600, 500))
    vertex_columns, _ = figures.surface_vertex_columns(shown.n_wavelengths, figures.band_columns(shown.wavelength, bands))
    np.testing.assert_array_equal(_decode(surface_trace["z"]), shown.flux[:, vertex_columns].astype(np.float32))
    assert _decode(heatmap_trace["z"]).shape == (500, 450)  # ceil(1000 / 600) = 2, ceil(900 / 500) = 2
    # the surface's band map names the same bands over the same wavelengths as the heatmap's
    assert [b["name"] for b in surface_trace["meta"]["bands"]] == [b["name"] for b in heatmap_trace["meta"]["bands"]]


def test_zrange_fixes_colour_and_z_axis(var_cube):
    fig = figures.surface_figure(var_cube, zrange=(-3.0, 2.0), colorscale="Magma")
    assert (fig.layout.coloraxis.cmin, fig.layout.coloraxis.cmax) == (-3.0, 2.0)
    assert tuple(fig.layout.scene.zaxis.range) == (-3.0, 2.0)
    with pytest.raises(ValueError, match="zrange"):
        figures.surface_figure(var_cube, zrange=(2.0, -3.0))
    with pytest.raises(ValueError, match="unknown colour scale"):
        figures.surface_figure(var_cube, colorscale="NoSuchScale")


# ------------------------------------------------------------------------ heatmap
def test_heatmap_separates_visits_and_hovers_with_the_error(var_cube):
    fig = figures.heatmap_figure(var_cube, bands=BANDS, visits="one axis")
    assert {t.type for t in fig.data} == {"heatmap"}
    assert fig.layout.xaxis.title.text == "Wavelength (µm)"
    assert fig.layout.yaxis.title.text == f"Time since t0 (h); t0 = BJD_TDB {var_cube.t0.jd:.5f}"
    assert fig.layout.coloraxis.colorbar.title.text.split("  <span")[0] == "Variability (%)"
    assert [t.meta["visit"] for t in fig.data] == [0, 1]  # one trace per visit: no seams at band edges
    v0, v1 = (np.asarray(t.y, dtype=float) for t in fig.data)
    assert v0.max() < v1.min() and v1.min() - v0.max() == pytest.approx(VISIT_GAP_HOURS, abs=0.1)
    payload = _json(fig)
    shown = figures.display_cube(var_cube)
    for trace in payload["data"]:
        rows = np.flatnonzero(shown.visit == trace["meta"]["visit"])
        np.testing.assert_array_equal(_decode(trace["z"]), shown.flux[rows].astype(np.float32))
        np.testing.assert_array_equal(_decode(trace["customdata"]), shown.error[rows].astype(np.float32))
        assert "%{customdata" in trace["hovertemplate"]
        # cell edges: one more than the columns, centred on the wavelengths
        edges = _decode(trace["x"]).astype(float)
        np.testing.assert_allclose(0.5 * (edges[1:] + edges[:-1]), shown.wavelength, rtol=1e-6)
        assert trace["meta"]["extent"] == pytest.approx([edges[0], edges[-1]], rel=1e-6)
        # each band's wavelength span runs over the cell edges of its columns
        for band, span in zip(trace["meta"]["bands"], figures.band_columns(shown.wavelength, BANDS)):
            assert band["columns"] == [span.start, span.stop]
            assert band["x"] == pytest.approx([edges[span.start], edges[span.stop]], rel=1e-6)


# ------------------------------------------------------------------- light curves
def test_light_curves_have_one_ribbon_each_and_never_bridge_a_visit_gap(var_cube):
    bands = [b for b in BANDS if b.overlaps(0.8, 5.2)][:3]
    curves = var_cube.light_curves(bands)
    fig = figures.light_curve_figure(curves)
    ribbons = [t for t in fig.data if t.meta["role"] == "error-ribbon"]
    lines = [t for t in fig.data if t.meta["role"] == "light-curve"]
    assert len(ribbons) == len(curves) == len(lines) == 1 + len(bands)
    assert [t.name for t in lines] == [c.name for c in curves]
    assert all(t.fill == "toself" for t in ribbons)
    assert fig.layout.xaxis.title.text == f"Time since t0 (h); t0 = BJD_TDB {var_cube.t0.jd:.5f}"
    assert fig.layout.yaxis.title.text == "Variability (%)"
    for curve, line, ribbon in zip(curves, lines, ribbons):
        x, y = np.asarray(line.x, dtype=float), np.asarray(line.y, dtype=float)
        assert line.connectgaps is False
        gap = np.flatnonzero(np.diff(x) > 1.0)  # no step between plotted points crosses the visit gap
        assert gap.size == 0 or np.all(np.isnan(y[gap]) | np.isnan(y[gap + 1]))
        breaks = np.flatnonzero(np.isnan(x))
        assert breaks.size == var_cube.n_visits - 1
        finite = ~np.isnan(x)
        np.testing.assert_allclose(x[finite], curve.hours, atol=1e-5)
        np.testing.assert_allclose(y[finite], curve.value, rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(np.asarray(line.customdata, dtype=float)[finite], curve.error, rtol=1e-5)
        # the ribbon is value ± error, one closed polygon per visit
        rx, ry = np.asarray(ribbon.x, dtype=float), np.asarray(ribbon.y, dtype=float)
        assert np.isnan(rx).sum() == var_cube.n_visits - 1
        first = slice(0, np.flatnonzero(np.isnan(rx))[0])
        n0 = int(np.sum(curve.visit == 0))
        np.testing.assert_allclose(ry[first][:n0], (curve.value + curve.error)[:n0], rtol=1e-5)
        np.testing.assert_allclose(ry[first][n0:], (curve.value - curve.error)[:n0][::-1], rtol=1e-5)


def test_long_light_curves_are_block_averaged_not_decimated(var_cube):
    curve = var_cube.white_light()
    fig = figures.light_curve_figure([curve], max_points=30)
    line = next(t for t in fig.data if t.meta["role"] == "light-curve")
    y = np.asarray(line.y, dtype=float)
    y = y[~np.isnan(y)]
    factor = int(np.ceil(curve.value.size / 30))
    first_visit = curve.value[curve.visit == 0]
    assert y.size <= 30 + var_cube.n_visits
    assert y[0] == pytest.approx(first_visit[:factor].mean(), rel=1e-5)
    err = np.asarray(line.customdata, dtype=float)[0]
    assert err == pytest.approx(np.sqrt(np.sum(curve.error[:factor] ** 2)) / factor, rel=1e-5)


# ------------------------------------------------------------------------ spectra
def test_spectrum_of_a_normalized_cube_is_shown_back_in_flux(flux_cube, var_cube):
    row = 200  # in the second visit
    fig = figures.spectrum_figure(var_cube, row, mode="flux")
    spectrum = next(t for t in fig.data if t.meta["role"] == "spectrum")
    reference = next(t for t in fig.data if t.meta["role"] == "reference")
    np.testing.assert_allclose(np.asarray(spectrum.y, dtype=float), flux_cube.flux[row], rtol=1e-5)
    np.testing.assert_allclose(np.asarray(spectrum.customdata, dtype=float), flux_cube.error[row], rtol=1e-4)
    np.testing.assert_allclose(np.asarray(reference.y, dtype=float), var_cube.reference[1], rtol=1e-6)
    assert fig.layout.yaxis.title.text == "Flux (Jy)"
    assert fig.layout.xaxis.title.text == "Wavelength (µm)"
    title = fig.layout.title.text
    assert f"frame {row + 1} of {var_cube.n_integrations}: integration {var_cube.integration[row]}," in title
    assert "visit 2" in title
    shown_hours = float(re.search(r"integration \d+, ([-\d.]+) h", title).group(1))
    assert shown_hours == pytest.approx(var_cube.hours[row], abs=0.001)
    ribbon = next(t for t in fig.data if t.meta["role"] == "error-ribbon")
    n = WAVELENGTH.size
    np.testing.assert_allclose(np.asarray(ribbon.y, dtype=float)[:n], flux_cube.flux[row] + flux_cube.error[row], rtol=1e-5)


def test_spectrum_shows_variability_by_default_as_the_video_does(flux_cube, var_cube):
    row = 200
    fig = figures.spectrum_figure(var_cube, row)
    spectrum = next(t for t in fig.data if t.meta["role"] == "spectrum")
    reference = next(t for t in fig.data if t.meta["role"] == "reference")
    np.testing.assert_allclose(np.asarray(spectrum.y, dtype=float), var_cube.flux[row], rtol=1e-5)
    assert np.all(np.asarray(reference.y, dtype=float) == 0)
    assert fig.layout.yaxis.title.text == "Variability (%)"
    # one y range for all frames, tight enough that a 1–3 % change fills a good part of it
    lo, hi = fig.layout.yaxis.range
    assert lo == -hi and 1 < hi < 50
    # a flux cube is shown as variability of its visit's median spectrum
    flux_fig = figures.spectrum_figure(flux_cube, 10)
    median = np.median(flux_cube.flux[flux_cube.visit == 0], axis=0)
    y = np.asarray(next(t for t in flux_fig.data if t.meta["role"] == "spectrum").y, dtype=float)
    np.testing.assert_allclose(y, (flux_cube.flux[10] / median - 1) * 100, rtol=1e-4, atol=1e-5)


def test_binned_frames_say_which_integrations_and_hours_they_average(var_cube):
    binned = var_cube.bin(time=4)
    labels = figures.frame_labels(binned)
    first, last = var_cube.integration[8], var_cube.integration[11]
    h0, h1 = var_cube.hours[8], var_cube.hours[11]
    assert labels[2].startswith(f"bin 3 of {binned.n_integrations}: integrations {first}–{last}, ")
    spanned = re.search(r", ([-\d.]+)–([-\d.]+) h", labels[2]).groups()
    assert [float(v) for v in spanned] == pytest.approx([h0, h1], abs=0.001)
    # binned again for display: the spans of the spans
    shown = figures.display_cube(binned, max_time=binned.n_integrations // 2)
    label = figures.frame_labels(shown)[0]
    assert f"integrations {var_cube.integration[0]}–{var_cube.integration[7]}," in label
    assert figures.spectrum_figure(binned, 2).layout.title.text.endswith(labels[2])


def test_spectrum_of_flux_is_compared_with_the_visit_median(flux_cube):
    fig = figures.spectrum_figure(flux_cube, 10, mode="flux")
    reference = next(t for t in fig.data if t.meta["role"] == "reference")
    median = np.median(flux_cube.flux[flux_cube.visit == 0], axis=0)
    np.testing.assert_allclose(np.asarray(reference.y, dtype=float), median, rtol=1e-6)
    with pytest.raises(IndexError, match="outside"):
        figures.spectrum_figure(flux_cube, flux_cube.n_integrations)


def test_spectrum_player_frames_are_binned_float32_and_driven_by_slider_and_buttons(var_cube):
    fig = figures.spectrum_player_figure(var_cube, max_frames=40, max_wavelength=100)
    shown = figures.display_cube(var_cube, max_time=40, max_wavelength=100)
    assert len(fig.frames) == shown.n_integrations <= 40 + var_cube.n_visits
    assert len(fig.layout.sliders[0].steps) == len(fig.frames)
    labels = [b.label for b in fig.layout.updatemenus[0].buttons]
    assert any("Play" in label for label in labels) and any("Pause" in label for label in labels)
    payload = _json(fig)
    frame = payload["frames"][5]
    assert frame["traces"] == [0, 1, 2]
    line = _decode(frame["data"][1]["y"])
    assert frame["data"][1]["y"]["dtype"] == "f4"
    np.testing.assert_allclose(line, shown.flux[5], rtol=1e-5)  # variability %, as the dashboard and the MP4
    assert f"bin 6 of {shown.n_integrations}: integrations" in frame["layout"]["title"]["text"]
    flux = _json(figures.spectrum_player_figure(var_cube, max_frames=40, max_wavelength=100, mode="flux"))
    reference = shown.reference[shown.visit[5]]
    np.testing.assert_allclose(_decode(flux["frames"][5]["data"][1]["y"]), reference * (1 + shown.flux[5] / 100), rtol=1e-5)


# ----------------------------------------------------------- display resolution
def test_display_cube_is_identity_when_small_and_bins_within_visits(var_cube):
    assert figures.display_cube(var_cube, max_time=10_000, max_wavelength=10_000) is var_cube
    shown = figures.display_cube(var_cube, max_time=30, max_wavelength=50)
    assert shown.n_wavelengths == 48  # ceil(240 / 50) = 5 per bin
    assert set(np.unique(shown.visit)) == {0, 1}
    block = var_cube.flux[:10, :5]  # ceil(300 / 30) = 10 per bin
    assert shown.flux[0, 0] == pytest.approx(block.mean(), rel=1e-12)
    with pytest.raises(ValueError):
        figures.display_cube(var_cube, max_time=0)


@pytest.fixture(scope="module")
def big_cube() -> Cube:
    """10,000 integrations × 2,040 wavelengths in two visits: the size budget's case."""
    obs = make_observation("transit", n_integrations=10_000, wavelength=np.linspace(0.6, 5.3, 2040),
                           n_visits=2, cadence_s=10.0, seed=5)
    return _cube(obs)


def test_big_cube_figures_stay_within_the_budget(big_cube):
    bands = PRESETS["Molecules (near-IR)"]
    var = steps.normalize(big_cube)
    sizes = {
        "surface": figures.figure_nbytes(figures.surface_figure(var, bands)),
        "heatmap": figures.figure_nbytes(figures.heatmap_figure(var, bands)),
        "flux surface": figures.figure_nbytes(figures.surface_figure(big_cube)),
        "light curves": figures.figure_nbytes(figures.light_curve_figure(var.light_curves(bands))),
        "spectrum": figures.figure_nbytes(figures.spectrum_figure(var, 7000)),
        "player": figures.figure_nbytes(figures.spectrum_player_figure(var)),
    }
    assert all(0 < n <= figures.FIGURE_BUDGET_BYTES for n in sizes.values()), sizes
    assert figures.FIGURE_BUDGET_BYTES == 5 * 1024 * 1024


def test_display_binning_averages_a_spike_instead_of_dropping_it(big_cube):
    flux = np.zeros(big_cube.shape)
    spike_row, spike_col, spike = 17 * 10 + 3, 5 * 20 + 2, 850.0
    flux[spike_row, spike_col] = spike
    spiky = big_cube.replace(flux=flux, error=np.ones(big_cube.shape))
    shown = figures.display_cube(spiky)
    time_factor, wavelength_factor = 17, 5  # ceil(10000 / 600), ceil(2040 / 500)
    assert shown.n_wavelengths == 408 and shown.n_integrations == 2 * 295
    assert shown.flux[10, 20] == pytest.approx(spike / (time_factor * wavelength_factor))
    assert np.count_nonzero(shown.flux) == 1
    assert shown.flux.sum() * time_factor * wavelength_factor == pytest.approx(spike)
    # the figure shows the binned value
    payload = _json(figures.heatmap_figure(spiky))
    z = _decode(payload["data"][0]["z"])
    assert z[10, 20] == pytest.approx(spike / 85, rel=1e-6) and np.count_nonzero(z) == 1
    # and the binned mean of real data equals the mean of the samples it covers
    real = figures.display_cube(big_cube)
    np.testing.assert_allclose(real.flux[3, 7], big_cube.flux[51:68, 35:40].mean(), rtol=1e-12)


def test_titles_without_a_target_say_what_is_known(tmp_path):
    from stamp_engine import load
    from stamp_engine.synthetic.eureka import write_eureka_s3

    obs = make_observation("transit", n_integrations=20, wavelength=np.linspace(1.0, 2.0, 30), seed=2, meta={"target": ""})
    cube = load([write_eureka_s3(tmp_path / "S3_wasp_ap5_SpecData.h5", obs)])
    assert not cube.meta.get("target")
    for fig in (figures.heatmap_figure(cube), figures.spectrum_figure(cube, 0)):
        text = fig.layout.title.text
        assert "unknown target" not in text
        assert "S3_wasp_ap5_SpecData.h5" in text and "no target name" in text
    instrument = " ".join(str(cube.meta[k]) for k in ("instrument", "detector") if cube.meta.get(k))
    assert instrument  # the Eureka! file says which instrument
    assert figures.heatmap_figure(cube).layout.title.text == f"{instrument}, S3_wasp_ap5_SpecData.h5 (no target name) — map"


def test_error_band_is_one_polygon_per_run_of_finite_columns():
    """A NaN inside one forward/backward polygon makes Plotly close the wrong vertices: the band
    has one closed polygon per run of columns with data, NaN between them."""
    from stamp_engine.figures.common import error_band_polygons

    w = np.arange(8.0)
    value = np.array([1.0, 2.0, np.nan, 4.0, 5.0, 6.0, 7.0, 8.0])
    error = np.array([0.1, 0.1, 0.1, 0.1, np.nan, 0.2, 0.2, 0.2])
    x, y = error_band_polygons(w, value, error)
    parts = np.split(np.c_[x, y], np.flatnonzero(np.isnan(x)))
    parts = [p[~np.isnan(p[:, 0])] for p in parts]
    assert [p[:, 0].tolist() for p in parts] == [[0, 1, 1, 0], [3, 3], [5, 6, 7, 7, 6, 5]]
    np.testing.assert_allclose(parts[2][:, 1], [6.2, 7.2, 8.2, 7.8, 6.8, 5.8])
    assert error_band_polygons(w, value * np.nan, error)[0].size == 0


def test_spectrum_player_frames_carry_the_band_polygons_of_each_frame(flux_cube):
    cube = flux_cube
    fig = figures.spectrum_player_figure(cube, max_frames=4, mode="flux")
    frames = figures.spectrum_frames(cube, "flux", max_frames=4, max_wavelength=figures.MAX_DISPLAY_WAVELENGTH)
    from stamp_engine.figures.common import error_band_polygons

    for i, frame in enumerate(fig.frames):
        x, y = error_band_polygons(frames.wavelength, frames.value[i], frames.error[i])
        np.testing.assert_allclose(np.asarray(frame.data[0].x, dtype=float), x, rtol=1e-6)
        np.testing.assert_allclose(np.asarray(frame.data[0].y, dtype=float), y, rtol=1e-5)


def test_heatmap_error_rows_point_at_the_errors_its_customdata_would_carry():
    """``errors="rows"``: no customdata (the page holds the errors), and each drawn row names the
    cube row whose error the hover shows; gap rows and interpolated rows name none (-1)."""
    import astropy.units as u
    from astropy.time import Time

    obs = make_observation("variability", n_integrations=60, wavelength=np.linspace(1.0, 2.0, 12), seed=5,
                           n_visits=2, visit_gap_hours=48.0)
    hours = np.concatenate([np.arange(30), 60 + np.arange(30)]) / 60.0  # one gap inside the visit
    rng = np.random.default_rng(2)
    gapped = Cube(np.linspace(1.0, 2.0, 12), Time(60000.0 + hours / 24.0, format="mjd", scale="tdb"),
                  rng.normal(size=(60, 12)), rng.uniform(0.1, 0.2, (60, 12)), u.percent)
    filled = steps.interpolate_gaps(gapped.replace(reference=np.ones((1, 12)), reference_unit=u.Jy))
    assert figures.interpolated_rows(filled).any()
    for cube in (obs.to_cube().split_visits(1.0).normalize(), gapped, filled):
        plain, rows = figures.heatmap_figure(cube), figures.heatmap_figure(cube, errors="rows")
        assert len(plain.data) == len(rows.data) >= 1
        for with_errors, by_row in zip(plain.data, rows.data):
            assert by_row.customdata is None
            shows = np.asarray(by_row.meta["error_rows"])
            expected = np.asarray(with_errors.customdata, dtype=float)
            rebuilt = np.where((shows >= 0)[:, None], cube.error[np.maximum(shows, 0)], np.nan)
            np.testing.assert_array_equal(np.isnan(rebuilt), np.isnan(expected))
            np.testing.assert_allclose(rebuilt[~np.isnan(rebuilt)], expected[~np.isnan(expected)], rtol=1e-6)
        assert (np.concatenate([t.meta["error_rows"] for t in rows.data]) < 0).any() or cube is not gapped
    with pytest.raises(ValueError, match="errors must be"):
        figures.heatmap_figure(cube, errors="text")


def test_a_surface_that_cannot_be_drawn_says_why_instead_of_an_empty_box(var_cube):
    one_channel = var_cube.select(wavelength=(float(var_cube.wavelength[3]), float(var_cube.wavelength[3])))
    assert one_channel.n_wavelengths == 1
    notes = [a.text for a in figures.surface_figure(one_channel).layout.annotations if a.name == "no-surface"]
    assert len(notes) == 1 and notes[0].startswith("1 wavelength channel: a surface needs at least two")
    assert not [a for a in figures.surface_figure(var_cube).layout.annotations if a.name == "no-surface"]
