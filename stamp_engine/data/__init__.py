"""Data shipped inside the package: the demo observation the dashboard opens on.

The file is written by ``python -m stamp_engine.synthetic.demo``; readers of the path
(the dashboard's settings) need not import the generator.
"""

from pathlib import Path

#: The bundled demo: a synthetic brown dwarf in Eureka! Stage 3 HDF5.
DEMO_PATH = Path(__file__).resolve().with_name("demo_brown_dwarf.h5")
