"""STAMP's test suite, one folder per part of the package (see README, "Layout of the code").

Every folder is a package, so test modules are imported by their dotted path
(``tests.engine.io.test_x1dints_reader``): two folders may hold modules of the same
name, and the shared helpers are imported as ``from tests.helpers import pixels``.
"""
