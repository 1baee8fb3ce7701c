"""The stacked spectroscopic light curves as drawn (headless Chromium): one channel four times noisier
than the rest no longer reaches into its neighbours' rows of pixels (stamp_engine.channels.stacking_spacing)."""

from __future__ import annotations

import numpy as np
import pytest

from stamp_engine.channels import spectroscopic_light_curves
from stamp_engine.science_figures import channel_light_curves_figure
from tests.browser.test_colour_browser import draw, page, plot_area  # noqa: F401  (the page fixture)
from tests.engine.science.test_channels import _uneven_noise_cube

pytestmark = pytest.mark.browser


def _rgb(text: str) -> np.ndarray:
    if text.startswith("#"):
        return np.array([int(text[i:i + 2], 16) for i in (1, 3, 5)], dtype=float)
    return np.array([float(v) for v in text[text.index("(") + 1:text.index(")")].split(",")[:3]])


def test_stacked_curves_do_not_share_rows_of_pixels_with_a_noisy_neighbour(page):  # noqa: F811
    curves = spectroscopic_light_curves(_uneven_noise_cube(), n=6)
    fig = channel_light_curves_figure(curves, bin_time=1)
    fig.update_traces(line={"width": 1.0})
    area = plot_area(page, draw(page, fig)).astype(float)
    spans = []
    for trace in fig.data:
        near = np.sqrt(((area - _rgb(trace.line.color)) ** 2).sum(axis=-1)) < 25
        rows = np.nonzero(near)[0]
        assert rows.size > 100, f"{trace.name}: its line is not found in the picture"
        spans.append(np.percentile(rows, [1, 99]))  # top and bottom pixel rows of the curve (a stray point aside)
    for (top_a, bottom_a), (top_b, bottom_b), a, b in zip(spans[:-1], spans[1:], fig.data[:-1], fig.data[1:]):
        assert bottom_a < top_b, f"{a.name} (rows {top_a:.0f}–{bottom_a:.0f}) overlaps {b.name} (rows {top_b:.0f}–{bottom_b:.0f})"
