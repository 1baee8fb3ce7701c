"""Format readers. Every module here registers itself with :mod:`stamp_engine.io.registry`."""
