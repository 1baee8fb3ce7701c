"""The download catalogue (stamp_engine.export.catalogue): what can be downloaded one by one, named as
in the package, and each file written by the engine alone (no dashboard)."""

from __future__ import annotations

import datetime as dt
import json
import re

import numpy as np
import pytest
from astropy.table import QTable

from stamp_engine.bands import Band
from stamp_engine.export import catalogue, package_files, package_stamp
from stamp_engine.export.catalogue import PRODUCTS, ProductNotMade, product, progress_text, write_product
from stamp_engine.export.science import SciencePlan
from stamp_engine.synthetic import make_observation

WHEN = dt.datetime(2025, 3, 4, 5, 6, 7)
BANDS = (Band("H2O", 1.3, 1.5), Band("between samples", 2.0001, 2.0002))


@pytest.fixture(scope="module")
def transit():
    """A small normalized transit: 60 integrations × 80 wavelengths (0.6–5.3 µm)."""
    obs = make_observation("transit", n_integrations=60, wavelength=np.linspace(0.6, 5.3, 80), seed=3)
    return obs.to_cube().normalize()


def test_single_files_are_named_as_in_the_package():
    stamp = package_stamp(WHEN)
    in_package = set(package_files(stamp)) | {f"{stem}_{stamp}.ecsv" for stem in catalogue.SCIENCE_PRODUCTS.values()}
    names = {kind: item.file_name(WHEN) for kind, item in PRODUCTS.items()}
    assert names.pop("package") == f"stamp_package_{stamp}.zip"
    assert set(names.values()) <= in_package, sorted(set(names.values()) - in_package)


@pytest.mark.parametrize("kind", ["", "zip", None, 3, "PACKAGE"])
def test_an_unknown_kind_is_refused_naming_the_choices(kind):
    with pytest.raises(ValueError, match=r"unknown download .* \(one of package, surface, heatmap"):
        product(kind)


def test_progress_words():
    assert progress_text("package", "video", 50, 200) == (25.0, "Package: Encoding the spectrum video — 25 %")
    assert progress_text("transit", "science", 3, 2) == (100.0, "Transit spectrum (ECSV): Computing periodograms "
                                                                "and spectra — 100 %")
    assert progress_text("fits", "unheard of", 0, 0) == (0.0, "Cube FITS file: Unheard of — 0 %")


def test_a_heatmap_page_from_the_engine_alone(transit, tmp_path):
    seen = []
    path = write_product("heatmap", transit, tmp_path, lambda *report: seen.append(report), bands=BANDS,
                         colorscale="Viridis", zrange=(-2.0, 2.0), when=WHEN)
    assert path.name == f"heatmap_plot_{package_stamp(WHEN)}.html"
    page = path.read_text(encoding="utf-8")
    # only the band with a sample gets a button (besides "All")
    assert re.findall(r'class="stamp-band" data-band="([^"]+)"', page) == ["All", "H2O"]
    (figure,) = [json.loads(m) for m in re.findall(
        r'<script type="application/json" data-stamp-figure="[^"]+">(.*?)</script>', page, flags=re.S)]
    axis = figure["layout"]["coloraxis"]
    assert (axis["cmin"], axis["cmax"]) == (-2.0, 2.0)
    assert [stage for stage, *_ in seen] == ["figures", "html", "done"]


def test_the_light_curve_table_and_a_science_product(transit, tmp_path):
    ecsv = write_product("ecsv", transit, tmp_path, bands=BANDS, when=WHEN)
    table = QTable.read(ecsv)
    assert len(table) == transit.n_integrations and "H2O" in " ".join(table.colnames)
    assert "between samples" not in " ".join(table.colnames)
    with pytest.raises(ProductNotMade, match=r"^No transit spectrum \(ECSV\): "):
        write_product("transit", transit, tmp_path, when=WHEN)  # no windows: said why
    span = float(transit.hours[-1])
    plan = SciencePlan.from_windows({"in_transit": [0.4 * span, 0.6 * span], "baseline": [0, 0.25 * span]}, channels=8)
    made = write_product("transit", transit, tmp_path, science=plan, when=WHEN)
    assert len(QTable.read(made)) == 8


def test_the_package_is_not_a_single_file(transit, tmp_path):
    with pytest.raises(ValueError, match="build_package"):
        write_product("package", transit, tmp_path)
