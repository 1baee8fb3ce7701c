"""``recipe.py`` of a download package: the stamp_engine calls that rebuild its tables.

Like chromatic's ``history()``, but runnable: the script loads the original files, runs
:func:`stamp_engine.recipe.process` with every :class:`~stamp_engine.recipe.ProcessOptions`
field written out, and makes the cube FITS, the light curves, the periodograms and the
spectra with the same functions and parameters as the package (:mod:`.science`), under
the same file names, so each rebuilt file can be compared with the package's.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
from typing import TYPE_CHECKING, Any, Mapping, Sequence

import numpy as np

from .. import __version__

if TYPE_CHECKING:
    from ..bands import Band
    from ..cube import Cube
    from ..recipe import ProcessOptions
    from .science import SciencePlan, ScienceProducts

#: File name of the script inside the package.
RECIPE_FILE = "recipe.py"


def _literal(value: Any) -> str:
    """``value`` as Python source that evaluates to the same value (floats exactly)."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, (list, tuple)):
        items = [_literal(v) for v in value]
        if isinstance(value, list):
            return "[" + ", ".join(items) + "]"
        return "(" + ", ".join(items) + ("," if len(items) == 1 else "") + ")"
    if isinstance(value, Mapping):
        return "{" + ", ".join(f"{_literal(k)}: {_literal(v)}" for k, v in value.items()) + "}"
    if isinstance(value, (bool, int, float, str)) or value is None:
        return repr(value)
    raise TypeError(f"recipe.py cannot write a {type(value).__name__} value ({value!r})")


def _call(function: str, *args: str, **kwargs: Any) -> str:
    parts = [*args, *(f"{k}={_literal(v)}" for k, v in kwargs.items())]
    return f"{function}({', '.join(parts)})"


def load_arguments(cube: "Cube") -> dict[str, Any]:
    """Keyword arguments of :func:`stamp_engine.load` that pick what ``cube`` was loaded from.

    The spectral element when the files offered several, the observation when they held
    several; everything else is :func:`~stamp_engine.load`'s default.
    """
    meta = cube.meta
    arguments: dict[str, Any] = {}
    if meta.get("elements_available") and meta.get("element_used"):
        arguments["element"] = str(meta["element_used"])
    if len(meta.get("observations") or []) > 1 and meta.get("observation"):
        arguments["observation"] = str(meta["observation"])
    return arguments


def recipe_script(
    cube: "Cube",
    process_options: "ProcessOptions",
    bands: Sequence["Band"],
    plan: "SciencePlan",
    products: "ScienceProducts",
    files: Mapping[str, str],
    stamp: str,
) -> str:
    """The text of ``recipe.py`` for the package of ``cube`` made at ``stamp``.

    Parameters
    ----------
    cube : Cube
        The processed cube (its ``sources`` and ``meta`` say what was loaded).
    process_options : ProcessOptions
        The options the cube was processed with.
    bands : sequence of Band
        The bands the package tabulates (those with samples in the cube).
    plan, products : SciencePlan, ScienceProducts
        How the spectra were made and which were (:func:`.science.science_products`).
    files : mapping
        Package file name → description; the script rebuilds the tables among them.
    stamp : str
        The package's time stamp (file name suffix).
    """
    option_fields = {f.name: getattr(process_options, f.name) for f in dataclasses.fields(process_options)}
    sources = [str(s) for s in cube.sources]
    n_channels = plan.channel_count(cube)
    lines = [
        "#!/usr/bin/env python3",
        f'"""Rebuild the cube, light curves and spectra of STAMP package {stamp} from the original files.',
        "",
        f"Written by STAMP {__version__} on {_dt.datetime.now().isoformat(timespec='seconds')}: the stamp_engine",
        "calls, with every parameter, that made this package's tables.  Put the original files in",
        "one folder and run (needs the stamp package: pip install stamp):",
        "",
        "    python recipe.py [FOLDER_WITH_THE_ORIGINAL_FILES [OUTPUT_FOLDER]]",
        "",
        "The folder defaults to this script's folder, the output to ./rebuilt; the files written",
        "there have the names (and should have the numbers) of the package's.",
        '"""',
        "",
        "import sys",
        "from pathlib import Path",
        "",
        "import stamp_engine",
        "from stamp_engine.bands import Band, usable_bands",
        "from stamp_engine.export import light_curve_table, write_cube_fits, write_light_curves, write_science_product",
        "from stamp_engine.periodogram import periodogram",
        "from stamp_engine.recipe import ProcessOptions, process",
        "from stamp_engine.spectra import amplitude_spectrum, transmission_spectrum",
        "",
        "data = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parent",
        'out = Path(sys.argv[2]) if len(sys.argv) > 2 else Path("rebuilt")',
        "out.mkdir(parents=True, exist_ok=True)",
        "",
        "# 1. Read the original files into one wavelength x time cube.",
        f"files = {_literal(sources)}",
        "cube = " + _call("stamp_engine.load", "[data / name for name in files]", **load_arguments(cube)),
        "",
        "# 2. Process it as the package's cube was processed.",
        "options = ProcessOptions(",
        *(f"    {name}={_literal(value)}," for name, value in option_fields.items()),
        ")",
        "cube = process(cube, options)",
        f'write_cube_fits(cube, out / "stamp_cube_{stamp}.fits")',
        "",
        "# 3. Light curves: white light, then each band that has samples in the cube.",
        "bands = [" + ", ".join(_call("Band", name=b.name, start=float(b.start), end=float(b.end)) for b in bands) + "]",
        "curves = cube.light_curves(usable_bands(cube, bands))",
        f'write_light_curves(light_curve_table(curves, cube.time_standard), out / "lightcurves_{stamp}.ecsv")',
        "",
        f"# 4. Science products ({n_channels} equal-width channels for the spectra).",
    ]
    for stem, product in products.items():
        target = f'out / "{stem}_{stamp}.ecsv"'
        if stem.startswith("periodogram_"):
            lines.append(f"write_science_product(periodogram(curves[{products.curve_index[stem[len('periodogram_'):]]}]), {target})")
        elif stem == "amplitude_spectrum":
            lines.append(f"write_science_product({_call('amplitude_spectrum', 'cube', period_hours=products.period_hours, n=n_channels)}, {target})")
        else:
            call = _call("transmission_spectrum", "cube", in_transit=tuple(plan.in_transit), baseline=tuple(plan.baseline),
                         n=n_channels, kind=plan.kind)
            lines.append(f"write_science_product({call}, {target})")
    rebuilt = [name for name in files if name.endswith((".ecsv", ".fits")) and not name.endswith(".csv")]
    lines += ["", f"print('rebuilt in', out, ':', {_literal(rebuilt)})", ""]
    return "\n".join(lines)
