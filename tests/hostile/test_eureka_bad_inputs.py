"""Unusable HDF5 input becomes one clear sentence, never a traceback."""

from __future__ import annotations

import h5py
import numpy as np
import pytest

from stamp_engine.io.formats import eureka
from stamp_engine.io.registry import read
from stamp_engine.problems import ReadError
from stamp_engine.synthetic import make_observation
from stamp_engine.synthetic.eureka import write_eureka_s3


@pytest.fixture(scope="module")
def obs():
    return make_observation("transit", n_integrations=40, wavelength=np.linspace(1.0, 5.0, 60), seed=11)


def _error(path) -> str:
    with pytest.raises(ReadError) as info:
        read(path)
    message = str(info.value)
    assert path.name not in message  # the loader prefixes the file name
    assert "Traceback" not in message
    return message


def test_missing_wavelength_lists_what_is_missing_and_found(tmp_path, obs):
    path = tmp_path / "spectra.h5"
    with h5py.File(path, "w") as h5:
        h5["optspec"] = obs.flux
        h5["time"] = obs.time_bjd_tdb
        h5["centroid_y"] = np.zeros(40)
    message = _error(path)
    assert message.startswith("has spectra (optspec) but missing wavelength (one of wave_1d")
    assert "found: centroid_y, optspec, time" in message
    assert "time (one of" not in message


def test_missing_flux_and_time(tmp_path, obs):
    path = tmp_path / "wave_only.h5"
    with h5py.File(path, "w") as h5:
        h5["wave_1d"] = obs.wavelength
    message = _error(path)
    assert "missing flux (one of optspec, calibrated_optspec, stdspec, flux)" in message
    assert "time (one of time, bmjd, mjd, bjd, time_bjd, time_mjd)" in message
    assert "found: wave_1d" in message


def test_eureka_file_with_every_spectrum_removed(tmp_path, obs):
    path = write_eureka_s3(tmp_path / "stripped.h5", obs)
    with h5py.File(path, "a") as h5:
        for key in ("optspec", "opterr", "stdspec", "stdvar"):
            del h5[key]
    message = _error(path)
    assert "missing flux" in message and "optmask" in message and "wave_1d" in message


def test_unrelated_hdf5_file_is_not_claimed(tmp_path):
    path = tmp_path / "weights.h5"
    with h5py.File(path, "w") as h5:
        h5["layer1"] = np.zeros(3)
    assert not eureka.identify(path, path.read_bytes()[:4096])
    assert "HDF5 file without time-series spectra" in _error(path)


def test_text_file_named_h5(tmp_path):
    path = tmp_path / "S3_fake_SpecData.h5"
    path.write_text("optspec wave_1d time\n1 2 3\n")
    assert not eureka.identify(path, path.read_bytes())
    assert _error(path) == "is neither FITS nor HDF5 (unrecognised content)"


def test_html_error_page_named_h5(tmp_path):
    path = tmp_path / "download.h5"
    path.write_text("<!DOCTYPE html><html><body>404</body></html>")
    assert "HTML page" in _error(path)


@pytest.mark.parametrize("fraction", [0.05, 0.5, 0.9])
def test_truncated_hdf5(tmp_path, obs, fraction):
    full = write_eureka_s3(tmp_path / "full.h5", obs, compression="gzip")
    data = full.read_bytes()
    path = tmp_path / "cut.h5"
    path.write_bytes(data[: int(len(data) * fraction)])
    message = _error(path)
    assert message == (f"is a truncated HDF5 file: only {int(len(data) * fraction):,} of its {len(data):,} "
                       "bytes are present (an incomplete download or copy?)")


def test_all_nan_flux(tmp_path, obs):
    path = write_eureka_s3(tmp_path / "nan.h5", obs)
    with h5py.File(path, "a") as h5:
        h5["optspec"][...] = np.nan
    assert _error(path) == "holds no usable flux: optspec is all NaN"


def test_all_nan_wavelength(tmp_path, obs):
    path = write_eureka_s3(tmp_path / "nanwave.h5", obs, float32=False)
    with h5py.File(path, "a") as h5:
        h5["wave_1d"][...] = np.nan
    assert _error(path) == "has no valid wavelengths (wave_1d is all NaN)"


def test_all_nan_time(tmp_path, obs):
    path = write_eureka_s3(tmp_path / "nantime.h5", obs)
    with h5py.File(path, "a") as h5:
        h5["time"][...] = np.nan
    assert _error(path) == "has no usable times ('time' is all NaN)"


def test_wavelength_length_disagrees_with_flux(tmp_path, obs):
    path = tmp_path / "mismatch.h5"
    with h5py.File(path, "w") as h5:
        h5["optspec"] = obs.flux
        h5["opterr"] = obs.error
        h5["wave_1d"] = obs.wavelength[:-3]
        h5["time"] = obs.time_bjd_tdb
    assert _error(path) == "wave_1d has shape (57,) but optspec has 60 columns"


def test_time_length_disagrees_with_flux(tmp_path, obs):
    path = tmp_path / "mismatch_time.h5"
    with h5py.File(path, "w") as h5:
        h5["optspec"] = obs.flux
        h5["wave_1d"] = obs.wavelength
        h5["time"] = obs.time_bjd_tdb[:10]
    assert _error(path) == "optspec has shape (40, 60) but there are 10 times"


def test_no_integrations(tmp_path, obs):
    path = tmp_path / "empty.h5"
    with h5py.File(path, "w") as h5:
        h5["optspec"] = np.empty((0, 60))
        h5["wave_1d"] = obs.wavelength
        h5["time"] = np.empty(0)
    assert _error(path) == "holds no integrations ('time' is empty)"


def test_missing_error_is_unknown_not_perfect(tmp_path, obs):
    path = tmp_path / "noerr.h5"
    with h5py.File(path, "w") as h5:
        h5["optspec"] = obs.flux
        h5["wave_1d"] = obs.wavelength
        h5["time"] = obs.time_bjd_tdb
    (block,) = read(path)
    assert np.isnan(block.error).all()
    assert "no error dataset for optspec: uncertainties unknown" in block.notes


def test_identify_never_raises_on_odd_content(tmp_path):
    path = tmp_path / "x.h5"
    path.write_bytes(b"\x89HDF\r\n\x1a\n" + b"\x00" * 10)
    # claimed (it is HDF5), then reported as damaged rather than unknown
    assert eureka.identify(path, path.read_bytes())
    assert _error(path).startswith("is a damaged HDF5 file and cannot be opened")
