"""The twin backends keep the same public names, parameters and return types.

Oracle: `course_lib.numpy` and `course_lib.torch` themselves, compared with `inspect`. Allowed
differences are listed here with their reason; anything else added to one twin only fails.
"""

from __future__ import annotations

import inspect
import types
from typing import Any

import pytest

from course_lib import numpy as numpy_backend

torch_backend = pytest.importorskip("course_lib.torch")

# Names only the torch backend has: choosing devices and mixed precision.
TORCH_ONLY_NAMES = {"autocast", "pick_device", "resolve_device", "resolve_dtype"}
# Parameters only the torch twin takes: where the tensors live and how they are computed.
TORCH_ONLY_PARAMETERS = {"device", "dtype", "autocast", "use_sdpa", "fused"}
# Deliberate differences, with their reason.
DELIBERATE = {
    "Module": "the base class: NumPy's own Module against torch.nn.Module",
    "cross_entropy": "NumPy returns (loss, grad) for its hand-written backward; torch the loss",
}
SAME_TYPE = {"np.ndarray": "Array", "torch.Tensor": "Array", "nn.Module": "Module"}


def _signature(obj: Any) -> inspect.Signature | None:
    target = obj.__init__ if inspect.isclass(obj) else obj
    try:
        return inspect.signature(target)
    except (TypeError, ValueError):
        return None


def _return_type(sig: inspect.Signature) -> str:
    text = str(sig.return_annotation)
    for name, same in SAME_TYPE.items():
        text = text.replace(name, same)
    return text


def differences(numpy_side: Any, torch_side: Any) -> list[str]:
    """Every way the two modules' public APIs differ beyond the allowed differences."""
    left, right = set(numpy_side.__all__), set(torch_side.__all__) - TORCH_ONLY_NAMES
    found = [f"{name}: only in the NumPy backend" for name in sorted(left - right)]
    found += [f"{name}: only in the torch backend" for name in sorted(right - left)]
    for name in sorted((left & right) - set(DELIBERATE)):
        a, b = _signature(getattr(numpy_side, name)), _signature(getattr(torch_side, name))
        if a is None or b is None:
            continue
        keep = [p for p in a.parameters if p not in TORCH_ONLY_PARAMETERS]
        theirs = [p for p in b.parameters if p not in TORCH_ONLY_PARAMETERS]
        if keep != theirs:
            found.append(f"{name}: parameters {keep} against {theirs}")
        elif _return_type(a) != _return_type(b):
            found.append(f"{name}: returns {a.return_annotation} against {b.return_annotation}")
    return found


def test_the_twins_have_the_same_names_parameters_and_return_types() -> None:
    assert differences(numpy_backend, torch_backend) == []


def _fake(names: dict[str, Any]) -> types.SimpleNamespace:
    return types.SimpleNamespace(__all__=list(names), **names)


def _step(model, lr: float = 0.1) -> float: ...  # noqa: ANN001


def _step_with_momentum(model, lr: float = 0.1, momentum: float = 0.9) -> float: ...  # noqa: ANN001


def _step_returning_nothing(model, lr: float = 0.1) -> None: ...  # noqa: ANN001


def test_a_name_added_to_one_twin_only_is_caught() -> None:
    found = differences(_fake({"step": _step}), _fake({"step": _step, "extra": _step}))
    assert found == ["extra: only in the torch backend"]


def test_a_parameter_added_to_one_twin_only_is_caught() -> None:
    found = differences(_fake({"step": _step}), _fake({"step": _step_with_momentum}))
    assert found == ["step: parameters ['model', 'lr'] against ['model', 'lr', 'momentum']"]


def test_another_return_type_is_caught() -> None:
    found = differences(_fake({"step": _step}), _fake({"step": _step_returning_nothing}))
    assert found == ["step: returns float against None"]
