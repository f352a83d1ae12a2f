"""Package exports: lazy (names imported on first use) but exactly what eager imports gave."""

from __future__ import annotations

import importlib
import subprocess
import sys
import types

import pytest


@pytest.mark.parametrize("package", ["kinnsci.data", "kinnsci.train"])
def test_every_exported_name_resolves_to_what_it_names(package):
    mod = importlib.import_module(package)
    assert mod.__all__ == sorted(mod.__all__) and mod.__all__
    for name in mod.__all__:
        value = getattr(mod, name)
        assert not isinstance(value, types.ModuleType), (package, name)
        assert name in dir(mod)
    with pytest.raises(AttributeError, match="has no attribute 'no_such_name'"):
        mod.no_such_name  # noqa: B018


def test_a_function_named_like_its_submodule_stays_the_function():
    """``kinnsci.train.rollout`` and ``.evaluate`` are modules and functions; importing the
    module (as the trainer does) must not replace the exported function."""
    code = ("import kinnsci.train.trainer, kinnsci.train.rollout, kinnsci.train.evaluate\n"
            "from kinnsci.train import evaluate, rollout\n"
            "import kinnsci.train as t\n"
            "print(callable(rollout), callable(evaluate), callable(t.rollout), "
            "callable(t.evaluate))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.split()
    assert out == ["True"] * 4
