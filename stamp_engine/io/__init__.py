"""Reading files: format readers behind one registry, and safe container expansion."""

from .block import SpectralBlock
from .containers import ArchiveLimits, InputFile, expand_inputs
from .registry import identify_format, read, readers, register_reader

__all__ = [
    "ArchiveLimits",
    "InputFile",
    "SpectralBlock",
    "expand_inputs",
    "identify_format",
    "read",
    "readers",
    "register_reader",
]
