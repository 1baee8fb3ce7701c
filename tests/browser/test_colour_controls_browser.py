"""The display controls of the dashboard in headless Chromium: the colour range follows the Z axis."""

from __future__ import annotations

import pytest
from selenium.webdriver.common.keys import Keys

from dashboard import ids

from test_dashboard_browser import wait_for_traces, wait_until

pytestmark = pytest.mark.browser

COLOURAXIS_JS = """
var gd = document.querySelector('#' + arguments[0] + ' .js-plotly-plot');
return gd && gd.layout && gd.layout.coloraxis ? [gd.layout.coloraxis.cmin, gd.layout.coloraxis.cmax] : null;
"""


def _type(duo, control: str, value: str) -> None:
    box = duo.find_element(f"#{control}")
    duo.driver.execute_script("arguments[0].scrollIntoView({block: 'center'});", box)
    box.clear()
    box.send_keys(value, Keys.TAB)  # debounced inputs report on blur


def test_switching_the_z_axis_resets_a_manual_colour_range(dash_duo, make_app):
    app, _ = make_app()
    dash_duo.start_server(app, navigate=False)
    dash_duo.server_url = dash_duo.server.url.rstrip("/") + "/?view=heatmap"
    wait_for_traces(dash_duo, ids.HEATMAP, "heatmap")
    assert dash_duo.find_element(f"#{ids.STRETCH}").get_attribute("disabled") is not None  # variability: linear only
    _type(dash_duo, ids.Z_MIN, "-1")
    _type(dash_duo, ids.Z_MAX, "1")
    wait_until(lambda: dash_duo.driver.execute_script(COLOURAXIS_JS, ids.HEATMAP) == [-1, 1], what="the manual range")
    # a -1…1 range would make a flat map of mJy: choosing raw flux empties the range
    flux = dash_duo.find_element(f"#{ids.ZAXIS} input[value=flux]")
    dash_duo.driver.execute_script("arguments[0].scrollIntoView({block: 'center'}); arguments[0].click();", flux)
    wait_until(lambda: dash_duo.find_element(f"#{ids.Z_MIN}").get_attribute("value") == ""
               and dash_duo.find_element(f"#{ids.Z_MAX}").get_attribute("value") == "", timeout=20,
               what="the colour range to be reset")
    assert dash_duo.find_element(f"#{ids.STRETCH}").get_attribute("disabled") is None  # raw flux may be stretched
    wait_until(lambda: (dash_duo.driver.execute_script(COLOURAXIS_JS, ids.HEATMAP) or [-1])[0] != -1,
               what="the heatmap to drop the manual range")
