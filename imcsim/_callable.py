"""Make a module callable: ``imcsim.sweep(...)`` and ``imcsim.compare(...)`` are both API functions and
subpackages (see imcsim/__init__.py). The module's class is swapped for one whose ``__call__`` forwards
to the API function of the same name."""

from __future__ import annotations

import importlib
import sys
import types
from typing import Any


class _CallableModule(types.ModuleType):
    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        api = importlib.import_module("imcsim.api")
        return getattr(api, self.__name__.rsplit(".", 1)[1])(*args, **kwargs)


def make_callable(module_name: str) -> None:
    """Called at the end of the module ``imcsim.<name>``: ``imcsim.<name>(...)`` is ``imcsim.api.<name>(...)``."""
    sys.modules[module_name].__class__ = _CallableModule
