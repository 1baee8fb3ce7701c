"""Wavelength channels much noisier than the rest (a prism's faint ends, a detector edge): found and
flagged, never removed.

The scatter of a channel is measured on its normalized light curve (flux over the channel's
median in time; variability in % as it is) from one integration to the next: 1.4826 × the
median absolute deviation of the differences, divided by √2.  Differences ignore slow
signals (a transit, a rotational modulation, a trend) that would make a steady channel look
noisy, and the median ignores a few outliers and NaN.  A channel is flagged when its scatter
exceeds :data:`NOISY_CHANNEL_FACTOR` (k = 3) times the median channel's, and so does the median
scatter of the :data:`NEIGHBOURS` channels around it: noisy edges are runs of channels, and one
channel's estimate from a short series scatters too much to stand alone.  A channel with fewer
than :data:`MIN_DIFFERENCES` consecutive finite pairs is not assessed (a series of a few
integrations says nothing about its channels' noise).

The summary card names the flagged ranges, and the heatmap and the spectrum mark them with a
thin strip along the plot's top edge (:func:`stamp_engine.figures.map_overlays.noisy_channel_rects`);
the data are drawn and processed as they are.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np

from .colour import MAD_TO_SIGMA
from .statistics import nanmedian_over_time, true_runs

#: k: a channel is noisy when its point-to-point scatter exceeds k × the median channel's.
NOISY_CHANNEL_FACTOR = 3.0
#: Channels whose median scatter (the channel in the middle) must exceed k × the median channel's too.
NEIGHBOURS = 5
#: A channel needs at least this many differences of consecutive finite values to be assessed.
MIN_DIFFERENCES = 8
#: A summary names at most this many runs of flagged channels.
SHOWN_RANGES = 6
#: At most this many consecutive integrations (the middle of the series) are used: the scatter of a
#: channel is a property of the whole series, and a thousand differences measure it to ~4 %
#: (it keeps the summary of a 10,000-integration cube fast).
MAX_SCATTER_ROWS = 1000


@dataclass(frozen=True)
class NoisyChannels:
    """Per channel (wavelength column): robust point-to-point scatter and whether it is flagged.

    Attributes
    ----------
    scatter : ndarray, shape (n_wavelengths,)
        Of the normalized light curve (a fraction, or % for variability); NaN where a
        channel has fewer than :data:`MIN_DIFFERENCES` consecutive finite pairs (not assessed).
    typical : float
        Median of the finite ``scatter``.
    factor : float
        k of the rule: flagged = scatter > k × typical.
    flagged : ndarray of bool, shape (n_wavelengths,)
    """

    scatter: np.ndarray
    typical: float
    factor: float
    flagged: np.ndarray

    def ranges(self, wavelength: np.ndarray) -> list[tuple[float, float]]:
        """(first, last) wavelength (µm) of each run of flagged channels."""
        starts, stops = true_runs(self.flagged)
        wavelength = np.asarray(wavelength, dtype=float)
        return [(float(wavelength[a]), float(wavelength[b - 1])) for a, b in zip(starts, stops)]

    def describe(self, wavelength: np.ndarray) -> str:
        """One line for a summary: how many channels are flagged, where, and by which rule."""
        n = int(np.count_nonzero(self.flagged))
        rule = f"point-to-point scatter > {self.factor:g}× the median channel's"
        if not np.isfinite(self.scatter).any():
            return f"not assessed (fewer than {MIN_DIFFERENCES + 1} consecutive integrations with data)"
        if n == 0:
            return f"none ({rule})"
        runs = self.ranges(wavelength)
        where = ", ".join(f"{a:.3f}–{b:.3f} µm" if b > a else f"{a:.3f} µm" for a, b in runs[:SHOWN_RANGES])
        if len(runs) > SHOWN_RANGES:
            where += f" and {len(runs) - SHOWN_RANGES} more"
        return f"{n} of {self.flagged.size}: {where} ({rule}); kept, marked on the heatmap and spectrum"


def point_to_point_scatter(values: np.ndarray, normalize: bool = True) -> np.ndarray:
    """Robust scatter of each column of ``values`` (time × wavelength) between consecutive rows.

    With ``normalize``, each column is first divided by its median over time (flux → relative
    flux); a column whose median is not positive gets NaN.  Returns 1.4826 × MAD of the
    differences / √2 per column (NaN-aware): the standard deviation of white noise.
    """
    values = np.asarray(values, dtype=float)
    if values.ndim != 2 or values.shape[0] < 2:
        return np.full(values.shape[-1] if values.ndim else 0, np.nan)
    if values.shape[0] > MAX_SCATTER_ROWS:
        start = (values.shape[0] - MAX_SCATTER_ROWS) // 2
        values = values[start:start + MAX_SCATTER_ROWS]
    if normalize:
        median = nanmedian_over_time(values)
        with np.errstate(divide="ignore", invalid="ignore"):
            values = values / np.where(median > 0, median, np.nan)
    steps = np.diff(values, axis=0)
    centre = nanmedian_over_time(steps)
    scatter = MAD_TO_SIGMA * nanmedian_over_time(np.abs(steps - centre)) / np.sqrt(2.0)
    scatter[np.count_nonzero(np.isfinite(steps), axis=0) < MIN_DIFFERENCES] = np.nan
    return scatter


def _neighbour_median(values: np.ndarray, width: int = NEIGHBOURS) -> np.ndarray:
    """NaN-aware running median over ``width`` neighbouring channels (fewer at the ends)."""
    half = width // 2
    padded = np.concatenate([np.full(half, np.nan), values, np.full(half, np.nan)])
    windows = np.lib.stride_tricks.sliding_window_view(padded, width)
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN windows: NaN
        return np.nanmedian(windows, axis=1)


def noisy_channels(values: np.ndarray, normalized: bool, factor: float = NOISY_CHANNEL_FACTOR) -> NoisyChannels:
    """The channels of ``values`` (time × wavelength) whose scatter exceeds ``factor`` × the median channel's.

    Parameters
    ----------
    values : ndarray
        Flux (each channel is normalized by its median first) or, with ``normalized``,
        variability (used as it is).
    normalized : bool
        ``values`` are already relative (a variability cube: ``Cube.is_normalized``).
    factor : float
        k of the rule (default :data:`NOISY_CHANNEL_FACTOR`).
    """
    scatter = point_to_point_scatter(values, normalize=not normalized)
    finite = np.isfinite(scatter)
    typical = float(np.median(scatter[finite])) if finite.any() else float("nan")
    with np.errstate(invalid="ignore"):
        if typical > 0:
            limit = factor * typical
            flagged = finite & (scatter > limit) & (_neighbour_median(scatter) > limit)
        else:
            flagged = np.zeros(scatter.shape, dtype=bool)
    return NoisyChannels(scatter, typical, float(factor), flagged)
