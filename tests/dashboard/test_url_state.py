"""The view's link (dashboard/features/url_state.py), the spectral element choice and sigma clipping, without a browser."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import parse_qsl

import numpy as np
import pytest

from dashboard import ids
from dashboard.server.config import Config
from dashboard.features import controls
from dashboard.features.url_state import (TABS, ViewState, control_values, keeps_colour_range, linkable_dataset,
                                          options_from_dict, parse_query, state_from_page, to_query)
from dashboard.jobs import run_job
from dashboard.options import DisplayOptions, loaded_key, parse_element, parse_process_options, processed_key
from dashboard.server.services import build_services
from stamp_engine import figures
from stamp_engine.bands import Band
from stamp_engine.recipe import ProcessOptions, process
from stamp_engine.synthetic import make_observation
from stamp_engine.synthetic.x1dints import make_mode_observation, write_segments

SCALES = tuple(figures.COLORSCALES)
FILES = ["wasp/seg1.fits", "wasp/Seg2.fits"]


def parse(search, **kwargs):
    kwargs.setdefault("colorscales", SCALES)
    kwargs.setdefault("server_files", FILES)
    return parse_query(search, **kwargs)


EVERYTHING = ViewState(
    dataset={"kind": "server", "paths": FILES, "element": "order 2"},
    options=ProcessOptions(n_integrations=50, interpolate_gaps=True, gap_hours=0.25, zaxis="variability",
                           normalization="baseline", baseline=(0.1, 0.9), wavelength=(1.05, None), hours=(None, 2.5),
                           sigma_time=1.5, sigma_wavelength=0.5, bin_time=3, bin_wavelength=2, clip_sigma=4.5),
    display=DisplayOptions(colorscale="Viridis", zrange=(-1.5, 2.25), stretch="asinh", visits="side by side"),
    bands=(Band("H2O", 1.3, 1.5), Band("CO: 2-0 & more", 2.28, 2.4)),
    highlight="CO: 2-0 & more",
    tab=TABS["spectrum"],
    spectrum_mode="flux",
)


def test_every_field_survives_the_round_trip():
    search = to_query(EVERYTHING)
    state, messages = parse(search)
    assert messages == []
    assert state == EVERYTHING
    # every processing option is in the link under its ProcessOptions field name
    keys = {k for k, _ in parse_qsl(search[1:])}
    assert {"n_integrations", "interpolate_gaps", "gap_hours", "normalization", "baseline", "wavelength", "hours",
            "sigma_time", "sigma_wavelength", "bin_time", "bin_wavelength", "clip_sigma"} <= keys
    assert to_query(state) == search  # canonical: reading and writing again changes nothing


def test_defaults_are_left_out_and_floats_read_back_exactly():
    assert to_query(ViewState()) == ""
    awkward = ViewState(options=ProcessOptions(wavelength=(0.1 + 0.2, 1 / 3)))
    state, _ = parse(to_query(awkward))
    assert state.options.wavelength == (0.1 + 0.2, 1 / 3)


def test_names_are_read_case_insensitively():
    state, messages = parse("?ZAXIS=Flux&Normalization=VISIT&colorscale=viridis&stretch=LOG&visits=Side+By+Side"
                            "&view=LightCurves&spectrum=FLUX&data=Server&file=WASP/SEG1.FITS&element=Order2"
                            "&interpolate_gaps=Yes&band=h2o:1.3:1.5&highlight=H2O")
    assert messages == []
    assert state.options.zaxis == "flux" and state.options.normalization == "visit"
    assert state.options.interpolate_gaps is True
    assert state.display == DisplayOptions(colorscale="Viridis", stretch="log", visits="side by side")
    assert state.tab == ids.TAB_LIGHTCURVES and state.spectrum_mode == "flux"
    assert state.dataset == {"kind": "server", "paths": ["wasp/seg1.fits"], "element": "order 2"}
    assert state.highlight == "h2o"


@pytest.mark.parametrize("search, fragment, check", [
    ("?zaxis=colour", "zaxis='colour' is not one of variability, flux", lambda s: s.options.zaxis == "variability"),
    ("?bin_time=2.5", "bin_time: Time binning must be a whole number", lambda s: s.options.bin_time == 1),
    ("?bin_time=abc", "bin_time: Time binning must be a number", lambda s: s.options.bin_time == 1),
    ("?sigma_time=1e9", "between 0 and 100", lambda s: s.options.sigma_time == 0),
    ("?clip_sigma=0.5", "Sigma clipping must be 0 (off) or between 2 and 100", lambda s: s.options.clip_sigma == 0),
    ("?wavelength=3,1", "start (3 µm) must be below end (1 µm)", lambda s: s.options.wavelength == (None, None)),
    ("?wavelength=1,2,3", "Wavelength range start must be a number", lambda s: s.options.wavelength == (None, None)),
    ("?gap_hours=nan", "must be a finite number", lambda s: s.options.gap_hours == 0.5),
    ("?interpolate_gaps=maybe", "is not true or false", lambda s: s.options.interpolate_gaps is False),
    ("?colorscale=Rainbow", "colorscale='Rainbow' is not one of auto, RdBu_r", lambda s: s.display.colorscale is None),
    ("?zrange=1", "Colour range needs both ends", lambda s: s.display.zrange is None),
    ("?view=table", "view='table' is not one of heatmap, surface", lambda s: s.tab == ids.TAB_HEATMAP),
    ("?spectrum=ppm", "spectrum='ppm' is not one of variability, flux", lambda s: s.spectrum_mode == "variability"),
    ("?band=H2O:1.5:1.3", "Link band 'H2O': Start (1.5 µm) must be below end (1.3 µm)", lambda s: s.bands == ()),
    ("?band=nonsense", "Link band 'nonsense' is not name:start:end", lambda s: s.bands == ()),
    ("?band=A:1:2&highlight=B", "highlight='B' is not one of the link's bands", lambda s: s.highlight == "All"),
    ("?data=upload", "uploaded data cannot be linked", lambda s: s.dataset is None),
    ("?data=server&file=../../etc/passwd", "'../../etc/passwd' is not in this server's data folder",
     lambda s: s.dataset is None),
    ("?data=demo&element=order%202;rm", "Spectral element 'order 2;rm' is not a name",
     lambda s: s.dataset == {"kind": "demo"}),
    ("?file=wasp/seg1.fits", "without data=server", lambda s: s.dataset is None),
    ("?session=abc&zaxis=flux", "'session' is not known and was ignored", lambda s: s.options.zaxis == "flux"),
])
def test_a_bad_value_is_named_and_its_default_used(search, fragment, check):
    state, messages = parse(search)
    assert any(fragment in m for m in messages), messages
    assert state is not None and check(state)


def test_the_server_decides_what_a_dataset_link_may_open():
    state, messages = parse("?data=demo", has_demo=False)
    assert state.dataset is None and "does not have" in messages[0]
    state, messages = parse("?data=server&file=wasp/seg1.fits", server_files=None)
    assert state.dataset is None and "no data folder" in messages[0]


def test_an_empty_or_unrelated_link_restores_nothing():
    assert parse("") == (None, [])
    assert parse("?") == (None, [])
    state, messages = parse("?utm_source=mail")
    assert state is None and "not known" in messages[0]
    state, messages = parse("?" + "a" * 9000)
    assert state is None and "longer than" in messages[0]


@pytest.mark.parametrize("junk", ["%", "&&&", "=x", "zaxis", "band=:::", "view=%00", "zrange=,,", "baseline=a,b"])
def test_junk_never_raises(junk):
    parse("?" + junk)


def test_uploads_and_sessions_never_reach_the_link():
    upload = {"kind": "upload", "session": "ab" * 16, "digest": "cd" * 16, "names": ["secret.fits"]}
    assert linkable_dataset(upload) is None
    search = to_query(ViewState(dataset=upload, options=ProcessOptions(bin_time=2)))
    assert search == "?bin_time=2"
    assert "ab" * 16 not in search and "secret" not in search


def test_the_page_state_prefers_what_was_processed():
    dataset = {"kind": "demo"}
    processed = ProcessOptions(bin_time=4, clip_sigma=3.0)
    result = {"dataset": dataset, "options": processed.to_dict()}
    typed = control_values(ProcessOptions(bin_time=8))  # typed, not processed yet
    state = state_from_page(dataset, result, typed, "auto", None, None, "linear", "auto",
                            [{"name": "A", "start": 1.0, "end": 2.0}], "A", ids.TAB_LIGHTCURVES, "variability", SCALES)
    assert state.options == processed
    assert state.bands == (Band("A", 1.0, 2.0),) and state.highlight == "A"
    # another dataset chosen and not processed yet: the controls say what the view will be
    state = state_from_page({"kind": "server", "paths": FILES}, result, typed, "auto", None, None, "linear", "auto",
                            [], "All", ids.TAB_HEATMAP, "variability", SCALES)
    assert state.options.bin_time == 8


def test_control_values_give_back_the_options():
    options = EVERYTHING.options
    assert parse_process_options(controls.raw_options(control_values(options)))[0] == options
    assert options_from_dict(options.to_dict()) == options


def test_a_link_zaxis_change_keeps_its_colour_range():
    search = "?zaxis=flux&zrange=1,5"
    assert keeps_colour_range(search, "flux", 1, 5)
    assert not keeps_colour_range(search, "variability", 1, 5)  # the user changed the z axis
    assert not keeps_colour_range("?zrange=1,5", "flux", 1, 5)  # the link's range is for variability
    assert not keeps_colour_range(search, "flux", None, None)


@pytest.mark.parametrize("raw, expected", [
    (None, None), ("", None), ("both", None), ("ALL", None), ("Order 2", "order 2"), ("order2", "order 2"),
    (" ORDER  1 ", "order 1"), ("nrs1", "NRS1"), ("NRS2", "NRS2"),
])
def test_element_names_are_forgiven_their_case(raw, expected):
    assert parse_element(raw) == (expected, None)


@pytest.mark.parametrize("raw", ["order 2; drop", 5, "x" * 41, "../nrs1"])
def test_an_unusable_element_is_named(raw):
    element, message = parse_element(raw)
    assert element is None and "Spectral element" in message


def test_the_element_is_part_of_both_cache_keys():
    options = ProcessOptions()
    assert loaded_key("c") != loaded_key("c", "order 2")
    assert processed_key("c", options) != processed_key("c", options, "order 2")
    assert loaded_key("c") == loaded_key("c", None)  # the default's keys are unchanged


def soss_folder(root: Path) -> list[str]:
    order1, extra = make_mode_observation("niriss_soss", 24, n_wavelengths=30, snr=300)
    paths = write_segments(root, order1, 2, layout="old", extra_spectra=extra)
    return [p.relative_to(root).as_posix() for p in paths]


def test_a_job_loads_the_chosen_element_and_says_which_is_shown(tmp_path):
    root = tmp_path / "data"
    root.mkdir()
    files = soss_folder(root)
    loads = []

    def loader(paths, progress=None, **options):
        import stamp_engine

        loads.append(options.get("element"))
        return stamp_engine.load(paths, progress=progress, **options)

    services = build_services(Config(cache_dir=tmp_path / "cache", data_dir=root), loader=loader)
    first = run_job(services, {"kind": "server", "paths": files}, {})
    assert first.message is None
    assert first.result["elements"] == ["order 1", "order 2"] and first.result["element"] == "order 1"
    summary = dict(first.result["summary"])
    assert summary["Spectral element"] == "order 1 shown (of order 1, order 2)"
    second = run_job(services, {"kind": "server", "paths": files, "element": "order 2"}, {})
    assert dict(second.result["summary"])["Spectral element"].startswith("order 2 shown")
    assert second.result["key"] != first.result["key"]
    assert second.result["limits"]["wavelength"][1] < 1.5 < first.result["limits"]["wavelength"][1]  # order 2 is bluer
    run_job(services, {"kind": "server", "paths": files, "element": "order 2"}, {"bin_time": 2})
    assert loads == [None, "order 2"]  # each element read once, then from the cache
    missing = run_job(services, {"kind": "server", "paths": files, "element": "order 3"}, {})
    assert missing.result is None
    assert any("'order 3' is not in the data (available: order 1, order 2)" in p["message"] for p in missing.problems)
    bad = run_job(services, {"kind": "server", "paths": files, "element": "order 1; x"}, {})
    assert bad.result is None and "Spectral element" in bad.message


def test_element_picker_offers_orders_or_detectors():
    soss = {"dataset": {"kind": "demo"}, "elements": ["order 1", "order 2"], "element": "order 1"}
    choices, value = controls.element_choices(soss)
    assert [c["value"] for c in choices] == ["order 1", "order 2"] and value == "order 1"
    assert controls.dataset_with_element(soss, "order 1") is None  # already shown: no new job
    assert controls.dataset_with_element(soss, "order 2") == {"kind": "demo", "element": "order 2"}
    nirspec = {"dataset": {"kind": "demo", "element": "NRS2"}, "elements": ["NRS1", "NRS2"], "element": "NRS2"}
    choices, value = controls.element_choices(nirspec)
    assert [c["value"] for c in choices] == ["NRS1", "NRS2", controls.ALL_ELEMENTS] and value == "NRS2"
    assert controls.dataset_with_element(nirspec, controls.ALL_ELEMENTS) == {"kind": "demo"}
    assert controls.element_choices({"elements": ["NRS1"], "element": "NRS1"}) == ([], None)


def test_clip_sigma_removes_injected_outliers_and_is_in_the_cache_key(tmp_path):
    import stamp_engine

    obs = make_observation(n_integrations=80, wavelength=np.linspace(1, 2, 40), snr=500, seed=3)
    loaded = stamp_engine.load(write_segments(tmp_path, obs, 1))
    hits = [(10, 5), (40, 20), (70, 33)]
    flux = loaded.flux.copy()
    for row, column in hits:
        flux[row, column] *= 1.5  # cosmic-ray sized: 50 % at SNR 500
    spiky = loaded.replace(flux=flux)
    clipped = process(spiky, ProcessOptions(zaxis="flux", clip_sigma=5.0))
    lost = np.argwhere(~np.isfinite(clipped.flux) & np.isfinite(spiky.flux))
    assert sorted(map(tuple, lost)) == hits
    assert np.isfinite(process(spiky, ProcessOptions(zaxis="flux")).flux[tuple(np.array(hits).T)]).all()
    assert "clip σ" in ProcessOptions(clip_sigma=5.0).describe()
    assert processed_key("c", ProcessOptions(clip_sigma=5.0)) != processed_key("c", ProcessOptions())


def test_heatmap_masks_columns_mostly_nan():
    values = np.ones((10, 6))
    values[:, 1] = np.nan          # dead column
    values[:6, 2] = np.nan         # 60 % flagged
    values[:3, 4] = np.nan         # 30 %: not masked
    np.testing.assert_array_equal(figures.masked_columns(values), [False, True, True, False, False, False])
    edges = np.arange(7, dtype=float)
    rects = figures.masked_column_rects(values, edges, (0.0, 2.0), {})
    assert [(r["x0"], r["x1"]) for r in rects] == [(1.0, 3.0)]  # neighbouring columns: one rectangle
    assert rects[0]["fillcolor"] == figures.MASK_COLOUR and rects[0]["layer"] == "below"


def test_nirspec_detectors_one_at_a_time_or_joined(tmp_path):
    root = tmp_path / "data"
    root.mkdir()
    nrs1, extra = make_mode_observation("nirspec_g395h", 16, n_wavelengths=20, snr=300)
    files = [p.relative_to(root).as_posix() for p in write_segments(root, nrs1, 1, layout="old", stage=3,
                                                                    extra_spectra=extra)]
    services = build_services(Config(cache_dir=tmp_path / "cache", data_dir=root))
    joined = run_job(services, {"kind": "server", "paths": files}, {})
    assert joined.result["elements"] == ["NRS1", "NRS2"]
    choices, value = controls.element_choices(joined.result)
    assert value == controls.ALL_ELEMENTS  # both detectors shown, joined in wavelength
    lo, hi = joined.result["limits"]["wavelength"]
    assert lo < 3.0 and hi > 5.0
    descriptor = controls.dataset_with_element(joined.result, "NRS2")
    nrs2 = run_job(services, descriptor, {})
    lo, hi = nrs2.result["limits"]["wavelength"]
    assert lo > 3.8 and hi > 5.0
    assert controls.element_choices(nrs2.result)[1] == "NRS2"
    assert dict(nrs2.result["summary"])["Spectral element"] == "NRS2 shown (of NRS1, NRS2)"
