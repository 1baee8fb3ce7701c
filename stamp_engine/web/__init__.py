"""Browser-side code that ships inside the engine package.

``stamp_bands.js`` (band highlighting) is inlined into every exported HTML page by
:mod:`stamp_engine.export.html`, and the dashboard serves the very same file to the browser,
so the two can never drift apart.  ``stamp_page.css`` and ``stamp_page.js`` are the style
and the figure/band-button script of an exported page.  All are package data, read with
:mod:`importlib.resources`: an installed wheel has them as well as a source checkout.
"""

from __future__ import annotations

from importlib import resources

#: File name of the band-highlighting script inside this package.
BANDS_SCRIPT = "stamp_bands.js"
#: Style and script of an exported HTML page (figures drawn from embedded JSON, band buttons).
PAGE_STYLE = "stamp_page.css"
PAGE_SCRIPT = "stamp_page.js"


def script_source(name: str = BANDS_SCRIPT) -> str:
    """The text of the file ``name`` (a script or stylesheet) shipped in this package (UTF-8).

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


def page_style() -> str:
    """The stylesheet of an exported HTML page."""
    return script_source(PAGE_STYLE)


def page_script() -> str:
    """The script of an exported HTML page: draws its figures, wires its band buttons."""
    return script_source(PAGE_SCRIPT)
