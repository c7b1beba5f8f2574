"""Each package that exposes a surface in ``__init__.py`` lists it in ``__all__``, and every name resolves."""

from __future__ import annotations

import importlib
import pkgutil

import pytest

import mlpack

PACKAGES = sorted(
    m.name for m in pkgutil.walk_packages(mlpack.__path__, "mlpack.") if m.ispkg and m.name != "mlpack.cli"
)


@pytest.mark.parametrize("name", PACKAGES)
def test_a_surface_names_real_things_and_shadows_no_module(name: str) -> None:
    package = importlib.import_module(name)
    surface = getattr(package, "__all__", [])
    assert all(hasattr(package, attribute) for attribute in surface), name
    # A name bound over a submodule would turn `import mlpack.x.y as m` into that name.
    modules = {m.name for m in pkgutil.iter_modules(package.__path__)}
    assert not modules & set(surface), (name, modules & set(surface))
