"""Package attributes imported from their modules on first use, so importing a package stays cheap."""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any


def lazy_getattr(package: str, modules: Mapping[str, str], namespace: dict[str, Any]) -> Callable[[str], Any]:
    """A module ``__getattr__`` that imports ``name`` from ``modules[name]`` (relative to ``package``).

    :param package: the package's ``__name__``.
    :param modules: public name -> module path relative to the package (``".sources"``).
    :param namespace: the package's ``globals()``; a loaded name is cached there.
    """

    def __getattr__(name: str) -> Any:
        module_name = modules.get(name)
        if module_name is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module_name, package), name)
        namespace[name] = value
        return value

    return __getattr__
