"""The heatmap of a sub-second cube, drawn offline in headless Chromium: its time axis is in seconds
(title and plain tick labels, no "µ"/"m" SI prefixes of hours), and the picture agrees with the
ticks — a bright integration at 20 s is drawn level with the "20" tick label."""

from __future__ import annotations

import astropy.units as u
import numpy as np
import pytest
from astropy.time import Time
from selenium.webdriver.common.by import By

from stamp_engine import export, figures
from stamp_engine.cube import Cube
from tests.browser.test_dashboard_browser import wait_until
from tests.helpers import pixels

pytestmark = pytest.mark.browser

CADENCE_S, N_TIMES, BRIGHT_ROW = 0.5, 60, 40  # 30 s of data; row 40 is at 20 s


def _sub_second_cube() -> Cube:
    wavelength = np.linspace(1.0, 2.0, 30)
    seconds = np.arange(N_TIMES) * CADENCE_S
    flux = np.ones((N_TIMES, wavelength.size))
    flux[BRIGHT_ROW] = 10.0  # far above the colour range: the top colour of Viridis (yellow)
    time_tdb = Time(59990.0 + seconds / 86400.0, format="mjd", scale="tdb")
    return Cube(wavelength, time_tdb, flux, np.full_like(flux, 0.01), u.Jy)


def test_sub_second_heatmap_reads_seconds_and_its_ticks_match_the_drawn_rows(driver, tmp_path):
    cube = _sub_second_cube()
    fig = figures.heatmap_figure(cube, colorscale="Viridis", zrange=(0.0, 2.0))
    page = tmp_path / "heatmap.html"
    page.write_text(export.standalone_html(fig, (), "heatmap", height=560), encoding="utf-8")
    driver.get(page.as_uri())
    wait_until(lambda: driver.execute_script("var gd = document.querySelector('.js-plotly-plot');"
                                             "return gd && gd._fullLayout && gd.querySelector('.ytick text') && true;"),
               what="the heatmap's tick labels")

    title = driver.find_element(By.CSS_SELECTOR, ".ytitle").text
    assert title.startswith("Time since t0 (s); t0 = BJD_TDB 2459990.50000"), title
    ticks = [(t.text, t.rect) for t in driver.find_elements(By.CSS_SELECTOR, ".yaxislayer-above .ytick text")]
    labels = [text for text, _ in ticks]
    assert labels and not any(c in text for text in labels for c in "µmkμ"), labels  # plain numbers, no SI prefix
    values = [float(text.replace("−", "-")) for text in labels]
    assert min(values) <= 5 and 25 <= max(values) <= 30, values  # seconds over 0–30 s, not hours

    # pixels: the bright (yellow) integration at 20 s sits level with the "20" tick label
    image = pixels.screenshot(driver)
    plot = pixels.element_box(driver, ".js-plotly-plot .nsewdrag")
    region = pixels.crop(image, plot).astype(int)
    yellow = (region[..., 0] > 200) & (region[..., 1] > 200) & (region[..., 2] < 100)
    rows = np.flatnonzero(yellow.mean(axis=1) > 0.8)
    assert rows.size >= 3, "the bright integration is not drawn"
    bright_y = plot[1] + rows.mean()  # CSS pixels (the helpers' screenshots are at device ratio 1)
    tick = next(rect for text, rect in ticks if float(text) == 20.0)
    tick_y = tick["y"] + tick["height"] / 2
    assert abs(bright_y - tick_y) <= 3.0, (bright_y, tick_y)
