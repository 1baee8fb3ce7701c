"""The Download card in a real headless Chromium: a click builds the file on the server and the browser
fetches it from the download route into its download folder.

    python -m pytest tests/browser/test_downloads_browser.py --headless -q
"""

from __future__ import annotations


import numpy as np
import pytest
from astropy.table import QTable
from dash import html

import stamp_engine
from dashboard import ids
from dashboard.server import download_route
from dashboard.server.config import Config
from dashboard.features import downloads
from dashboard.server.services import build_services
from stamp_engine.bands import PRESETS
from stamp_engine.export import package_files
from stamp_engine.recipe import ProcessOptions, process
from tests.helpers.arrivals import wait_for_file

pytestmark = pytest.mark.browser

WAIT = 45  # seconds


def with_downloads(app, config: Config):
    """``app`` with the Download card and route, whether or not dashboard.app registers them already."""
    if download_route.ENDPOINT not in app.server.view_functions:
        download_route.register(app.server, app.server.extensions["stamp_services"])
    if any(ids.DOWNLOAD_LINK in output for output in app.callback_map):
        return app
    services = build_services(config)  # the same cache folder as the app's own services
    downloads.register(app, services)
    page = app.layout
    app.validation_layout = None  # recomputed from the new layout (Dash keeps the first one otherwise)
    app.layout = lambda: html.Div([page(), downloads.layout(services)])
    return app



def click(dash_duo, button_id: str) -> None:
    button = dash_duo.find_element(f"#{button_id}")
    dash_duo.driver.execute_script("arguments[0].scrollIntoView({block: 'center', behavior: 'instant'});", button)
    button.click()


def test_light_curves_ecsv_and_cube_fits_arrive_through_the_route(dash_duo, make_app, tmp_path):
    app, log = make_app()
    app = with_downloads(app, Config(cache_dir=tmp_path / "cache"))
    folder = tmp_path / "downloaded"
    folder.mkdir()
    dash_duo.start_server(app, navigate=False)
    dash_duo.driver.execute_cdp_cmd("Browser.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(folder)})
    # the heatmap tab: no 3D surface for software WebGL to build while we wait
    dash_duo.server_url = dash_duo.server.url.rstrip("/") + "/?view=heatmap"
    dash_duo.wait_for_contains_text(f"#{ids.SUMMARY}", "STAMP-BD-1", timeout=WAIT)

    click(dash_duo, ids.DOWNLOAD_BUTTONS["ecsv"])
    dash_duo.wait_for_contains_text(f"#{ids.DOWNLOAD_MESSAGE}", "Sent lightcurves_", timeout=WAIT)
    path = wait_for_file(folder, "lightcurves_*.ecsv", WAIT)
    stamp = path.stem.removeprefix("lightcurves_")
    assert path.name in package_files(stamp)

    table = QTable.read(path)
    cube = process(stamp_engine.load([Config().demo_path]), ProcessOptions())
    bands = PRESETS["Molecules (near-IR)"]
    assert [c["name"] for c in table.meta["curves"]] == ["White light", *(b.name for b in bands)]
    assert len(table) == cube.n_integrations
    assert np.allclose(table["white_light"].value, cube.white_light().value, equal_nan=True)
    assert np.allclose(table["H2O_1.4_err"].value, cube.light_curve(bands[0]).error, equal_nan=True)
    assert dash_duo.find_element(f"#{ids.DOWNLOAD_BUTTONS['ecsv']}").is_enabled()
    assert dash_duo.find_element(f"#{ids.DOWNLOAD_CANCEL}").get_attribute("disabled") is not None
    assert dash_duo.find_elements(f"#{ids.DOWNLOAD_MESSAGE} .alert-danger") == []
    # the file came from the route, with the page's session; no callback response carried it
    assert log.count("/download/") == 1 and log.count("/download/") == log.count(f"/{path.name}")
    assert not dash_duo.driver.execute_script("return document.cookie")  # scoped to the download's URL only

    # the cube FITS (float64, the bulk of a package) streams the same way
    click(dash_duo, ids.DOWNLOAD_BUTTONS["fits"])
    dash_duo.wait_for_contains_text(f"#{ids.DOWNLOAD_MESSAGE}", "Sent stamp_cube_", timeout=WAIT)
    fits_path = wait_for_file(folder, "stamp_cube_*.fits", WAIT)
    assert fits_path.stat().st_size > 1_000_000
    from stamp_engine.export import read_cube_fits

    back = read_cube_fits(fits_path)
    assert back.flux.shape == cube.flux.shape
    assert np.allclose(back.flux, cube.flux, equal_nan=True)
    assert log.count("/download/") == 2
    assert dash_duo.get_logs() == []
