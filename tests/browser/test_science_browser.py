"""The science panels as drawn (headless Chromium): what the pixels show must be the science.

* Transmission spectrum of a synthetic transit whose depth(λ) is known: the markers
  drawn sit at the injected depths, their error bars are drawn at ±1σ, the bands are
  shaded behind; windows come from the WINDOWS_STORE (as a box-select writes it) and
  typed inputs.
* Spectroscopic light curves of the same transit: each channel's drawn dip is its
  depth; divided by the white light, the dip is gone.
* Variability of the demo brown dwarf: the periodogram's drawn peak is at the
  injected 2.4 h with its false-alarm line drawn, and the amplitude and phase markers
  sit at the injected amplitude(λ) and phase(λ).
"""

from __future__ import annotations

import numpy as np
import pytest

from dashboard import ids
from dashboard.server.config import Config
from stamp_engine.channels import channel_edges
from stamp_engine.synthetic import make_observation, molecular_feature, variability_amplitude
from stamp_engine.synthetic.eureka import write_eureka_s3
from tests.helpers import pixels
from tests.browser.test_highlight_browser import open_page, settle, wait_until

pytestmark = pytest.mark.browser

#: The synthetic transit: 300 one-minute integrations, mid-transit at 2.49 h, flat bottom ±0.75 h.
TRANSIT = {"n_integrations": 300, "wavelength": np.linspace(0.8, 5.0, 200), "snr": 600.0, "seed": 11}
IN_TRANSIT = (1.9, 3.1)
BEFORE, AFTER = (0.0, 1.4), (3.6, 4.98)


@pytest.fixture(scope="module")
def transit_file(tmp_path_factory):
    obs = make_observation("transit", **TRANSIT)
    path = write_eureka_s3(tmp_path_factory.mktemp("transit") / "transit_SpecData.h5", obs, flux_units="mJy")
    return path, obs


def plot_area(duo, graph: str, axes: str = "") -> dict:
    """Screen box of a graph's plot area (axes ``x{axes}``/``y{axes}``) and the graph element."""
    element = duo.find_element(f"#{graph} .js-plotly-plot")
    box = duo.driver.execute_script(
        "var gd = arguments[0], L = gd._fullLayout, x = L['xaxis' + arguments[1]], y = L['yaxis' + arguments[1]];"
        "return [x._offset, y._offset, x._offset + x._length, y._offset + y._length];", element, axes)
    return {"element": element, "box": box}


def data_to_pixels(duo, element, xs, ys, axes: str = "") -> tuple[np.ndarray, np.ndarray]:
    """Pixel positions (in the graph element) of data points, by the drawn axes' own mapping."""
    xy = duo.driver.execute_script(
        "var L = arguments[0]._fullLayout, x = L['xaxis' + arguments[3]], y = L['yaxis' + arguments[3]];"
        "return [arguments[1].map(function (v) { return x._offset + x.l2p(x.d2l(v)); }),"
        "        arguments[2].map(function (v) { return y._offset + y.l2p(y.d2l(v)); })];",
        element, [float(v) for v in xs], [float(v) for v in ys], axes)
    return np.asarray(xy[0]), np.asarray(xy[1])


def graph_image(duo, element) -> np.ndarray:
    duo.driver.execute_script("arguments[0].scrollIntoView({block: 'center', behavior: 'instant'});", element)
    settle(duo)
    return pixels.screenshot(duo.driver, element)


def wait_for_role(duo, graph: str, role: str):
    return wait_until(lambda: duo.driver.execute_script(
        "var gd = document.querySelector('#' + arguments[0] + ' .js-plotly-plot');"
        "return !!(gd && gd.data && gd.data.some(function (t) { return t.meta && t.meta.role === arguments[1]; })"
        " && gd.querySelector('.main-svg'));".replace("arguments[1]", "'" + role + "'"), graph), what=f"{role} in #{graph}")


def marker_centres(image: np.ndarray, xs: np.ndarray, box, dark: float = 110.0) -> np.ndarray:
    """Row of each marker's centre: the rows where the dark pixels around column x are widest (the marker, not its bar)."""
    left, top, right, bottom = (int(round(v)) for v in box)
    dark_pixels = pixels.lightness(image) < dark
    rows = []
    for x in np.rint(xs).astype(int):
        window = dark_pixels[top:bottom, x - 5:x + 6]
        width = window.sum(axis=1)
        wide = np.flatnonzero(width >= max(4, width.max() - 1))
        rows.append(top + wide.mean() if width.max() >= 4 else np.nan)
    return np.asarray(rows)


def bar_half_lengths(image: np.ndarray, xs: np.ndarray, box, dark: float = 110.0) -> np.ndarray:
    """Half the vertical extent of the dark pixels in the column of each marker: its error bar (or the marker)."""
    left, top, right, bottom = (int(round(v)) for v in box)
    dark_pixels = pixels.lightness(image) < dark
    half = []
    for x in np.rint(xs).astype(int):
        rows = np.flatnonzero(dark_pixels[top:bottom, x - 1:x + 2].any(axis=1))
        half.append((rows.max() - rows.min()) / 2 if rows.size else np.nan)
    return np.asarray(half)


def type_into(duo, element_id: str, value: float) -> None:
    field = duo.find_element(f"#{element_id}")
    duo.driver.execute_script("arguments[0].scrollIntoView({block: 'center', behavior: 'instant'});", field)
    field.clear()
    field.send_keys(str(value))
    field.send_keys("\t")  # debounced inputs report on blur


def test_transmission_spectrum_drawn_matches_the_injected_depths(dash_duo, make_app, transit_file):
    path, obs = transit_file
    app, _ = make_app(demo_path=path)
    open_page(dash_duo, app, "transmission")
    dash_duo.wait_for_contains_text(f"#{ids.DEPTH_MESSAGE}", "Set the in-transit and baseline window", timeout=60)
    # as the linked views' box-select writes it, then the second baseline typed
    dash_duo.driver.execute_script("window.dash_clientside.set_props(arguments[0], {data: arguments[1]});",
                                   ids.WINDOWS_STORE, {"in_transit": list(IN_TRANSIT), "baseline": list(BEFORE)})
    wait_until(lambda: dash_duo.find_element(f"#{ids.IN_TRANSIT_END}").get_attribute("value") == str(IN_TRANSIT[1]),
               30, "the store's windows in the inputs")
    type_into(dash_duo, ids.WINDOW_BASELINE2_START, AFTER[0])
    type_into(dash_duo, ids.WINDOW_BASELINE2_END, AFTER[1])
    dash_duo.wait_for_contains_text(f"#{ids.DEPTH_MESSAGE}", "3.6–4.98 h", timeout=60)
    wait_for_role(dash_duo, ids.DEPTH_GRAPH, "depth")

    area = plot_area(dash_duo, ids.DEPTH_GRAPH)
    edges = channel_edges(obs.wavelength, R=30)  # the panel's default channels
    index = np.clip(np.searchsorted(edges, obs.wavelength, side="right") - 1, 0, edges.size - 2)
    used = np.unique(index)
    centres = 0.5 * (edges[used] + edges[used + 1])
    # normalized cube, equal relative errors: a channel's depth is the plain mean of its pixels' depths
    truth_ppm = np.array([obs.truth["depth"][index == c].mean() for c in used]) * 1e6
    xs, ys = data_to_pixels(dash_duo, area["element"], centres, truth_ppm)
    image = graph_image(dash_duo, area["element"])
    drawn = marker_centres(image, xs, area["box"])
    _, one_ppm_up = data_to_pixels(dash_duo, area["element"], [1.0], [truth_ppm[0] + 1.0])
    px_per_ppm = abs(ys[0] - one_ppm_up[0])
    hours = obs.hours
    n_in = np.count_nonzero((hours >= IN_TRANSIT[0]) & (hours <= IN_TRANSIT[1]))
    n_out = sum(np.count_nonzero((hours >= a) & (hours <= b)) for a, b in (BEFORE, AFTER))
    sigma_ppm = 1e6 / TRANSIT["snr"] / np.sqrt(np.bincount(index)[used]) * np.sqrt(1 / n_in + 1 / n_out)
    assert np.isfinite(drawn).all(), "a channel's marker is missing"
    pulls = (drawn - ys) / px_per_ppm / sigma_ppm
    print("depth pulls", np.round(pulls, 2))
    assert np.abs(np.median(pulls)) < 1.0 and np.percentile(np.abs(pulls), 90) < 3.0

    # error bars: drawn at ±1σ (σ from the injected noise), not absent or marker-sized
    half = bar_half_lengths(image, xs, area["box"])
    expected = sigma_ppm * px_per_ppm
    ratio = np.median(half / expected)
    print(f"error bar half length / expected σ: {ratio:.2f} (σ ≈ {np.median(expected):.1f} px)")
    assert np.median(expected) > 8  # the test's noise makes the bars longer than the marker
    assert 0.75 < ratio < 1.35

    # bands shaded behind, in their light-curve colours; no shade between bands
    shapes = dash_duo.driver.execute_script(
        "return arguments[0].layout.shapes.map(function (s) { return [s.x0, s.x1, s.fillcolor]; });", area["element"])
    assert len(shapes) >= 3
    left, top, right, bottom = (int(round(v)) for v in area["box"])
    band_x, _ = data_to_pixels(dash_duo, area["element"], [0.5 * (s[0] + s[1]) for s in shapes], [0] * len(shapes))
    strip = image[top + 3:top + 12]  # above the markers: only the shading is drawn there
    for (x0, x1, fill), x in zip(shapes, band_x):
        rgba = [float(v) for v in fill[fill.index("(") + 1:-1].split(",")]
        expected_rgb = 255 * (1 - rgba[3]) + rgba[3] * np.array(rgba[:3])
        seen = np.median(strip[:, int(x) - 1:int(x) + 2].reshape(-1, 3), axis=0)
        assert np.abs(seen - expected_rgb).max() < 10, (x0, x1, seen, expected_rgb)
    gaps = [0.5 * (a[1] + b[0]) for a, b in zip(sorted(shapes)[:-1], sorted(shapes)[1:]) if b[0] - a[1] > 0.1]
    gap_x, _ = data_to_pixels(dash_duo, area["element"], gaps, [0] * len(gaps))
    for x in gap_x:
        assert pixels.is_near_white(strip[:, int(x) - 1:int(x) + 2], 6).mean() > 0.9


def curve_rows(image: np.ndarray, colour: str, columns: np.ndarray, box) -> np.ndarray:
    """Rows of the pixels of one curve's colour inside some columns of the plot area."""
    left, top, right, bottom = (int(round(v)) for v in box)
    rgb = np.array([int(colour[i:i + 2], 16) for i in (1, 3, 5)]) if colour.startswith("#") else \
        np.array([float(v) for v in colour[colour.index("(") + 1:-1].split(",")[:3]])
    region = image[top:bottom, columns].astype(float)
    close = np.abs(region - rgb).max(axis=-1) < 40
    return top + np.nonzero(close)[0]


def channel_dips(duo, hours_in, hours_out) -> tuple[np.ndarray, np.ndarray]:
    """Each drawn channel's dip (value out of transit − in transit, in the axis unit) and its wavelength."""
    area = plot_area(duo, ids.CHANNELS_GRAPH)
    element = area["element"]
    traces = duo.driver.execute_script(
        "return arguments[0]._fullData.filter(function (t) { return t.meta && t.meta.role === 'channel-curve'; })"
        ".map(function (t) { return [t.line.color, t.meta.wavelength]; });", element)
    image = graph_image(duo, element)
    x_in, _ = data_to_pixels(duo, element, hours_in, [0, 0])
    x_out, _ = data_to_pixels(duo, element, hours_out, [0] * len(hours_out))
    _, (y0, y1) = data_to_pixels(duo, element, [0, 0], [0.0, 1.0])
    per_unit = y0 - y1
    inside = np.arange(int(x_in[0]), int(x_in[1]))
    outside = np.concatenate([np.arange(int(a), int(b)) for a, b in zip(x_out[::2], x_out[1::2])])
    dips = []
    for colour, _ in traces:
        rows_in, rows_out = curve_rows(image, colour, inside, area["box"]), curve_rows(image, colour, outside, area["box"])
        assert rows_in.size > 20 and rows_out.size > 20, f"the curve of colour {colour} is not drawn"
        dips.append((np.median(rows_in) - np.median(rows_out)) / per_unit)
    return np.asarray(dips), np.asarray([w for _, w in traces])


def test_spectroscopic_light_curves_dip_by_their_depth_and_not_once_divided_by_the_white_light(dash_duo, make_app,
                                                                                                transit_file):
    path, obs = transit_file
    app, _ = make_app(demo_path=path)
    open_page(dash_duo, app, "channels")
    wait_for_role(dash_duo, ids.CHANNELS_GRAPH, "channel-curve")
    edges = channel_edges(obs.wavelength, n=10)  # the panel's default channels
    index = np.clip(np.searchsorted(edges, obs.wavelength, side="right") - 1, 0, 9)
    truth = 100 * np.array([obs.truth["depth"][index == c].mean() for c in range(10)])  # %, normalized cube
    white = 100 * obs.truth["depth"].mean()
    flat_bottom, out = [2.2, 2.8], [0.2, 1.2, 3.8, 4.8]
    dips, wavelength = channel_dips(dash_duo, flat_bottom, out)
    print("drawn dips (%)", np.round(dips, 3), "injected", np.round(truth, 3))
    assert wavelength.size == 10
    np.testing.assert_allclose(dips, truth, atol=0.08)  # ~1.5 % deep, a few pixels per 0.1 %

    dash_duo.find_element(f"#{ids.CHANNELS_DIVIDE}").click()
    dash_duo.wait_for_contains_text(f"#{ids.CHANNELS_MESSAGE}", "Divided by the white light", timeout=60)
    wait_until(lambda: "residuals" in dash_duo.driver.execute_script(
        "return document.querySelector('#' + arguments[0] + ' .js-plotly-plot').layout.title.text;",
        ids.CHANNELS_GRAPH), 30, "the residuals drawn")
    residual_dips, _ = channel_dips(dash_duo, flat_bottom, out)
    expected = 100 * (1 - (1 - truth / 100) / (1 - white / 100))
    print("drawn residual dips (%)", np.round(residual_dips, 3), "expected", np.round(expected, 3))
    assert np.abs(residual_dips).max() < 0.4 < np.abs(dips).min()
    np.testing.assert_allclose(residual_dips, expected, atol=0.05)


def test_variability_of_the_demo_periodogram_peak_and_amplitude_spectrum_as_injected(dash_duo, make_app):
    import stamp_engine

    app, _ = make_app()
    open_page(dash_duo, app, "variability")
    wait_for_role(dash_duo, ids.PERIODOGRAM_GRAPH, "periodogram")
    wait_for_role(dash_duo, ids.AMPLITUDE_GRAPH, "amplitude")
    dash_duo.wait_for_contains_text(f"#{ids.VARIABILITY_MESSAGE}", "White light: peak at", timeout=30)

    # periodogram: the highest drawn point of the white light (black) is at the injected period
    area = plot_area(dash_duo, ids.PERIODOGRAM_GRAPH)
    element = area["element"]
    image = graph_image(dash_duo, element)
    left, top, right, bottom = (int(round(v)) for v in area["box"])
    plot = image[top:bottom, left:right]
    dark = (pixels.lightness(plot) < 80) & (pixels.saturation(plot) < 0.15)  # the white light's #222
    peak_row = np.flatnonzero(dark.any(axis=1))[0]
    peak_x = left + np.flatnonzero(dark[peak_row:peak_row + 4].any(axis=0)).mean()
    period = 10 ** duo_p2l(dash_duo, element, peak_x)
    print(f"drawn white-light peak at {period:.3f} h")
    assert abs(period - 2.4) < 0.05
    # its 1 % false-alarm level: a dashed black line across the searched periods
    level = dash_duo.driver.execute_script(
        "return arguments[0]._fullData.filter(function (t) { return t.meta && t.meta.role === 'false-alarm-level'; })[0].y[0];",
        element)
    _, (y_level,) = data_to_pixels(dash_duo, element, [1.0], [level])
    row = pixels.lightness(image[int(round(y_level)) - 1:int(round(y_level)) + 2, left:right]).min(axis=0) < 90
    assert 0.3 < row.mean() < 0.9, row.mean()  # dashes: dark and light runs along the row

    # amplitude and phase markers at the injected amplitude(λ), phase(λ) of each channel (R = 30)
    cube = stamp_engine.load([Config().demo_path])
    wavelength = cube.wavelength
    edges = channel_edges(wavelength, R=30)
    index = np.clip(np.searchsorted(edges, wavelength, side="right") - 1, 0, edges.size - 2)
    used = np.unique(index)
    phasor = variability_amplitude(wavelength) * np.exp(1j * 0.6 * molecular_feature(wavelength) / 1.5)
    channel_phasor = np.array([phasor[index == c].mean() for c in used])  # equal weights: equal relative errors
    centres = 0.5 * (edges[used] + edges[used + 1])
    area = plot_area(dash_duo, ids.AMPLITUDE_GRAPH)
    image = graph_image(dash_duo, area["element"])
    for axes, truth in (("", 100 * np.abs(channel_phasor)), ("2", np.degrees(np.angle(channel_phasor)))):
        box = plot_area(dash_duo, ids.AMPLITUDE_GRAPH, axes)["box"]
        xs, ys = data_to_pixels(dash_duo, area["element"], centres, truth, axes)
        drawn = marker_centres(image, xs, box)
        print(f"amplitude row {axes or 1}: drawn − injected (px)", np.round(drawn - ys, 1))
        assert np.isfinite(drawn).all()
        assert np.abs(drawn - ys).max() < 3.0


def duo_p2l(duo, element, x_pixel: float) -> float:
    """The x axis' linear coordinate (log10 of the period on a log axis) at a pixel of the graph element."""
    return duo.driver.execute_script(
        "var x = arguments[0]._fullLayout.xaxis; return x.p2l(arguments[1] - x._offset);", element, float(x_pixel))
