"""Warms the jobs' fork server: importing this module makes one tiny result, as a job would.

The fork server imports :data:`dashboard.server.background.FORKSERVER_PRELOAD` once, and every
job's process is forked from it with what it holds.  Importing modules is not all of a job's
first-time cost: plotly.py builds its figure classes and property validators the first time a
figure uses them, and NumPy, SciPy and astropy set up their own lazily.  In a fresh job process
that was 0.27 s of the 10,000 × 2,040 cold open, between the processed cube and the heatmap
figure sent with it (the same figure took 0.03 s in a warm process); processing and the display
reduction lost ~0.15 s more.  Making one small result here (normalized, binned for display, its
heatmap figure as JSON) costs the fork server ~0.2 s once, while the web server starts.
"""

from __future__ import annotations

import logging

import numpy as np


def warm() -> None:
    """Process a synthetic 40 × 30 two-visit observation and build its display cube and heatmap figure.

    Never raises: the fork server stops preloading at the first error other than an
    ImportError, and a warm-up must not cost a server its jobs.
    """
    try:
        from stamp_engine.figures import COLORSCALES, display_cube
        from stamp_engine.recipe import ProcessOptions, process
        from stamp_engine.synthetic import make_observation

        from ..options import parse_display_options
        from ..view_figures import grid_figure

        cube = make_observation(n_integrations=40, wavelength=np.linspace(0.6, 5.3, 30), n_visits=2).to_cube()
        display = display_cube(process(cube, ProcessOptions()), max_time=10, max_wavelength=10)
        options, _ = parse_display_options("Viridis", [None, None], COLORSCALES, None, None)
        grid_figure(display, [], options, "heatmap", heatmap_errors="rows", max_time=10, max_wavelength=10).to_json()
    except Exception:  # noqa: BLE001 - see above; the jobs then only start colder
        logging.getLogger("stamp.jobs").warning("warming the jobs' fork server failed", exc_info=True)


warm()
