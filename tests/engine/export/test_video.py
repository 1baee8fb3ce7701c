"""The spectrum video: H.264/yuv420p/faststart MP4 streamed to the bundled ffmpeg, with the
spectrum drawn where its values say, the time stamp changing, and a usable text fallback."""

from __future__ import annotations

import astropy.units as u
import numpy as np
import pytest
from astropy.time import Time

from stamp_engine.export import video
from stamp_engine.bands import Band
from stamp_engine.cube import Cube
from stamp_engine.synthetic import make_observation
from stamp_engine.export.video import VideoError, nice_ticks, probe_video, read_video_frame, write_spectrum_video

SIZE = (640, 360)


def _cube(obs, **changes) -> Cube:
    return obs.to_cube(sources=("synthetic.h5",), **changes)


def _ramp_cube(n: int = 24, level0: float = 1.0, level1: float = 2.0) -> Cube:
    """A flat spectrum whose level rises linearly from ``level0`` to ``level1`` Jy over the frames."""
    wavelength = np.linspace(1.0, 3.0, 200)
    levels = np.linspace(level0, level1, n)
    flux = np.repeat(levels[:, None], wavelength.size, axis=1)
    error = np.full_like(flux, 1e-4)
    time = Time(60000.0 + np.arange(n) / 1440.0, format="mjd", scale="tdb")
    return Cube(wavelength, time, flux, error, u.Jy, meta={"target": "Ramp"})


def _blue_rows(frame: np.ndarray, column: int) -> np.ndarray:
    """Rows of a decoded frame where the spectrum colour (plotly blue) is drawn in ``column``."""
    rgb = frame[:, column].astype(int)
    is_blue = (rgb[:, 2] - rgb[:, 0] > 80) & (rgb[:, 2] > 120)
    return np.flatnonzero(is_blue)


@pytest.fixture(scope="module")
def variability_video(tmp_path_factory):
    obs = make_observation("variability", n_integrations=36, wavelength=np.linspace(0.6, 5.3, 500), n_visits=2, seed=3)
    cube = _cube(obs).split_visits(0.5).normalize("visit")
    path = tmp_path_factory.mktemp("video") / "spectrum.mp4"
    result = write_spectrum_video(cube, path, fps=12, size=SIZE, bands=[Band("H2O 1.4", 1.3, 1.5)])
    return cube, result


def test_video_is_h264_yuv420p_faststart_with_one_frame_per_integration(variability_video):
    cube, result = variability_video
    info = probe_video(result.path)
    assert info["frames"] == cube.n_integrations == result.frames == 36
    assert (info["width"], info["height"]) == SIZE
    assert info["codec"] == "h264"
    assert info["pix_fmt"] == "yuv420p"
    assert info["faststart"] is True
    assert info["duration"] == pytest.approx(36 / 12, abs=0.1)
    assert not result.path.with_name(result.path.name + ".part").exists()


def test_frames_change_but_the_axes_do_not(variability_video):
    cube, result = variability_video
    first, last = read_video_frame(result.path, 0), read_video_frame(result.path, result.frames - 1)
    left, top, right, bottom = result.plot_box
    plot_change = np.abs(first[top:bottom, left:right].astype(int) - last[top:bottom, left:right].astype(int))
    assert (plot_change.max(axis=2) > 60).sum() > 200  # the spectrum moved
    stamp_change = np.abs(first[:top, left:].astype(int) - last[:top, left:].astype(int))
    assert (stamp_change.max(axis=2) > 60).sum() > 20  # the time stamp differs
    below = np.abs(first[bottom + 2 :].astype(int) - last[bottom + 2 :].astype(int))
    assert below.mean() < 1.0  # tick labels and axis label are the same background


def test_the_line_is_drawn_at_the_value_of_each_frame(tmp_path):
    cube = _ramp_cube()
    result = write_spectrum_video(cube, tmp_path / "ramp.mp4", fps=10, size=SIZE, show_errors=False)
    left, top, right, bottom = result.plot_box
    y_lo, y_hi = result.y_range
    assert y_lo < 1.0 and y_hi > 2.0
    for index in (0, cube.n_integrations // 2, cube.n_integrations - 1):
        frame = read_video_frame(result.path, index)
        level = cube.flux[index, 0]
        expected = top + (y_hi - level) / (y_hi - y_lo) * (bottom - top - 1)
        for column in (left + 50, (left + right) // 2, right - 50):
            rows = _blue_rows(frame, column)
            assert rows.size, f"no line in column {column} of frame {index}"
            assert abs(np.median(rows) - expected) <= 2.0


def test_max_frames_bins_in_time_and_stamps_the_bin_centre(tmp_path):
    cube = _ramp_cube(n=40)
    result = write_spectrum_video(cube, tmp_path / "few.mp4", fps=10, size=SIZE, max_frames=8)
    assert result.frames == 8 == probe_video(result.path)["frames"]
    assert result.integrations_per_frame == 5
    left, top, right, bottom = result.plot_box
    y_lo, y_hi = result.y_range
    for index in (0, 7):
        frame = read_video_frame(result.path, index)
        level = cube.flux[5 * index : 5 * index + 5, 0].mean()  # the mean of the 5 integrations, none dropped
        expected = top + (y_hi - level) / (y_hi - y_lo) * (bottom - top - 1)
        assert abs(np.median(_blue_rows(frame, (left + right) // 2)) - expected) <= 2.0
    stamps = [" ".join(t.split()) for t in video._stamp_texts(cube, cube.bin(time=5), 5)]  # padding aside
    n = cube.integration
    assert "bin centre" in stamps[0] and f"integrations {n[0]}–{n[4]}" in stamps[0]
    centre = (cube.time.mjd[35:40].mean() - cube.time.mjd[0]) * 24
    assert f"t = {centre * 60:.2f} min since t0" in stamps[-1] and f"{n[35]}–{n[39]}" in stamps[-1]  # a 40 min series: minutes
    assert "bin centre" not in video._stamp_texts(cube, cube, 1)[0]


def test_frame_bin_size_is_the_smallest_bin_that_fits_every_visit():
    def frames(visit, k):  # time bins restart at each visit (stamp_engine.steps.bin)
        return sum(-(-int(np.sum(visit == v)) // k) for v in np.unique(visit))

    for lengths, limit in [((40,), 8), ((23, 17), 8), ((5000, 5000), 600), ((7, 1, 300), 50), ((3, 4), 1), ((10,), 0)]:
        visit = np.repeat(np.arange(len(lengths)), lengths)
        k = video.frame_bin_size(visit, limit)
        if not limit or sum(lengths) <= limit:
            assert k == 1
        elif limit < len(lengths):
            assert k == max(lengths)  # one frame per visit is the least there can be
        else:
            assert frames(visit, k) <= limit < frames(visit, k - 1) if k > 1 else frames(visit, 1) <= limit
    # the package default turns a 10,000-integration two-visit cube into at most 600 frames
    visit = np.repeat([0, 1], 5000)
    k = video.frame_bin_size(visit, 600)
    assert k == 17 and frames(visit, k) == 590


def test_binned_two_visit_video_keeps_visits_apart(tmp_path):
    obs = make_observation("variability", n_integrations=46, wavelength=np.linspace(1.0, 2.0, 60), n_visits=2, seed=5)
    cube = _cube(obs).split_visits(0.5)
    result = write_spectrum_video(cube, tmp_path / "two.mp4", size=SIZE, max_frames=10)
    # 23 + 23 integrations in bins of 5 within each visit: 5 + 5 frames, the last of each holding 3
    assert (result.frames, result.integrations_per_frame) == (10, 5) == (probe_video(result.path)["frames"], 5)
    stamps = [" ".join(t.split()) for t in video._stamp_texts(cube, cube.bin(time=5), 5)]
    n = cube.integration
    assert f"{n[20]}–{n[22]}" in stamps[4] and "visit 1" in stamps[4]
    assert f"{n[23]}–{n[27]}" in stamps[5] and "visit 2" in stamps[5]


def test_a_noisy_2040_wavelength_spectrum_is_drawn_through_every_pixel_column(tmp_path):
    """2,040 wavelengths on ~600 pixel columns: each column shows the min–max of its samples."""
    obs = make_observation("transit", n_integrations=12, wavelength=np.linspace(0.6, 5.3, 2040), snr=300, seed=8)
    cube = _cube(obs).normalize()
    result = write_spectrum_video(cube, tmp_path / "noisy.mp4", size=SIZE, max_frames=6)
    assert (result.frames, result.integrations_per_frame) == (6, 2) == (probe_video(result.path)["frames"], 2)
    left, top, right, bottom = result.plot_box
    y_lo, y_hi = result.y_range
    shown = cube.bin(time=2)
    x = (cube.wavelength - cube.wavelength[0]) / np.ptp(cube.wavelength) * (right - left - 1)
    rows = top + (y_hi - shown.flux) / (y_hi - y_lo) * (bottom - top - 1)
    frame = read_video_frame(result.path, 3)
    zero_row = top + y_hi / (y_hi - y_lo) * (bottom - top - 1)  # the grey 0 % reference line
    spans = []
    for column in range(10, right - left - 10, 37):
        # the polyline inside the column: its samples there and its values at the column's edges
        inside = np.r_[rows[3, np.abs(x - column) <= 0.5], np.interp([column - 0.5, column + 0.5], x, rows[3])]
        if not np.isfinite(inside).all():
            continue
        # by luma: 4:2:0 chroma subsampling greys a one-column spike, but it stays dark
        rgb = frame[top:bottom, left + column].astype(float)
        dark = top + np.flatnonzero(rgb @ [0.299, 0.587, 0.114] < 170)  # line 100, white 255, ±1σ band 220
        lo, hi = np.clip([inside.min(), inside.max()], top, bottom - 1)
        stray = dark[((dark < lo - 4) | (dark > hi + 4)) & (np.abs(dark - zero_row) > 3)]
        assert stray.size == 0, f"column {column}: drawn at rows {stray} where no sample is ({lo:.0f}–{hi:.0f})"
        covered = np.isin(np.arange(int(np.ceil(lo)), int(hi) + 1), dark).mean()
        spans.append((covered, hi - lo))
    covered, expected = np.array(spans).T
    assert len(spans) > 10
    assert np.median(expected) > 10  # the noise really spans several pixel rows …
    assert covered.min() > 0.8  # … and the vertical strokes cover them


def test_progress_reports_every_frame_in_the_end(tmp_path):
    calls = []
    write_spectrum_video(_ramp_cube(n=70), tmp_path / "p.mp4", size=SIZE, progress=lambda *a: calls.append(a))
    assert calls[-1] == ("video", 70, 70)
    assert [c[1] for c in calls] == sorted(c[1] for c in calls)


def test_nan_columns_and_hostile_target_names_still_encode(tmp_path):
    obs = make_observation(n_integrations=12, wavelength=np.linspace(1, 2, 120), nan_columns=(5, 6, 7, 60))
    target = "a:b'c\\d[e],f;g%{pts}\n</script>"
    cube = _cube(obs, meta={**obs.meta, "target": target})
    result = write_spectrum_video(cube, tmp_path / "nan.mp4", size=SIZE)
    assert probe_video(result.path)["frames"] == 12


def test_labels_are_drawn_with_the_fonts_matplotlib_ships(tmp_path):
    """One text path, no system font needed: every label has ink, of one baseline per size."""
    masks = video._text_masks([("Wavelength (µm) ±1σ", 20, "sans"), ("t = 1.25 h", 18, "monospace"),
                               ("ax", 20, "sans"), ("mn", 20, "sans"), ("gy", 20, "sans"), ("$x^2$ %{pts}", 20, "sans")]).masks
    assert all(m.max() == 1.0 for m in masks)
    assert masks[0].shape[1] > masks[1].shape[1]  # longer text, wider mask
    bottom = [int(np.flatnonzero(m.max(axis=1) > 0.5)[-1]) for m in masks[2:5]]
    assert bottom[0] == bottom[1] < bottom[2] - 2  # one baseline per size; descenders go below it
    assert masks[5].shape[1] > masks[2].shape[1] * 4  # "$x^2$ %{pts}" is drawn as text, not as mathematics
    result = write_spectrum_video(_ramp_cube(n=6), tmp_path / "text.mp4", size=SIZE)
    frame = read_video_frame(result.path, 0)
    left, top, right, bottom = result.plot_box
    title_area = frame[:top, left : left + 200].astype(int)
    assert (title_area.max(axis=2) < 100).sum() > 30  # dark glyph pixels of the title and time stamp


def test_bad_requests_raise_clear_errors(tmp_path):
    cube = _ramp_cube(n=4)
    with pytest.raises(ValueError, match="even"):
        write_spectrum_video(cube, tmp_path / "odd.mp4", size=(641, 360))
    with pytest.raises(ValueError, match="positive"):
        write_spectrum_video(cube, tmp_path / "fps.mp4", fps=0)
    empty = cube.replace(flux=np.full(cube.shape, np.nan))
    with pytest.raises(VideoError, match="no finite values"):
        write_spectrum_video(empty, tmp_path / "nan.mp4", size=SIZE)
    not_video = tmp_path / "text.mp4"
    not_video.write_text("not a video")
    with pytest.raises(VideoError):
        probe_video(not_video)


@pytest.mark.parametrize("lo, hi", [(0.6, 5.3), (-1.234, 0.87), (1e-5, 3e-5), (100.0, 100.5)])
def test_nice_ticks_are_round_evenly_spaced_and_inside(lo, hi):
    ticks = nice_ticks(lo, hi, target=6)
    assert 3 <= ticks.size <= 12
    assert ticks[0] >= lo - 1e-12 and ticks[-1] <= hi + 1e-12
    steps = np.diff(ticks)
    assert np.allclose(steps, steps[0])
    mantissa = steps[0] / 10 ** np.floor(np.log10(steps[0]) + 1e-9)
    assert any(np.isclose(mantissa, m) for m in (1, 2, 2.5, 5))
