"""An MP4 of the spectrum changing over time, one frame per (binned) integration of a cube.

Frames are drawn with NumPy, not with a plotting library: the axes, ticks, labels and
legend are drawn once into a background image, and each frame only rasterizes the
spectrum (a polyline with its ±1σ band) into a copy of that background and stamps the
time.  Frames are streamed as raw RGB to the ffmpeg binary shipped by imageio-ffmpeg,
which encodes H.264 (yuv420p, ``+faststart``) while the next frames are drawn, so a
300-frame 1280×720 video takes a few seconds.  The per-frame cost does not grow with the
number of wavelengths beyond one vectorized reduction of each batch of spectra to
per-pixel-column extremes (``np.fmin.reduceat``/``np.fmax.reduceat`` over the
wavelength → column mapping); a long cube is averaged in time to at most ``max_frames``
frames (:func:`frame_bin_size`), never thinned.

Text (title, axis labels, tick labels, the time stamp's glyphs) is rasterized once per
video by matplotlib's Agg renderer with the DejaVu fonts matplotlib ships, so no system
font is needed.  ``python -m benchmarks.video`` measured this rasterizer against
matplotlib drawing every frame (Agg with blitting into imageio-ffmpeg): 4× less CPU per
frame for the same picture, so the rasterizer stays.
"""

from __future__ import annotations

import math
import re
import subprocess
import threading
import time as _time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Sequence

import numpy as np

from ..problems import StampError
from ..progress import Progress

if TYPE_CHECKING:
    from ..bands import Band
    from ..cube import Cube


#: Colours (RGB) of the drawing: plotly's default blue for the spectrum.
BACKGROUND = (255, 255, 255)
AXIS = (60, 60, 60)
GRID = (228, 228, 228)
TEXT = (30, 30, 30)
LINE = (31, 119, 180)
ERROR_BAND = (31, 119, 180)
ERROR_ALPHA = 0.22
REFERENCE = (150, 150, 150)
BAND_FILL = (255, 236, 179)

#: Frames drawn per vectorized batch: bounds memory (batch × wavelengths floats), not speed.
_BATCH = 64
#: Changed pixels coloured together: bounds memory (~60 bytes each) when spectra are very noisy.
_PIXELS_PER_GROUP = 2_000_000


class VideoError(StampError):
    """ffmpeg failed or the cube has nothing to draw; the message says why."""


@dataclass(frozen=True)
class VideoResult:
    """What :func:`write_spectrum_video` wrote, and how fast."""

    path: Path
    frames: int
    width: int
    height: int
    fps: float
    seconds: float
    y_range: tuple[float, float]
    plot_box: tuple[int, int, int, int]  # left, top, right, bottom pixel edges of the plot area
    integrations_per_frame: int = 1  # time bin of each frame (a visit's last frame may hold fewer)

    @property
    def frames_per_second_encoded(self) -> float:
        """Frames drawn and encoded per wall-clock second (the benchmark figure)."""
        return self.frames / self.seconds if self.seconds > 0 else math.inf


def ffmpeg_exe() -> str:
    """Path of the ffmpeg binary shipped with imageio-ffmpeg."""
    import imageio_ffmpeg

    return imageio_ffmpeg.get_ffmpeg_exe()


# --------------------------------------------------------------------------- text
def _printable(text: str) -> str:
    """Control characters (newlines, tabs…) would break a one-line label."""
    return "".join(ch if ch.isprintable() else " " for ch in text)


@dataclass(frozen=True)
class _Glyphs:
    """Alpha masks of text strings, each ``(height, width)`` float32 in 0‥1.

    Every mask starts ``pad`` pixels left of the pen origin of its string, and the
    baselines of all masks of one font size sit on the same row.
    """

    masks: list[np.ndarray]
    pad: int


#: Font of each text family: the DejaVu fonts matplotlib ships, so every machine draws the same glyphs.
_FONTS = {"sans": "DejaVu Sans", "monospace": "DejaVu Sans Mono"}


def _text_masks(items: Sequence[tuple[str, int, str]]) -> _Glyphs:
    """Rasterize ``(text, font size px, family)`` items, once per video, with matplotlib's Agg.

    All items are drawn into one canvas, a band of rows each, with FreeType hinting and
    anti-aliasing; text is drawn as text (nothing in it is interpreted as markup).
    """
    from matplotlib.backends.backend_agg import RendererAgg
    from matplotlib.font_manager import FontProperties

    pad = 4
    heights = [int(round(size * 1.6)) + 2 * pad for _, size, _ in items]
    width = max([int(len(text) * size * 0.9) + 2 * pad + size for text, size, _ in items] or [1])
    renderer = RendererAgg(width, max(sum(heights), 1), 72)  # 72 dpi: a size in points is a size in pixels
    gc = renderer.new_gc()
    top = 0
    for (text, size, family), h in zip(items, heights):
        prop = FontProperties(family=_FONTS.get(family, family), size=size)
        # y is the baseline, from the top: the same row in every band of one size
        renderer.draw_text(gc, pad, top + pad + int(round(size * 1.1)), _printable(text), prop, 0, ismath=False)
        top += h
    gc.restore()
    image = np.asarray(renderer.buffer_rgba())[..., 3].astype(np.float32) / 255.0
    masks, top = [], 0
    for h in heights:
        band = image[top : top + h]
        ink = np.flatnonzero(band.max(axis=0) > 0)
        right = int(ink[-1]) + 2 if ink.size else pad
        masks.append(np.ascontiguousarray(band[:, :right]))
        top += h
    return _Glyphs(masks, pad)


def _paste(image: np.ndarray, mask: np.ndarray, x: int, y: int, color: Sequence[int]) -> None:
    """Blend ``color`` into ``image`` (H, W, 3 float32) through ``mask`` placed at (x, y)."""
    h, w = mask.shape
    x0, y0 = max(x, 0), max(y, 0)
    x1, y1 = min(x + w, image.shape[1]), min(y + h, image.shape[0])
    if x1 <= x0 or y1 <= y0:
        return
    alpha = mask[y0 - y : y1 - y, x0 - x : x1 - x, None]
    region = image[y0:y1, x0:x1]
    region += alpha * (np.asarray(color, dtype=np.float32) - region)


def _ink_rows(mask: np.ndarray) -> tuple[int, int]:
    rows = np.flatnonzero(mask.max(axis=1) > 0)
    return (int(rows[0]), int(rows[-1]) + 1) if rows.size else (0, mask.shape[0])


# ------------------------------------------------------------------------- layout
def nice_ticks(lo: float, hi: float, target: int = 6) -> np.ndarray:
    """Round tick values (1, 2, 2.5, 5 × 10ⁿ steps) inside ``[lo, hi]``."""
    if not (np.isfinite(lo) and np.isfinite(hi)) or hi <= lo:
        return np.array([lo]) if np.isfinite(lo) else np.array([])
    raw = (hi - lo) / max(target, 1)
    magnitude = 10.0 ** math.floor(math.log10(raw))
    step = min((m * magnitude for m in (1, 2, 2.5, 5, 10)), key=lambda c: abs(math.log(c / raw)))
    first = math.ceil(lo / step - 1e-9) * step
    ticks = first + step * np.arange(int(math.floor((hi - first) / step + 1e-9)) + 1)
    return np.round(ticks, 12)


def _tick_label(value: float, step: float) -> str:
    decimals = max(0, -int(math.floor(math.log10(step) + 1e-9))) if step > 0 else 0
    if step > 0 and round(step * 10**decimals) % 10 and decimals == 0 and step < 1:
        decimals += 1
    if step > 0 and abs(step * 10**decimals - round(step * 10**decimals)) > 1e-6:
        decimals += 1
    text = f"{value:.{decimals}f}"
    return "0" if re.fullmatch(r"-?0(\.0*)?", text) else text.replace("-", "−")


@dataclass(frozen=True)
class _Layout:
    width: int
    height: int
    left: int
    right: int
    top: int
    bottom: int

    @property
    def plot_width(self) -> int:
        return self.right - self.left

    @property
    def plot_height(self) -> int:
        return self.bottom - self.top


def _layout(width: int, height: int) -> _Layout:
    s = height / 720.0
    return _Layout(
        width, height,
        left=int(round(110 * s)), right=width - int(round(40 * s)),
        top=int(round(105 * s)), bottom=height - int(round(85 * s)),
    )


def _value_range(values: np.ndarray, errors: np.ndarray | None, extra: np.ndarray) -> tuple[float, float]:
    """Robust y range of every frame: 0.1–99.9 percentiles of value ± error, padded 6 %.

    Large cubes are sampled (every k-th row, ≤ ~2 million values): percentiles of a
    sample are as good and need no copy of the whole cube.
    """
    step = max(1, int(values.size // 2_000_000))
    values = np.asarray(values[::step], dtype=np.float64)
    spread = np.zeros_like(values) if errors is None else np.nan_to_num(np.asarray(errors[::step], dtype=np.float64))
    lo_vals, hi_vals = (values - spread).ravel(), (values + spread).ravel()
    finite_lo, finite_hi = lo_vals[np.isfinite(lo_vals)], hi_vals[np.isfinite(hi_vals)]
    if finite_lo.size == 0:
        raise VideoError("the cube has no finite values to draw")
    lo = float(np.percentile(finite_lo, 0.1))
    hi = float(np.percentile(finite_hi, 99.9))
    extra = extra[np.isfinite(extra)]
    if extra.size:
        lo, hi = min(lo, float(extra.min())), max(hi, float(extra.max()))
    if hi <= lo:
        span = abs(lo) * 0.1 or 1.0
        lo, hi = lo - span, hi + span
    margin = 0.06 * (hi - lo)
    return lo - margin, hi + margin


# -------------------------------------------------------------------- envelopes
@dataclass(frozen=True)
class _ColumnSampler:
    """Per-pixel-column extremes of a polyline through (x_i, y_i), vectorized over frames.

    A column ``c`` spans x ∈ [c − ½, c + ½]; the line passes through it between its
    values at the two column edges (linear interpolation) and every sample inside it.
    """

    edge_left: np.ndarray  # (n_cols + 1,) index of the sample left of each edge
    edge_weight: np.ndarray  # (n_cols + 1,) interpolation weight of the right sample
    edge_valid: np.ndarray  # (n_cols + 1,) edge inside the sampled x range
    sample_starts: np.ndarray  # reduceat starts of the samples grouped by column
    sample_columns: np.ndarray  # the column of each group
    sample_stop: int  # one past the last sample inside the plot
    n_cols: int

    @classmethod
    def build(cls, x_pixels: np.ndarray, n_cols: int) -> "_ColumnSampler":
        edges = np.arange(n_cols + 1, dtype=np.float64) - 0.5
        n = x_pixels.size
        left = np.clip(np.searchsorted(x_pixels, edges, side="right") - 1, 0, max(n - 2, 0))
        right = np.minimum(left + 1, n - 1)
        dx = x_pixels[right] - x_pixels[left]
        with np.errstate(invalid="ignore", divide="ignore"):
            weight = np.where(dx > 0, (edges - x_pixels[left]) / dx, 0.0)
        valid = (edges >= x_pixels[0]) & (edges <= x_pixels[-1])
        column = np.rint(x_pixels).astype(np.int64)
        inside = (column >= 0) & (column < n_cols)
        idx = np.flatnonzero(inside)
        if idx.size:
            col_in = column[idx]
            boundaries = np.flatnonzero(np.r_[True, np.diff(col_in) != 0])
            starts, columns, stop = idx[boundaries], col_in[boundaries], int(idx[-1]) + 1
        else:
            starts, columns, stop = np.array([], dtype=np.int64), np.array([], dtype=np.int64), 0
        return cls(left, weight.clip(0, 1), valid, starts, columns, stop, n_cols)

    def extremes(self, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Column-wise (min, max) of ``y`` (n_frames, n_samples); NaN where nothing is drawn."""
        n_frames = y.shape[0]
        left = y[:, self.edge_left]
        right = y[:, np.minimum(self.edge_left + 1, y.shape[1] - 1)]
        edge = left + (right - left) * self.edge_weight
        edge[:, ~self.edge_valid] = np.nan
        lo = np.fmin(edge[:, :-1], edge[:, 1:])
        hi = np.fmax(edge[:, :-1], edge[:, 1:])
        if self.sample_columns.size:
            # x is ascending, so the samples inside the plot are contiguous, grouped by column
            first = int(self.sample_starts[0])
            inside = y[:, first : self.sample_stop]
            group_lo = np.fmin.reduceat(inside, self.sample_starts - first, axis=1)
            group_hi = np.fmax.reduceat(inside, self.sample_starts - first, axis=1)
            lo[:, self.sample_columns] = np.fmin(lo[:, self.sample_columns], group_lo)
            hi[:, self.sample_columns] = np.fmax(hi[:, self.sample_columns], group_hi)
        return lo.reshape(n_frames, -1), hi.reshape(n_frames, -1)


# ------------------------------------------------------------------ the picture
@dataclass
class _Scene:
    """Everything that is the same in every frame."""

    layout: _Layout
    background: np.ndarray  # (H, W, 3) uint8
    plot_colours: np.ndarray  # (3, 2·ph·pw) float32 R, G, B planes: the plot area, then the same under the error band
    y_lo: float
    y_hi: float
    line_width: float
    stamp_atlas: np.ndarray  # (n_chars, gh, advance) float32
    stamp_chars: str
    stamp_xy: tuple[int, int]


def _visit_lengths(visit: np.ndarray) -> np.ndarray:
    """Lengths of the runs of equal ``visit`` (time bins restart at each one)."""
    if visit.size == 0:
        return np.zeros(0, dtype=np.int64)
    edges = np.flatnonzero(np.r_[True, visit[1:] != visit[:-1], True])
    return np.diff(edges)


def frame_bin_size(visit: np.ndarray, max_frames: int | None) -> int:
    """Integrations averaged into one video frame so the video has at most ``max_frames`` frames.

    Frames are time bins of :func:`stamp_engine.steps.bin`: ``k`` consecutive
    integrations, restarting at each visit (a visit's last bin may be shorter), so no
    integration is left out.  This is the smallest such ``k``; 1 when the cube is short
    enough or ``max_frames`` is None/0.  Every visit gets at least one frame, so with
    fewer ``max_frames`` than visits the video has one frame per visit.

    Parameters
    ----------
    visit : ndarray of int
        Visit index of each integration (``Cube.visit``).
    max_frames : int or None
        Upper limit on the number of frames.
    """
    lengths = _visit_lengths(np.asarray(visit))
    n = int(lengths.sum())
    if not max_frames or max_frames <= 0 or n <= max_frames:
        return 1

    def frames(k: int) -> int:
        return int(np.sum(-(-lengths // k)))

    # frames(k) never increases with k: the smallest k that fits, by bisection
    lo, hi = max(1, -(-n // max_frames)), int(lengths.max())
    if frames(hi) > max_frames:
        return hi
    while lo < hi:
        mid = (lo + hi) // 2
        lo, hi = (mid + 1, hi) if frames(mid) > max_frames else (lo, mid)
    return lo


def _bin_rows(visit: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
    """First and last row of each time bin of ``size`` integrations (restarting at each visit)."""
    lengths = _visit_lengths(visit)
    visit_start = np.repeat(np.cumsum(lengths) - lengths, lengths)
    first = np.flatnonzero((np.arange(visit.size) - visit_start) % size == 0)
    last = np.minimum(first + size, np.r_[first[1:], visit.size]) - 1
    return first, last


def _title(cube: "Cube") -> str:
    meta = cube.meta
    setup = " ".join(
        str(meta[k]) for k in ("instrument", "grating", "filter", "pupil")
        if meta.get(k) and str(meta[k]).upper() not in ("CLEAR", "N/A", "NONE")
    )
    name = f"{cube.target} — {setup}" if setup else cube.target
    return f"{name} — t0 = {cube.time_axis().t0_text}" if cube.n_integrations else name


def _stamp_texts(cube: "Cube", frames: "Cube", size: int) -> list[str]:
    """The time stamp of each frame of ``frames`` (``cube`` binned by ``size`` integrations).

    Time is counted from the t0 of the unbinned ``cube``, in the unit of its
    :meth:`~stamp_engine.Cube.time_axis` (seconds for a short series); a binned frame is
    stamped with its bin centre (mean time) and the range of integrations averaged in it.
    """
    axis = cube.time_axis()
    times = axis.values((frames.time.mjd - cube.t0_mjd) * 24.0)
    width, digits_t, unit = 8 + max(axis.digits - 4, 0), max(axis.digits, 2), axis.unit_name
    multi_visit = cube.n_visits > 1
    if size == 1:
        first = last = np.arange(cube.n_integrations)
    else:
        first, last = _bin_rows(cube.visit, size)
    if first.size != frames.n_integrations:  # the binning rule changed under us: a wrong stamp is worse than none
        raise VideoError("the time bins of the video do not match the binned cube")
    start, end = cube.integration[first], cube.integration[last]
    digits = max(len(str(int(cube.integration.max()))), 1) if cube.n_integrations else 1
    texts = []
    for h, a, b, v in zip(times.tolist(), start.tolist(), end.tolist(), frames.visit.tolist()):
        if size == 1:
            text = f"t = {h:{width}.{digits_t}f} {unit} since t0   integration {a:>{digits}d}"
        else:
            text = f"t = {h:{width}.{digits_t}f} {unit} since t0 (bin centre)   integrations {a:>{digits}d}–{b:<{digits}d}"
        texts.append(text + (f"   visit {v + 1}" if multi_visit else ""))
    return texts


def _build_scene(
    cube: "Cube",
    values: np.ndarray,
    errors: np.ndarray | None,
    reference: np.ndarray | None,
    stamps: list[str],
    size: tuple[int, int],
    bands: Sequence["Band"],
) -> _Scene:
    width, height = size
    lay = _layout(width, height)
    s = height / 720.0
    wl = cube.wavelength
    x_lo, x_hi = float(wl[0]), float(wl[-1])
    if x_hi <= x_lo:
        x_lo, x_hi = x_lo - 0.05, x_hi + 0.05
    y_lo, y_hi = _value_range(values, errors, np.asarray([] if reference is None else reference, dtype=float))
    x_ticks = nice_ticks(x_lo, x_hi, target=max(4, int(width / 160)))
    y_ticks = nice_ticks(y_lo, y_hi, target=max(4, int(height / 120)))
    x_step = float(np.diff(x_ticks[:2])[0]) if x_ticks.size > 1 else 1.0
    y_step = float(np.diff(y_ticks[:2])[0]) if y_ticks.size > 1 else 1.0

    def px(x: np.ndarray | float) -> np.ndarray:
        return (np.asarray(x, dtype=float) - x_lo) / (x_hi - x_lo) * (lay.plot_width - 1)

    def py(y: np.ndarray | float) -> np.ndarray:
        return (y_hi - np.asarray(y, dtype=float)) / (y_hi - y_lo) * (lay.plot_height - 1)

    title_size, label_size, tick_size, stamp_size = (max(9, int(round(v * s))) for v in (26, 20, 16, 18))
    visible_bands = [b for b in bands if b.overlaps(x_lo, x_hi)]
    band_labels = [b.name for b in visible_bands] if lay.plot_width / max(len(visible_bands), 1) > 40 * s else []
    legend = ["spectrum", "±1σ", "reference (0 %)" if cube.is_normalized else "median spectrum"]
    items: list[tuple[str, int, str]] = [
        (_title(cube), title_size, "sans"),
        ("Wavelength (µm)", label_size, "sans"),
        (cube.value_label, label_size, "sans"),
        *[(_tick_label(v, x_step), tick_size, "sans") for v in x_ticks],
        *[(_tick_label(v, y_step), tick_size, "sans") for v in y_ticks],
        *[(name, tick_size, "sans") for name in band_labels],
        *[(text, tick_size, "sans") for text in legend],
    ]
    chars = "".join(sorted(set("".join(stamps)) | {" "}))
    # the time stamp is monospaced: one glyph per character, pasted side by side per frame
    items += [(ch, stamp_size, "monospace") for ch in chars] + [("0" * 10, stamp_size, "monospace")]
    glyphs = _text_masks(items)
    masks = iter(glyphs.masks)
    pad = glyphs.pad
    title_m, xlabel_m, ylabel_m = next(masks), next(masks), next(masks)
    xtick_m = [next(masks) for _ in x_ticks]
    ytick_m = [next(masks) for _ in y_ticks]
    band_m = [next(masks) for _ in band_labels]
    legend_m = [next(masks) for _ in legend]
    char_m = [next(masks) for _ in chars]
    ten_zeros = next(masks)

    image = np.empty((height, width, 3), dtype=np.float32)
    image[:] = BACKGROUND
    plot = image[lay.top : lay.bottom, lay.left : lay.right]
    line = max(2.0, 2.5 * s)  # thinner lines lose their colour to 4:2:0 chroma subsampling
    for band in visible_bands:
        c0, c1 = np.clip(np.rint(px([band.start, band.end])).astype(int), 0, lay.plot_width)
        plot[:, c0:c1] = BAND_FILL
    for v in x_ticks:
        plot[:, int(round(float(px(v))))] = GRID
    for v in y_ticks:
        plot[int(round(float(py(v))))] = GRID
    if reference is not None:
        ref_rows = py(reference)[None, :]
        sampler = _ColumnSampler.build(px(wl), lay.plot_width)
        lo, hi = sampler.extremes(ref_rows)
        alpha = _line_alpha(lo[0], hi[0], lay.plot_height, line * 0.75)
        plot += alpha[..., None] * (np.asarray(REFERENCE, np.float32) - plot)
    # axes frame, ticks and tick labels
    frame_w = max(1, int(round(1.5 * s)))
    image[lay.top - frame_w : lay.bottom + frame_w, lay.left - frame_w : lay.left] = AXIS
    image[lay.top - frame_w : lay.bottom + frame_w, lay.right : lay.right + frame_w] = AXIS
    image[lay.top - frame_w : lay.top, lay.left - frame_w : lay.right + frame_w] = AXIS
    image[lay.bottom : lay.bottom + frame_w, lay.left - frame_w : lay.right + frame_w] = AXIS
    tick_len = int(round(7 * s))
    for v, m in zip(x_ticks, xtick_m):
        x = lay.left + int(round(float(px(v))))
        image[lay.bottom : lay.bottom + tick_len, x - frame_w // 2 : x - frame_w // 2 + frame_w] = AXIS
        r0, _ = _ink_rows(m)
        _paste(image, m, x - (m.shape[1] - pad) // 2 - pad // 2, lay.bottom + tick_len + int(4 * s) - r0, TEXT)
    for v, m in zip(y_ticks, ytick_m):
        y = lay.top + int(round(float(py(v))))
        image[y - frame_w // 2 : y - frame_w // 2 + frame_w, lay.left - tick_len : lay.left] = AXIS
        r0, r1 = _ink_rows(m)
        _paste(image, m, lay.left - tick_len - int(6 * s) - m.shape[1], y - (r0 + r1) // 2, TEXT)
    r0, r1 = _ink_rows(xlabel_m)
    _paste(image, xlabel_m, lay.left + (lay.plot_width - xlabel_m.shape[1]) // 2, height - int(12 * s) - r1, TEXT)
    rotated = np.ascontiguousarray(np.rot90(ylabel_m))
    c0, c1 = _ink_rows(ylabel_m)  # rows of the label are columns once rotated
    _paste(image, rotated, int(10 * s) - c0, lay.top + (lay.plot_height - rotated.shape[0]) // 2, TEXT)
    r0, _ = _ink_rows(title_m)
    _paste(image, title_m, lay.left - pad, int(12 * s) - r0, TEXT)
    # band names along the top edge of the plot; a name that would overlap the previous one drops a row
    label_end: list[int] = []
    for band, m in zip(visible_bands, band_m):
        c0 = int(np.clip(np.rint(px(band.start)), 0, lay.plot_width))
        r0, r1 = _ink_rows(m)
        x = lay.left + c0 + int(3 * s)
        row = next((k for k, end in enumerate(label_end) if end < x), len(label_end))
        if row == len(label_end):
            label_end.append(0)
        label_end[row] = x + m.shape[1] - pad
        _paste(image, m, x - pad, lay.top + int(4 * s) + row * (r1 - r0 + int(4 * s)) - r0, (120, 90, 0))
    # legend, right-aligned above the plot
    x = lay.right
    legend_y = lay.top - int(18 * s)
    swatch = int(22 * s)
    for text, m, kind in reversed(list(zip(legend, legend_m, ("line", "band", "ref")))):
        x -= m.shape[1] - pad
        r0, r1 = _ink_rows(m)
        _paste(image, m, x - pad, legend_y - (r0 + r1) // 2, TEXT)
        x -= swatch + int(6 * s)
        if kind == "line":
            image[legend_y - int(line) // 2 : legend_y - int(line) // 2 + int(line) + 1, x : x + swatch] = LINE
        elif kind == "band":
            block = image[legend_y - int(5 * s) : legend_y + int(5 * s), x : x + swatch]
            block += ERROR_ALPHA * (np.asarray(ERROR_BAND, np.float32) - block)
        else:
            image[legend_y : legend_y + max(1, int(line * 0.75)), x : x + swatch] = REFERENCE
        x -= int(22 * s)

    # monospaced glyph atlas for the time stamp
    ink = np.flatnonzero(ten_zeros.max(axis=0) > 0)
    zero_w = np.flatnonzero(char_m[chars.index("0")].max(axis=0) > 0) if "0" in chars else ink[:1]
    advance = int(round((ink[-1] - ink[0] + 1 - (zero_w[-1] - zero_w[0] + 1)) / 9)) if ink.size > 1 else stamp_size // 2
    advance = max(advance, 1)
    gh = max(m.shape[0] for m in char_m)
    atlas = np.zeros((len(chars), gh, advance), dtype=np.float32)
    for i, m in enumerate(char_m):
        cell = m[:, pad : pad + advance]
        atlas[i, : cell.shape[0], : cell.shape[1]] = cell
    ink_top = min(_ink_rows(m)[0] for m in char_m if m.any()) if any(m.any() for m in char_m) else 0
    stamp_xy = (lay.left, max(0, int(46 * s) - ink_top))

    background = np.rint(image).clip(0, 255).astype(np.uint8)
    plot_bg = background[lay.top : lay.bottom, lay.left : lay.right].astype(np.float32)
    plot_bg_error = plot_bg + ERROR_ALPHA * (np.asarray(ERROR_BAND, np.float32) - plot_bg)
    plot_colours = np.ascontiguousarray(np.concatenate([plot_bg.reshape(-1, 3), plot_bg_error.reshape(-1, 3)]).T)
    return _Scene(lay, background, plot_colours, y_lo, y_hi, line, atlas, chars, stamp_xy)


def _line_alpha(lo: np.ndarray, hi: np.ndarray, n_rows: int, width: float) -> np.ndarray:
    """Coverage (n_rows, n_cols) of a line spanning rows ``lo…hi`` per column, ``width`` px thick.

    The edges are anti-aliased vertically: a pixel row half inside gets alpha ½.
    """
    half = width / 2.0
    lo = np.where(np.isfinite(lo), lo - half, np.inf).astype(np.float32)
    hi = np.where(np.isfinite(hi), hi + half, -np.inf).astype(np.float32)
    rows = np.arange(n_rows, dtype=np.float32)[:, None]
    return np.clip(np.minimum(rows - lo + 0.5, hi - rows + 0.5), 0.0, 1.0)


def _column_spans(top: np.ndarray, bottom: np.ndarray, n_rows: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pixel rows covering rows ``top[k]…bottom[k]`` of every span ``k`` (any shape, raveled).

    Only these pixels change from one frame to the next (a few to a few dozen per
    column), so drawing touches thousands of pixels instead of the whole plot.

    Returns
    -------
    rows : (n_pixels,) int32
        Row of each pixel.
    span : (n_pixels,) int64
        Index of the (raveled) span each pixel belongs to.
    lengths : (n_spans,) int64
        Pixels per span.
    """
    top, bottom = top.ravel(), bottom.ravel()
    first = np.clip(np.floor(np.nan_to_num(top, nan=np.inf, posinf=n_rows)), 0, n_rows).astype(np.int64)
    last = np.clip(np.ceil(np.nan_to_num(bottom, nan=-np.inf, neginf=-1)), -1, n_rows - 1).astype(np.int64)
    lengths = np.maximum(last - first + 1, 0)
    total = int(lengths.sum())
    span = np.repeat(np.arange(top.size), lengths)
    offsets = np.arange(total) - np.repeat(np.cumsum(lengths) - lengths, lengths)
    return (np.repeat(first, lengths) + offsets).astype(np.int32), span, lengths


def _draw_frames(scene: _Scene, values_px: np.ndarray, low_px: np.ndarray, high_px: np.ndarray,
                 stamp_codes: np.ndarray, sampler: _ColumnSampler):
    """Yield the RGB frames (H, W, 3 uint8) of a batch of spectra given in pixel rows.

    The changed pixels of many frames are coloured at once (a flat gather from the
    background with and without the error band, one blend with the line colour); each
    frame then is a copy of the background with its pixels scattered in.  Frames are
    grouped so that a group holds at most :data:`_PIXELS_PER_GROUP` changed pixels,
    which bounds memory however noisy the spectra are.
    """
    lay = scene.layout
    half = scene.line_width / 2.0
    line_lo, line_hi = sampler.extremes(values_px)
    line_lo, line_hi = line_lo - half, line_hi + half
    band_lo, _ = sampler.extremes(low_px)
    _, band_hi = sampler.extremes(high_px)
    # smaller values sit lower (larger rows): the band spans both extremes whatever their order
    err_top, err_bottom = np.fmin(band_lo, band_hi), np.fmax(band_lo, band_hi)
    span_top = np.fmin(np.floor(line_lo), err_top)
    span_bottom = np.fmax(np.ceil(line_hi), err_bottom)
    spans = [a.astype(np.float32) for a in (span_top, span_bottom, err_top, err_bottom, line_lo, line_hi)]
    per_frame = np.nansum(np.clip(span_bottom - span_top + 1, 0, lay.plot_height), axis=1)
    group_of = (np.cumsum(per_frame) - per_frame) // _PIXELS_PER_GROUP
    starts = np.flatnonzero(np.r_[True, np.diff(group_of) != 0])
    for first, stop in zip(starts, np.r_[starts[1:], len(per_frame)]):
        frames = slice(int(first), int(stop))
        yield from _draw_group(scene, [a[frames] for a in spans], stamp_codes[frames])


def _draw_group(scene: _Scene, spans: list[np.ndarray], stamp_codes: np.ndarray):
    lay = scene.layout
    pw, ph = lay.plot_width, lay.plot_height
    span_top, span_bottom, err_top, err_bottom, line_lo, line_hi = spans
    n_frames = span_top.shape[0]
    rows, span, lengths = _column_spans(span_top, span_bottom, ph)
    cols = (span % pw).astype(np.int32)
    r = rows.astype(np.float32)
    # per-span quantities repeated to their pixels (np.repeat streams; a gather would not)
    in_band = (r >= np.repeat(err_top.ravel(), lengths)) & (r <= np.repeat(err_bottom.ravel(), lengths))
    alpha = np.minimum(r - np.repeat(line_lo.ravel(), lengths), np.repeat(line_hi.ravel(), lengths) - r)
    alpha += 0.5
    alpha = np.nan_to_num(np.clip(alpha, 0.0, 1.0, out=alpha), nan=0.0, copy=False)
    pixel = rows * np.int32(pw) + cols
    pixel[in_band] += np.int32(ph * pw)
    # one colour channel at a time: contiguous arithmetic, strided only in the final store
    values = np.empty((rows.size, 3), dtype=np.uint8)
    for k, line_value in enumerate(LINE):
        colour = np.take(scene.plot_colours[k], pixel)
        colour += alpha * (np.float32(line_value) - colour)
        colour += 0.5
        values[:, k] = colour
    values = values.reshape(-1)
    # where each byte goes in the raveled (H·W·3) frame: a flat scatter is the fastest
    offset = ((rows + np.int32(lay.top)) * np.int32(lay.width) + cols + np.int32(lay.left)) * np.int32(3)
    target = np.empty((rows.size, 3), dtype=np.int32)
    for k in range(3):
        np.add(offset, np.int32(k), out=target[:, k])
    target = target.reshape(-1)
    bounds = 3 * np.concatenate([[0], np.cumsum(lengths.reshape(n_frames, pw).sum(axis=1))])
    sx, sy = scene.stamp_xy
    gh = scene.stamp_atlas.shape[1]
    text_color = np.asarray(TEXT, dtype=np.float32)
    for i in range(n_frames):
        frame = scene.background.copy()
        frame.reshape(-1)[target[bounds[i] : bounds[i + 1]]] = values[bounds[i] : bounds[i + 1]]
        # time stamp: glyph cells side by side
        text = scene.stamp_atlas[stamp_codes[i]].transpose(1, 0, 2).reshape(gh, -1)
        w = min(text.shape[1], lay.width - sx)
        region = frame[sy : sy + gh, sx : sx + w].astype(np.float32)
        region += text[:, :w, None] * (text_color - region)
        frame[sy : sy + gh, sx : sx + w] = region + 0.5
        yield frame


# ---------------------------------------------------------------------- encoding
def write_spectrum_video(
    cube: "Cube",
    path: str | Path,
    *,
    fps: float = 20,
    size: tuple[int, int] = (1280, 720),
    max_frames: int | None = None,
    progress: Progress | None = None,
    bands: Sequence["Band"] = (),
    crf: int = 23,
    preset: str = "veryfast",
    bitrate: str | None = None,
    threads: int = 0,
    show_errors: bool = True,
) -> VideoResult:
    """Encode the spectrum over time of ``cube`` as an H.264 MP4.

    One frame per integration, or, when the cube has more than ``max_frames``
    integrations, one frame per time bin of :func:`frame_bin_size` integrations
    (:func:`stamp_engine.steps.bin`, mean, within each visit: every integration
    counts).  Each frame shows the spectrum with its ±1σ band over a static reference
    (the time-median spectrum, or the 0 % line of a normalized cube), the axis labels
    with units, and the time of the integration, or of the bin centre with the range
    of integrations averaged.

    Parameters
    ----------
    cube : Cube
        Flux or variability (normalized) cube.
    path : str or Path
        Output ``.mp4``; written to a temporary name first and renamed when complete.
    fps : float
        Frames per second of the video.
    size : (width, height)
        Pixels; both even (H.264 yuv420p needs even dimensions), at least 320 × 240.
    max_frames : int, optional
        At most this many frames (None or 0: one per integration); a longer cube is
        binned in time.  Every visit gets at least one frame.
    progress : callable, optional
        ``progress("video", frames_done, frames_total)``.
    bands : sequence of Band
        Wavelength bands shaded and named in the plot.
    crf, preset, bitrate, threads
        libx264 quality (constant rate factor; lower is better), speed preset, an
        optional target bitrate (``"4M"``; overrides ``crf``) and encoder threads (0 = auto).
    show_errors : bool
        Draw the ±1σ band.

    Returns
    -------
    VideoResult
        Frames written, integrations per frame, size, and the wall-clock time taken.

    Raises
    ------
    VideoError
        When the cube has nothing to draw or ffmpeg fails (its message included).
    """
    started = _time.perf_counter()
    width, height = (int(v) for v in size)
    if width % 2 or height % 2 or width < 320 or height < 240:
        raise ValueError(f"video size must be even and at least 320×240, not {width}×{height}")
    if not fps or fps <= 0:
        raise ValueError(f"frames per second must be positive, not {fps}")
    if cube.n_integrations == 0 or cube.n_wavelengths < 2:
        raise VideoError("the cube needs at least one integration and two wavelengths for a video")
    path = Path(path)
    size_bin = frame_bin_size(cube.visit, max_frames)
    # every integration counts: a long cube is averaged in time, never thinned
    frames = cube if size_bin == 1 else cube.bin(time=size_bin)
    values = frames.flux
    errors = frames.error if show_errors else None
    if cube.is_normalized:
        reference = np.zeros(cube.n_wavelengths)
    else:
        from ..statistics import nanmedian_over_time

        reference = nanmedian_over_time(cube.flux)
    stamps = _stamp_texts(cube, frames, size_bin)
    scene = _build_scene(cube, values, errors, reference, stamps, (width, height), bands)
    lay = scene.layout

    x_pixels = (cube.wavelength - cube.wavelength[0]) / max(cube.wavelength[-1] - cube.wavelength[0], 1e-300)
    x_pixels = x_pixels * (lay.plot_width - 1)
    sampler = _ColumnSampler.build(x_pixels, lay.plot_width)
    to_rows = (lay.plot_height - 1) / (scene.y_hi - scene.y_lo)

    def pixel_rows(v: np.ndarray) -> np.ndarray:
        return np.clip((scene.y_hi - v) * to_rows, -4.0, lay.plot_height + 4.0)

    code_of = {ch: i for i, ch in enumerate(scene.stamp_chars)}
    length = max(len(t) for t in stamps)
    stamp_codes = np.array([[code_of[ch] for ch in t.ljust(length)] for t in stamps], dtype=np.int64)

    cmd = [
        ffmpeg_exe(), "-hide_banner", "-nostdin", "-loglevel", "error", "-y",
        "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{width}x{height}", "-framerate", f"{fps:g}",
        "-i", "pipe:0", "-an", "-c:v", "libx264", "-preset", preset, "-pix_fmt", "yuv420p",
        "-threads", str(int(threads)), "-movflags", "+faststart",
    ]
    cmd += ["-b:v", bitrate] if bitrate else ["-crf", str(int(crf))]
    partial = path.with_name(path.name + ".part")
    cmd += ["-f", "mp4", str(partial)]
    path.parent.mkdir(parents=True, exist_ok=True)
    n_frames = frames.n_integrations
    proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    stderr_chunks: list[bytes] = []
    reader = threading.Thread(target=lambda: stderr_chunks.append(proc.stderr.read()), daemon=True)
    reader.start()
    done = 0
    try:
        for start in range(0, n_frames, _BATCH):
            stop = min(start + _BATCH, n_frames)
            v = np.asarray(values[start:stop], dtype=np.float64)
            e = np.zeros_like(v) if errors is None else np.nan_to_num(np.asarray(errors[start:stop], dtype=np.float64))
            drawn = _draw_frames(
                scene, pixel_rows(v), pixel_rows(v - e), pixel_rows(v + e), stamp_codes[start:stop], sampler
            )
            for frame in drawn:
                proc.stdin.write(memoryview(frame).cast("B"))
                done += 1
            if progress:
                progress("video", done, n_frames)
        proc.stdin.close()
    except (BrokenPipeError, OSError):
        pass  # ffmpeg quit early: its exit code and stderr, read below, say why
    finally:
        code = proc.wait()
        reader.join(timeout=10)
    if code != 0 or done != n_frames:
        partial.unlink(missing_ok=True)
        message = b"".join(stderr_chunks).decode(errors="replace").strip()
        raise VideoError(f"ffmpeg could not encode the video: {message[-500:] or f'exit code {code}'}")
    partial.replace(path)
    return VideoResult(
        path, n_frames, width, height, float(fps), _time.perf_counter() - started,
        (scene.y_lo, scene.y_hi), (lay.left, lay.top, lay.right, lay.bottom), size_bin,
    )


# ------------------------------------------------------------------------ probing
def probe_video(path: str | Path) -> dict:
    """Decode a video's first video stream with the bundled ffmpeg and describe it.

    imageio-ffmpeg ships no ffprobe, so this copies the stream to the null muxer and
    reads what ffmpeg reports.

    Returns
    -------
    dict
        ``frames`` (int), ``width``, ``height`` (int), ``codec`` (e.g. ``"h264"``),
        ``pix_fmt`` (e.g. ``"yuv420p"``), ``duration`` (seconds, float), ``fps`` (float or
        None), and ``faststart`` (bool: the ``moov`` index precedes the media data).
    """
    path = Path(path)
    cmd = [ffmpeg_exe(), "-hide_banner", "-nostdin", "-i", str(path), "-map", "0:v:0", "-c", "copy", "-f", "null", "-"]
    proc = subprocess.run(cmd, capture_output=True, timeout=120)
    err = proc.stderr.decode(errors="replace")
    if proc.returncode != 0:
        raise VideoError(f"ffmpeg cannot read {path.name}: {err.strip()[-300:]}")
    stream = re.search(r"Stream #0:\d+\S*: Video: (\w+)[^,]*, (\w+)(?:\([^)]*\))?, (\d+)x(\d+)", err)
    if not stream:
        raise VideoError(f"{path.name} has no video stream")
    frames = re.findall(r"frame=\s*(\d+)", err)
    duration = re.search(r"Duration: (\d+):(\d+):([\d.]+)", err)
    fps = re.search(r"([\d.]+) fps", err)
    return {
        "frames": int(frames[-1]) if frames else 0,
        "width": int(stream.group(3)),
        "height": int(stream.group(4)),
        "codec": stream.group(1),
        "pix_fmt": stream.group(2),
        "duration": (int(duration.group(1)) * 3600 + int(duration.group(2)) * 60 + float(duration.group(3))) if duration else None,
        "fps": float(fps.group(1)) if fps else None,
        "faststart": _moov_before_mdat(path),
    }


def _moov_before_mdat(path: Path) -> bool:
    """True if the MP4's top-level ``moov`` box comes before ``mdat`` (streamable)."""
    order = []
    with open(path, "rb") as f:
        size = path.stat().st_size
        pos = 0
        while pos + 8 <= size and len(order) < 64:
            f.seek(pos)
            header = f.read(16)
            box_size = int.from_bytes(header[:4], "big")
            kind = header[4:8].decode("latin-1")
            if box_size == 1:
                box_size = int.from_bytes(header[8:16], "big")
            elif box_size == 0:
                box_size = size - pos
            if box_size < 8:
                break
            order.append(kind)
            pos += box_size
    return "moov" in order and "mdat" in order and order.index("moov") < order.index("mdat")


def read_video_frame(path: str | Path, index: int) -> np.ndarray:
    """Decode frame ``index`` (0-based) of a video as an (H, W, 3) uint8 RGB array."""
    info = probe_video(path)
    cmd = [
        ffmpeg_exe(), "-hide_banner", "-nostdin", "-loglevel", "error", "-i", str(path),
        "-vf", f"select=eq(n\\,{int(index)})", "-frames:v", "1", "-f", "rawvideo", "-pix_fmt", "rgb24", "-",
    ]
    proc = subprocess.run(cmd, capture_output=True, timeout=120)
    expected = info["width"] * info["height"] * 3
    if proc.returncode != 0 or len(proc.stdout) != expected:
        raise VideoError(f"frame {index} of {Path(path).name} could not be decoded")
    return np.frombuffer(proc.stdout, dtype=np.uint8).reshape(info["height"], info["width"], 3)
