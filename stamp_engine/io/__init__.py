"""Reading files: format readers behind one registry, and safe container expansion."""

from .block import SpectralBlock
from .registry import identify_format, read, readers, register_reader

__all__ = ["SpectralBlock", "identify_format", "read", "readers", "register_reader"]
