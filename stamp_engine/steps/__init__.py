"""Processing steps on a :class:`~stamp_engine.cube.Cube`, one action per module, and light curves.

Each step is a plain function whose first argument is the cube; :class:`Cube` binds the same
functions as its methods, so ``normalize(cube)`` and ``cube.normalize()`` are one function
with one signature.  The modules import nothing from :mod:`stamp_engine.cube` at run time.

Every function is pure: it returns a new :class:`Cube` (or a :class:`LightCurve`)
and never writes into the arrays of the cube it was given.  Arrays that a step
does not change (times, visit labels, …) are shared with the input rather than
copied, and a step that selects a contiguous range returns views.

Conventions
-----------
* Rows are integrations in time order, columns are wavelengths in ascending order.
* "NaN-aware": a NaN flux is a missing value; it is skipped by every statistic
  and stays NaN in the output.
* An error (σ) of 0 means "unknown", not "perfect" — ``extract_1d`` writes
  ``FLUX_ERROR = 0`` next to a NaN flux.
* Steps that need the rows of one visit use ``cube.visit``; time bins and
  smoothing never mix integrations of different visits.
* Each step appends a :class:`~stamp_engine.history.HistoryStep` (step, parameters,
  sentence) to ``cube.history`` so exports can state how the numbers were made.
* Per-integration labels (visit, integration, source, interpolated, row span) follow
  the rows through :func:`stamp_engine.labels.take_rows`.

Adding a step: a module here with the function, a line binding it in ``Cube``, and
(when the dashboard offers it) a field of :class:`~stamp_engine.recipe.ProcessOptions`.
"""

from .binning import bin
from .clip import clip
from .gaps import interpolate_gaps
from .light_curves import LightCurve, band_light_curve, white_light_curve
from .limit import limit
from .normalize import normalize
from .select import select
from .smooth import smooth
from .visits import split_visits

__all__ = [
    "LightCurve",
    "band_light_curve",
    "bin",
    "clip",
    "interpolate_gaps",
    "limit",
    "normalize",
    "select",
    "smooth",
    "split_visits",
    "white_light_curve",
]
