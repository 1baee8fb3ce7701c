"""STAMP inside a portal's iframe on another site, and the Content-Security-Policy, in a real headless Chromium.

The portal is a page served from ``http://localhost:<port>``; the app runs on
``http://127.0.0.1:<other port>`` — another origin and another *site*, so the app is a
third-party frame there, as in a real portal.

    python -m pytest tests/browser/test_portal_browser.py --headless -q
"""

from __future__ import annotations

import http.server
import threading
import time

import pytest
from selenium.webdriver.common.by import By

from dashboard import ids
from tests.helpers.arrivals import wait_for_file

pytestmark = pytest.mark.browser

WAIT = 45


class _Portal(http.server.ThreadingHTTPServer):
    page = b""


class _PortalPage(http.server.BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802 — http.server's name
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.end_headers()
        self.wfile.write(self.server.page)

    def log_message(self, *args):
        pass


@pytest.fixture
def portal():
    """Start a portal on localhost; yields (its origin, a function setting the page it serves)."""
    server = _Portal(("127.0.0.1", 0), _PortalPage)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://localhost:{server.server_address[1]}", lambda html: setattr(server, "page", html.encode())
    finally:
        server.shutdown()
        server.server_close()



def test_a_download_works_from_an_allowed_cross_site_portal_frame(dash_duo, make_app, tmp_path, portal):
    origin, serve_page = portal
    app, log = make_app(frame_ancestors=(origin,))
    folder = tmp_path / "downloaded"
    folder.mkdir()
    dash_duo.start_server(app, navigate=False)
    app_url = dash_duo.server.url.rstrip("/").replace("localhost", "127.0.0.1") + "/?view=heatmap"
    assert app_url.startswith("http://127.0.0.1:")
    serve_page(f'<!doctype html><title>Portal</title><h1>Portal</h1>'
               f'<iframe id="stamp" src="{app_url}" width="1300" height="900"></iframe>')
    driver = dash_duo.driver
    driver.execute_cdp_cmd("Browser.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(folder)})
    driver.get(origin + "/")
    driver.switch_to.frame(driver.find_element(By.ID, "stamp"))
    try:
        dash_duo.wait_for_contains_text(f"#{ids.SUMMARY}", "STAMP-BD-1", timeout=WAIT)
        button = dash_duo.find_element(f"#{ids.DOWNLOAD_BUTTONS['ecsv']}")
        driver.execute_script("arguments[0].scrollIntoView({block: 'center', behavior: 'instant'});", button)
        button.click()
        dash_duo.wait_for_contains_text(f"#{ids.DOWNLOAD_MESSAGE}", "Sent lightcurves_", timeout=WAIT)
        arrived = wait_for_file(folder, "lightcurves_*.ecsv", 20,
                                f"; the app saw {[p for p in log.paths if 'download' in p]}")
        assert arrived.read_text(errors="replace").startswith("# %ECSV")
        assert log.count("/download/") >= 1
    finally:
        driver.switch_to.default_content()


VIOLATIONS_JS = """
window.__cspViolations = [];
document.addEventListener('securitypolicyviolation', function (e) {
    window.__cspViolations.push(e.violatedDirective + ' ' + (e.blockedURI || 'inline') + ' ' + (e.sample || ''));
});
"""


def _graph_kinds(driver, graph: str) -> list[str]:
    try:
        return driver.execute_script(
            "var g = document.querySelector('#' + arguments[0] + ' .js-plotly-plot');"
            "return g && g.data ? g.data.map(t => t.type) : [];", graph) or []
    except Exception:  # noqa: BLE001 — a busy page (building the surface) counts as not drawn yet
        return []


def test_the_content_security_policy_lets_the_app_run_and_stops_injected_scripts(dash_duo, make_app):
    app, _ = make_app()
    policy = app.server.test_client().get("/").headers["Content-Security-Policy"]
    assert "script-src 'self' 'unsafe-eval' 'sha256-" in policy and "'unsafe-inline'" not in policy
    dash_duo.start_server(app, navigate=False)
    driver = dash_duo.driver
    driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": VIOLATIONS_JS})
    driver.get(dash_duo.server.url.rstrip("/") + "/?view=heatmap")
    dash_duo.wait_for_contains_text(f"#{ids.SUMMARY}", "STAMP-BD-1", timeout=WAIT)
    end = time.monotonic() + WAIT
    while "heatmap" not in _graph_kinds(driver, ids.HEATMAP) and time.monotonic() < end:
        time.sleep(0.3)
    assert "heatmap" in _graph_kinds(driver, ids.HEATMAP)
    # the 3D surface (WebGL) draws under the policy too
    dash_duo.find_element(f"#{ids.TABS}").find_element("link text", "3D surface").click()
    end = time.monotonic() + 90
    while "surface" not in _graph_kinds(driver, ids.SURFACE) and time.monotonic() < end:
        time.sleep(0.5)
    assert "surface" in _graph_kinds(driver, ids.SURFACE)
    assert driver.execute_script("return window.__cspViolations;") == []
    # a script a file or a user managed to put into the page does not run
    driver.execute_script("var s = document.createElement('script'); s.textContent = 'window.__injected = 1;';"
                          "document.body.appendChild(s);"
                          "var i = document.createElement('img'); i.setAttribute('onerror', 'window.__injected = 2');"
                          "i.src = 'data:,x'; document.body.appendChild(i);")
    time.sleep(0.5)
    assert driver.execute_script("return typeof window.__injected;") == "undefined"
    assert any("script-src" in v for v in driver.execute_script("return window.__cspViolations;"))
