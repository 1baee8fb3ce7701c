"""Browser-side code that ships inside the engine package.

``stamp_bands.js`` (band highlighting) is inlined into every exported HTML page by
:mod:`stamp_engine.export`, and the dashboard serves the very same file to the browser,
so the two can never drift apart.  It is package data, read with :mod:`importlib.resources`:
an installed wheel has it as well as a source checkout.
"""

from __future__ import annotations

from importlib import resources

#: File name of the band-highlighting script inside this package.
BANDS_SCRIPT = "stamp_bands.js"


def script_source(name: str = BANDS_SCRIPT) -> str:
    """The text of the script ``name`` shipped in this package (UTF-8).

    Raises
    ------
    FileNotFoundError
        When the installation lacks the file (a broken or hand-trimmed install).
    """
    resource = resources.files(__name__).joinpath(name)
    if not resource.is_file():
        raise FileNotFoundError(f"{name} is missing from this installation of stamp_engine ({__name__})")
    return resource.read_text(encoding="utf-8")


def bands_script() -> str:
    """The band-highlighting script shared by exported HTML and the dashboard."""
    return script_source(BANDS_SCRIPT)
