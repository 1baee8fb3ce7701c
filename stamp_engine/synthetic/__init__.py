"""Realistic synthetic JWST time-series observations with a known injected signal.

Tests, benchmarks and the bundled demo are generated from here, so every check of a
recovered transit depth or variability amplitude compares against a known truth.
The writers for each file layout live in the submodules (``x1dints``, ``eureka``);
this module holds the signal model.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from ..cube import Cube

#: Offset between a BJD_TDB as stored by the JWST pipeline (MJD-style) and MJD UTC, in days.
#: ~69 s TDB−UTC plus a Rømer delay of a few minutes; any fixed value serves synthetic data.
BJD_MINUS_UTC_DAYS = 234.1 / 86400.0


@dataclass
class Observation:
    """A synthetic time series: what a perfect reduction would recover.

    Attributes
    ----------
    wavelength : ndarray, (n_wave,)
        µm, ascending.
    time_bjd_tdb : ndarray, (n_int,)
        Mid-integration BJD_TDB as MJD (pipeline convention).
    flux, error : ndarray, (n_int, n_wave)
        Flux with noise and its 1-σ error, in ``flux_unit``.
    model : ndarray, (n_int, n_wave)
        Noise-free relative signal (1 = out of transit / mean brightness).
    visit : ndarray of int, (n_int,)
        Visit index of each integration.
    flux_unit : str
    truth : dict
        Injected parameters: ``kind``, ``depth`` or ``amplitude`` per wavelength,
        visit boundaries (hours since the first integration), cadence.
    meta : dict
        Header-like metadata (target, instrument, …) writers put in their files.
    """

    wavelength: np.ndarray
    time_bjd_tdb: np.ndarray
    flux: np.ndarray
    error: np.ndarray
    model: np.ndarray
    visit: np.ndarray
    flux_unit: str = "Jy"
    truth: dict[str, Any] = field(default_factory=dict)
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def time_mjd_utc(self) -> np.ndarray:
        return self.time_bjd_tdb - BJD_MINUS_UTC_DAYS

    @property
    def hours(self) -> np.ndarray:
        return (self.time_bjd_tdb - self.time_bjd_tdb[0]) * 24.0

    @property
    def n_integrations(self) -> int:
        return int(self.flux.shape[0])

    def to_cube(self, **changes: Any) -> "Cube":
        """The observation as the cube a perfect reader would load (BJD_TDB, visits set).

        ``changes`` replace fields of the cube (e.g. ``sources=(...)``, ``meta={...}``).
        """
        from astropy.time import Time
        import astropy.units as u

        from ..cube import Cube

        cube = Cube(
            self.wavelength, Time(self.time_bjd_tdb, format="mjd", scale="tdb"), self.flux, self.error,
            u.Unit(self.flux_unit), time_standard="BJD_TDB", visit=self.visit.astype(np.int32), meta=dict(self.meta),
        )
        return cube.replace(**changes) if changes else cube

    def take(self, rows: np.ndarray | slice) -> "Observation":
        """The observation restricted to some integrations (e.g. one visit)."""
        return Observation(
            self.wavelength, self.time_bjd_tdb[rows], self.flux[rows], self.error[rows],
            self.model[rows], self.visit[rows], self.flux_unit, self.truth, self.meta,
        )


def stellar_spectrum(wavelength: np.ndarray, temperature: float = 4500.0, peak_jy: float = 0.5) -> np.ndarray:
    """A smooth Planck-shaped source spectrum in Jy, scaled so its maximum is ``peak_jy``."""
    nu_term = 1.0 / wavelength**3  # F_nu ∝ ν³ / (exp(hν/kT) − 1)
    x = 14387.77 / (wavelength * temperature)  # hc/(λkT) with λ in µm
    spectrum = nu_term / np.expm1(x)
    return peak_jy * spectrum / spectrum.max()


def molecular_feature(wavelength: np.ndarray, centers=(1.4, 1.9, 2.7, 3.3, 4.3), widths=(0.08, 0.1, 0.15, 0.1, 0.06), strengths=(1.0, 0.8, 1.2, 0.9, 1.5)) -> np.ndarray:
    """Sum of Gaussian absorption features (unitless, 0 … ~1.5)."""
    w = wavelength[:, None]
    return np.sum(np.asarray(strengths) * np.exp(-0.5 * ((w - np.asarray(centers)) / np.asarray(widths)) ** 2), axis=1)


def transit_depth(wavelength: np.ndarray, base: float = 0.015, feature: float = 0.002) -> np.ndarray:
    """Transit depth (fraction) per wavelength: a flat depth plus molecular features."""
    return base + feature * molecular_feature(wavelength)


def variability_amplitude(wavelength: np.ndarray, base: float = 0.01, feature: float = 0.02) -> np.ndarray:
    """Semi-amplitude (fraction) of rotational variability per wavelength."""
    return base + feature * molecular_feature(wavelength) / 1.5


def trapezoid_transit(hours: np.ndarray, depth: np.ndarray, mid: float, duration: float, ingress: float) -> np.ndarray:
    """Relative flux (n_int, n_wave) of a trapezoidal transit; 1 out of transit."""
    half = duration / 2.0
    dt = np.abs(hours - mid)
    # fraction of full depth: 1 inside the flat bottom, linear during ingress/egress
    shape = np.clip((half - dt) / ingress, 0.0, 1.0)
    return 1.0 - shape[:, None] * depth[None, :]


def make_observation(
    kind: str = "transit",
    n_integrations: int = 300,
    wavelength: np.ndarray | None = None,
    n_visits: int = 1,
    cadence_s: float = 60.0,
    visit_gap_hours: float = 20.0,
    snr: float = 2000.0,
    seed: int = 42,
    t_start_bjd_mjd: float = 60200.25,
    period_hours: float = 2.4,
    nan_columns: tuple[int, ...] = (),
    meta: dict[str, Any] | None = None,
    depth: np.ndarray | None = None,
    transit_visits: tuple[int, ...] | None = None,
    transit_mid_fraction: float = 0.5,
    ramp: float = 0.0,
    ramp_hours: float = 0.25,
) -> Observation:
    """Build a synthetic observation with a known signal.

    Parameters
    ----------
    kind : {"transit", "variability"}
        A transit whose depth depends on wavelength, or sinusoidal rotational
        variability whose amplitude and phase depend on wavelength.
    n_integrations : int
        Total integrations, split evenly between visits.
    wavelength : ndarray, optional
        µm; default 430 points over 0.6–5.3 µm (NIRSpec PRISM-like).
    n_visits : int
        Visits, separated by ``visit_gap_hours``.
    cadence_s : float
        Seconds between integrations.
    snr : float
        Signal-to-noise per pixel per integration.
    nan_columns : tuple of int
        Columns whose flux is NaN (no valid pixel), as extract_1d writes them.
    depth : ndarray, optional
        Transit depth (fraction) per wavelength; default :func:`transit_depth`.
    transit_visits : tuple of int, optional
        The visits that hold a transit (default: all); the others are flat baseline.
    transit_mid_fraction : float
        Mid-transit as a fraction of each visit's span (0.5 = centred; off-centre or
        partial transits with values near 0 or 1).  The truth's ``mid_hours`` lists the
        mid-times of the visits with a transit.
    ramp, ramp_hours : float
        A start ramp at the beginning of every visit, as JWST detectors settle: the signal
        is multiplied by ``1 − ramp·exp(−t/ramp_hours)`` (``t`` hours since the visit's first
        integration), the same at every wavelength.  ``model`` includes it.
    """
    rng = np.random.default_rng(seed)
    if wavelength is None:
        wavelength = np.linspace(0.6, 5.3, 430)
    wavelength = np.asarray(wavelength, dtype=float)
    per_visit = np.array_split(np.arange(n_integrations), n_visits)
    cadence_h = cadence_s / 3600.0
    hours = np.empty(n_integrations)
    visit = np.empty(n_integrations, dtype=int)
    start = 0.0
    for v, rows in enumerate(per_visit):
        hours[rows] = start + cadence_h * np.arange(len(rows))
        visit[rows] = v
        start = hours[rows][-1] + visit_gap_hours
    source = stellar_spectrum(wavelength)
    truth: dict[str, Any] = {"kind": kind, "cadence_s": cadence_s, "snr": snr, "seed": seed}
    truth["visit_bounds_hours"] = [(float(hours[r][0]), float(hours[r][-1])) for r in per_visit]
    if kind == "transit":
        depth = transit_depth(wavelength) if depth is None else np.broadcast_to(np.asarray(depth, float), wavelength.shape).copy()
        with_transit = range(n_visits) if transit_visits is None else sorted(set(transit_visits))
        model = np.ones((n_integrations, wavelength.size))
        mids = []
        for v in with_transit:
            rows = per_visit[v]
            h = hours[rows] - hours[rows][0]
            span = h[-1] if len(h) > 1 else 1.0
            mid = span * transit_mid_fraction
            model[rows] = trapezoid_transit(h, depth, mid=mid, duration=span * 0.4, ingress=span * 0.05)
            mids.append(float(hours[rows][0] + mid))
        truth.update(depth=depth, mid_hours=mids, transit_visits=list(with_transit))
    elif kind == "variability":
        amplitude = variability_amplitude(wavelength)
        phase = 0.6 * molecular_feature(wavelength) / 1.5  # radians: bands lag the continuum
        angle = 2 * np.pi * hours[:, None] / period_hours + phase[None, :]
        model = 1.0 + amplitude[None, :] * np.sin(angle)
        truth.update(amplitude=amplitude, phase=phase, period_hours=period_hours)
    else:
        raise ValueError(f"kind must be 'transit' or 'variability', not {kind!r}")
    if ramp:
        since_start = hours - np.concatenate([np.full(len(rows), hours[rows][0]) for rows in per_visit])
        model = model * (1.0 - ramp * np.exp(-since_start / ramp_hours))[:, None]
        truth.update(ramp=ramp, ramp_hours=ramp_hours)
    clean = source[None, :] * model
    error = np.broadcast_to(source[None, :] / snr, clean.shape).copy()
    flux = clean + rng.standard_normal(clean.shape) * error
    if nan_columns:
        cols = list(nan_columns)
        flux[:, cols] = np.nan
        error[:, cols] = 0.0  # extract_1d writes FLUX_ERROR=0 where FLUX is NaN
    truth["nan_columns"] = list(nan_columns)
    base_meta = {
        "target": "WASP-STAMP b" if kind == "transit" else "2MASS J0000+0000 (synthetic BD)",
        "instrument": "NIRSPEC",
        "detector": "NRS1",
        "exp_type": "NRS_BRIGHTOBJ",
        "filter": "CLEAR",
        "grating": "PRISM",
        "program": "09999",
        "observation": "001",
    }
    base_meta.update(meta or {})
    return Observation(
        wavelength=wavelength,
        time_bjd_tdb=t_start_bjd_mjd + hours / 24.0,
        flux=flux,
        error=error,
        model=model,
        visit=visit,
        truth=truth,
        meta=base_meta,
    )
