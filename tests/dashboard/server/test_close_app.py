"""An app built and closed leaves no database connection open: a process that builds many (a test suite, a notebook) keeps its descriptors."""

from __future__ import annotations

import gc
import os

from dashboard.app import close_app, create_app
from dashboard.server.config import Config


def _descriptors() -> int:
    gc.collect()
    return len(os.listdir("/proc/self/fd"))


def _build_and_use(cache_dir) -> object:
    app = create_app(Config(cache_dir=cache_dir, demo_path=None))
    assert app.server.test_client().get("/healthz").status_code == 200  # touches the cube cache and the job store
    services = app.server.extensions["stamp_services"]
    services.cubes.cache.set("probe", {"n": 1})
    assert services.cubes.cache.get("probe") == {"n": 1}
    return app


def test_closing_apps_gives_back_their_descriptors_and_keeps_what_they_stored(tmp_path):
    close_app(_build_and_use(tmp_path / "warm"))  # once: the job workers' fork server starts for the process
    before = _descriptors()
    apps = [_build_and_use(tmp_path / f"app{i}") for i in range(6)]
    held = _descriptors()
    assert held >= before + 6 * 2, (before, held)  # each open app holds its cube cache's and job store's database
    for app in apps:
        close_app(app)
    assert _descriptors() <= before + 1, (before, _descriptors())
    # closing is not clearing: a new app on the same folder finds what the first one stored
    again = create_app(Config(cache_dir=tmp_path / "app0", demo_path=None))
    assert again.server.extensions["stamp_services"].cubes.cache.get("probe") == {"n": 1}
    close_app(again)
