"""Every architecture family in the zoo, one module each, found by listing this package.

Importing this package imports each of its modules, and each registers its models: a new
family is one new file here, with no import list to keep.
"""

import importlib
import pkgutil

FAMILIES = sorted(m.name for m in pkgutil.iter_modules(__path__) if not m.name.startswith("_"))

for _family in FAMILIES:
    importlib.import_module(f"{__name__}.{_family}")
