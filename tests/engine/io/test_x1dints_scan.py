"""The lean x1dints reader: header walk without astropy HDU lists, raw DQ bits, sampled
wavelength grids, padding masks and the memory it holds."""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest
from astropy.io import fits

from stamp_engine.io import registry
from stamp_engine.io.formats.x1dints import _sample_rows
from stamp_engine.problems import ReadError
from stamp_engine.synthetic import make_observation
from stamp_engine.synthetic.x1dints import write_x1dints


@pytest.fixture(scope="module")
def obs():
    return make_observation(n_integrations=12, wavelength=np.linspace(1.0, 5.0, 30))


def read_one(path):
    [block] = registry.read(path)
    return block


def extract1d(hdul):
    return [hdu for hdu in hdul if hdu.name == "EXTRACT1D"]


# DQ values with high bits set: only bit 0 (DO_NOT_USE) makes a value bad
DQ_VALUES = np.array([0, 1, 2, 3, 2**31, 2**31 + 1, 2**32 - 1, 2**32 - 2, 0x00010000, 0x00010001], dtype=np.uint32)


@pytest.mark.parametrize("layout", ["old", "new"])
def test_dq_do_not_use_read_from_raw_bits_with_high_bits_set(tmp_path, obs, layout):
    path = write_x1dints(tmp_path / "dq.fits", obs, layout=layout)
    rng = np.random.default_rng(5)
    dq = rng.choice(DQ_VALUES, size=obs.flux.shape).astype(np.uint32)
    with fits.open(path, mode="update") as hdul:
        tables = extract1d(hdul)
        if layout == "new":
            tables[0].data["DQ"] = dq
        else:
            for row, table in enumerate(tables):
                table.data["DQ"] = dq[row]
    with fits.open(path) as hdul:  # stored as int32 + TZERO = 2**31, as the pipeline writes it
        table = extract1d(hdul)[0]
        column = next(i for i, c in enumerate(table.columns, 1) if c.name == "DQ")
        assert table.header[f"TFORM{column}"].endswith("J") and table.header[f"TZERO{column}"] == 2**31
        stored = np.stack([t.data["DQ"] for t in extract1d(hdul)]) if layout == "old" else table.data["DQ"]
        np.testing.assert_array_equal(stored, dq)
    block = read_one(path)
    np.testing.assert_array_equal(block.bad, (dq & 1) != 0)
    assert 0 < block.bad.sum() < dq.size


@pytest.mark.parametrize("layout", ["old", "new"])
def test_dq_with_only_high_bits_flags_nothing(tmp_path, layout):
    clean = make_observation(n_integrations=6, wavelength=np.linspace(1.0, 2.0, 10))
    path = write_x1dints(tmp_path / "dq.fits", clean, layout=layout)
    with fits.open(path, mode="update") as hdul:
        for table in extract1d(hdul):
            table.data["DQ"] = np.uint32(2**31 + 2**20 + 4)
    assert read_one(path).bad is None


def test_wavelength_sample_includes_first_last_and_spread_rows():
    rows = _sample_rows(1000)
    assert rows[0] == 0 and rows[-1] == 999
    assert 25 <= rows.size <= 40
    assert np.diff(rows).max() <= 1000 // (rows.size - 1) + 1
    np.testing.assert_array_equal(_sample_rows(5), np.arange(5))  # small tables: every row


def test_new_layout_wavelength_differing_in_a_sampled_row_is_caught(tmp_path):
    many = make_observation(n_integrations=100, wavelength=np.linspace(1.0, 5.0, 20))
    path = write_x1dints(tmp_path / "grid.fits", many, layout="new")
    shared = read_one(path)
    assert shared.wavelength.shape == (20,)
    np.testing.assert_allclose(shared.wavelength, many.wavelength)

    row = int(_sample_rows(100)[len(_sample_rows(100)) // 2])
    assert 0 < row < 99  # a middle row, neither the first nor the last
    with fits.open(path, mode="update") as hdul:
        hdul["EXTRACT1D"].data["WAVELENGTH"][row] *= 1.001
    block = read_one(path)
    assert block.wavelength.shape == (100, 20)  # every row handed on: the grids differ
    np.testing.assert_allclose(block.wavelength[row], many.wavelength * 1.001)
    np.testing.assert_allclose(np.delete(block.wavelength, row, axis=0), np.broadcast_to(many.wavelength, (99, 20)))


def test_old_layout_wavelength_differing_in_any_table_is_caught(tmp_path, obs):
    path = write_x1dints(tmp_path / "grid.fits", obs, layout="old")
    with fits.open(path, mode="update") as hdul:  # every table is compared, not a sample
        extract1d(hdul)[7].data["WAVELENGTH"] += 0.01
    block = read_one(path)
    assert block.wavelength.shape == (12, 30)
    np.testing.assert_allclose(block.wavelength[7], obs.wavelength + 0.01)
    np.testing.assert_allclose(block.wavelength[6], obs.wavelength)


def test_padding_mask_only_where_a_row_is_shorter(tmp_path):
    clean = make_observation(n_integrations=8, wavelength=np.linspace(1.0, 2.0, 16))
    path = write_x1dints(tmp_path / "pad.fits", clean, layout="new")
    assert read_one(path).bad is None  # full-length rows, no DQ flags: no mask at all
    with fits.open(path, mode="update") as hdul:
        hdul["EXTRACT1D"].data["N_ALONGDISP"][3] = 11
    block = read_one(path)
    assert block.flux.shape == (8, 16)
    expected = np.zeros((8, 16), bool)
    expected[3, 11:] = True
    np.testing.assert_array_equal(block.bad, expected)


def test_headers_of_different_lengths_and_trailing_zeros(tmp_path, obs):
    path = write_x1dints(tmp_path / "a.fits", obs, layout="old")
    with fits.open(path) as hdul:
        for k in range(60):  # one table's header grows by a 2880-byte block: offsets are per header
            extract1d(hdul)[4].header.add_history(f"reprocessed step {k}")
        hdul.writeto(tmp_path / "b.fits")
    longer = tmp_path / "b.fits"
    with open(longer, "ab") as handle:
        handle.write(b"\0" * 2880)  # zero padding after the last HDU is not an HDU
    block = read_one(longer)
    np.testing.assert_array_equal(block.integration, np.arange(1, 13))
    np.testing.assert_allclose(np.asarray(block.flux), obs.flux, equal_nan=True)
    np.testing.assert_allclose(np.asarray(block.error), obs.error)
    np.testing.assert_allclose(block.time_mjd, obs.time_bjd_tdb, rtol=0, atol=1e-9)


def test_truncated_inside_a_later_header_or_table(tmp_path, obs):
    path = write_x1dints(tmp_path / "full.fits", obs, layout="old")
    data = path.read_bytes()
    with fits.open(path) as hdul:
        info = extract1d(hdul)[5].fileinfo()
    for cut, where in ((info["hdrLoc"] + 100, "header of HDU"), (info["datLoc"] + 100, "EXTRACT1D table")):
        cut_path = tmp_path / f"cut{cut}.fits"
        cut_path.write_bytes(data[:cut])
        with pytest.raises(ReadError, match=f"is truncated: it ends inside (the )?{where}"):
            registry.read(cut_path)


def test_old_layout_reader_holds_about_the_spectra_only(tmp_path):
    many = make_observation(n_integrations=600, wavelength=np.linspace(1.0, 5.0, 200))
    path = write_x1dints(tmp_path / "many.fits", many, layout="old")
    registry.read(path)  # imports and caches warm
    tracemalloc.start()
    try:
        [block] = registry.read(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    spectra = 2 * many.flux.size * 8  # flux + error, float64
    # flux + error + the DQ mask + one wavelength row: no per-table header objects
    assert peak < 1.5 * spectra, peak / spectra
    np.testing.assert_allclose(np.asarray(block.flux), many.flux)
