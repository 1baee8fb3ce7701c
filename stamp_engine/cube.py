"""The wavelength × time cube every view and export is made from."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Sequence

import astropy.units as u
import numpy as np
from astropy.time import Time

from .grid import TimeWavelengthGrid
from .labels import interpolated_flags, take_rows
from .problems import Problem
from .timestandard import TimeStandard, time_standard

if TYPE_CHECKING:
    from .bands import Band
    from .steps.light_curves import LightCurve
    from .timeaxis import TimeAxis


@dataclass(frozen=True, eq=False)
class Cube(TimeWavelengthGrid):
    """Time-series spectra on one wavelength grid, one row per integration.

    Methods never change the cube in place; each returns a new one, so steps chain
    in a notebook: ``cube.select(wavelength=(1, 3)).normalize().bin(time=4)``.

    Attributes
    ----------
    wavelength : ndarray, shape (n_wave,)
        Wavelength in µm, strictly ascending.
    time : astropy.time.Time, shape (n_int,)
        Mid-integration times, ascending, in the scale of ``time_standard``.
    flux, error : ndarray, shape (n_int, n_wave)
        float64 values and 1-σ errors in ``flux_unit`` (NaN where missing).
    flux_unit : astropy.units.UnitBase
        Unit of ``flux``; ``u.percent`` once normalized to variability.
    time_standard : str
        ``"BJD_TDB"`` (barycentric TDB, the standard for transits), ``"MJD_UTC"``, …
    visit : ndarray of int, shape (n_int,)
        Visit index of each integration (0, 1, …), split on time gaps.
    integration : ndarray of int, shape (n_int,)
        Integration number in its exposure (1-based).
    source_index : ndarray of int, shape (n_int,)
        Index into ``sources`` of the file each integration came from.
    sources : tuple of str
        Files that contributed integrations.
    meta : dict
        Target, instrument, detector, filter, grating, exposure type, program,
        observation, visit ids, pipeline version, layouts…
    problems : tuple of Problem
        What went wrong with which input while loading.
    reference : ndarray, shape (n_visits, n_wave), or None
        Reference spectrum of each visit in ``reference_unit`` once normalized.
    reference_unit : astropy.units.UnitBase or None
        Unit of ``reference`` (the original flux unit).
    history : tuple of str
        Processing steps applied, in order (provenance for exports).
    """

    wavelength: np.ndarray
    time: Time
    flux: np.ndarray
    error: np.ndarray
    flux_unit: u.UnitBase
    time_standard: str = "BJD_TDB"
    visit: np.ndarray | None = None
    integration: np.ndarray | None = None
    source_index: np.ndarray | None = None
    sources: tuple[str, ...] = ()
    meta: dict[str, Any] = field(default_factory=dict)
    problems: tuple[Problem, ...] = ()
    reference: np.ndarray | None = None
    reference_unit: u.UnitBase | None = None
    history: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        n_int, n_wave = self.flux.shape
        if self.wavelength.shape != (n_wave,):
            raise ValueError(f"wavelength has shape {self.wavelength.shape}, flux {self.flux.shape}")
        if self.error.shape != self.flux.shape:
            raise ValueError(f"error has shape {self.error.shape}, flux {self.flux.shape}")
        if len(self.time) != n_int:
            raise ValueError(f"{len(self.time)} times for {n_int} integrations")
        defaults = {
            "visit": np.zeros(n_int, dtype=np.int32),
            "integration": np.arange(1, n_int + 1, dtype=np.int64),
            "source_index": np.zeros(n_int, dtype=np.int32),
        }
        for name, default in defaults.items():
            if getattr(self, name) is None:
                object.__setattr__(self, name, default)
            elif len(getattr(self, name)) != n_int:
                raise ValueError(f"{name} has {len(getattr(self, name))} entries for {n_int} integrations")

    # ----------------------------------------------------------------- shape
    @property
    def n_visits(self) -> int:
        return int(self.visit.max()) + 1 if self.n_integrations else 0

    @property
    def shape(self) -> tuple[int, int]:
        return self.flux.shape  # type: ignore[return-value]

    @property
    def nbytes(self) -> int:
        """Bytes held by flux and error."""
        return int(self.flux.nbytes + self.error.nbytes)

    # ------------------------------------------------------------------ time
    @property
    def t0_mjd(self) -> float:
        """Reference of the hours axis as an MJD-style number in the cube's time scale.

        The first integration as loaded (``meta["t0_mjd"]``), so that hours keep their
        meaning through selection and binning; else the first row.
        """
        if "t0_mjd" in self.meta:
            return float(self.meta["t0_mjd"])
        return float(self.time.mjd[0])

    @property
    def t0(self) -> Time:
        """Reference time of the hours axis (see :attr:`t0_mjd`)."""
        return Time(self.t0_mjd, format="mjd", scale=self.time.scale)

    @property
    def hours(self) -> np.ndarray:
        """Time since :attr:`t0` in hours, float64."""
        return (self.time.mjd - self.t0_mjd) * 24.0

    @property
    def time_reference(self) -> TimeStandard:
        """What :attr:`time_standard` means: astropy scale, FITS reference position, note.

        Raises
        ------
        ValueError
            For a label :mod:`stamp_engine.timestandard` does not know.
        """
        return time_standard(self.time_standard)

    @property
    def time_label(self) -> str:
        """Label of the :attr:`hours` column (tables, xarray), naming the time standard.

        Figures draw time in the unit of :meth:`time_axis`, whose ``title`` they use.
        """
        return f"Time ({self.time_standard} − t0), hours"

    def time_axis(self, since_visit_start: bool = False) -> "TimeAxis":
        """How figures draw this cube's time: display unit from its span, t0's value
        (:func:`stamp_engine.timeaxis.time_axis`)."""
        from .timeaxis import time_axis

        if self.n_integrations == 0:
            return time_axis(np.empty(0), Time(0.0, format="mjd", scale=self.time.scale), self.time_standard)
        return time_axis(self.hours, self.t0, self.time_standard, self.visit, since_visit_start)

    # ----------------------------------------------------------------- values
    @property
    def is_normalized(self) -> bool:
        return self.reference is not None

    @property
    def value_label(self) -> str:
        """Axis label of ``flux``, with its unit."""
        if self.is_normalized:
            return "Variability (%)"
        return f"Flux ({self.flux_unit.to_string()})" if self.flux_unit != u.dimensionless_unscaled else "Flux"

    @property
    def target(self) -> str:
        return str(self.meta.get("target") or "unknown target")

    def replace(self, **changes: Any) -> "Cube":
        """A copy with some fields changed (arrays are shared, not copied)."""
        return dataclasses.replace(self, **changes)

    def take(self, rows: np.ndarray | slice | None = None, columns: np.ndarray | slice | None = None) -> "Cube":
        """Sub-cube of some integrations (rows) and wavelengths (columns).

        Every per-integration label (visit, integration, source, interpolated flags, row
        spans) is sliced with the rows by :func:`stamp_engine.labels.take_rows`.
        """
        rows = slice(None) if rows is None else rows
        columns = slice(None) if columns is None else columns
        return self.replace(
            **take_rows(self, rows),
            wavelength=self.wavelength[columns],
            time=self.time[rows],
            flux=self.flux[rows][:, columns],
            error=self.error[rows][:, columns],
            reference=None if self.reference is None else self.reference[:, columns],
        )

    @property
    def interpolated(self) -> np.ndarray | None:
        """True for rows made by :meth:`interpolate_gaps` (None when none were recorded)."""
        return interpolated_flags(self)

    def visits(self) -> list["Cube"]:
        """One cube per visit, in time order."""
        return [self.take(np.flatnonzero(self.visit == v)) for v in range(self.n_visits)]

    def reference_for_rows(self) -> np.ndarray:
        """The reference spectrum of each row's visit, shape (n_int, n_wave)."""
        if self.reference is None:
            raise ValueError("the cube is not normalized")
        return self.reference[np.minimum(self.visit, len(self.reference) - 1)]

    # ------------------------------------------------------------- processing
    # Each step lives in its own module of stamp_engine.steps; binding the function here makes
    # the method the function itself (one signature, no forwarding layer, no import circle).
    from .steps.binning import bin
    from .steps.clip import clip
    from .steps.gaps import interpolate_gaps
    from .steps.light_curves import band_light_curve as light_curve
    from .steps.light_curves import white_light_curve as white_light
    from .steps.limit import limit
    from .steps.normalize import normalize
    from .steps.select import select
    from .steps.smooth import smooth
    from .steps.visits import split_visits

    def light_curves(self, bands: Sequence["Band"] = ()) -> list["LightCurve"]:
        """White light first, then one curve per band."""
        return [self.white_light(), *(self.light_curve(b) for b in bands)]

    # ---------------------------------------------------------------- science
    # Bound like the interop conversions below: each method is the function itself.
    from .channels import spectroscopic_light_curves as channels
    from .periodogram import cube_periodogram as periodogram
    from .spectra import amplitude_spectrum, transmission_spectrum

    # ---------------------------------------------------------------- interop
    # The conversions live in stamp_engine.interop; binding them here makes each method
    # the function itself (one signature, no forwarding layer).
    from .interop import light_curve_timeseries, to_rainbow, to_timeseries, to_xarray
    from .interop import from_xarray as _from_xarray

    from_xarray = staticmethod(_from_xarray)
    del _from_xarray

    def __repr__(self) -> str:
        lo, hi = (self.wavelength[0], self.wavelength[-1]) if self.n_wavelengths else (np.nan, np.nan)
        return (
            f"<Cube {self.target}: {self.n_integrations} integrations × {self.n_wavelengths} wavelengths "
            f"({lo:.3f}–{hi:.3f} µm), {self.n_visits} visit(s), {self.time_standard}, "
            f"{'variability %' if self.is_normalized else self.flux_unit}>"
        )
