"""`Adam` and `clip_grad_norm`, used the way PyTorch's are::

    opt = cl.Adam(model, lr=5e-4)        # a Module, or a list of (param, grad) array pairs
    logits = model(inputs, mask)
    loss, grad = cl.cross_entropy(logits, targets)
    opt.zero_grad()                       # same as model.zero_grad()
    model.backward(grad)
    cl.clip_grad_norm(model, 5.0)         # global L2 norm over all gradients
    opt.step()                            # updates the parameters in place

The update is `torch.optim.Adam`'s (not AdamW), step t counted from 1:

    g = grad + weight_decay * param
    m = m + (1 - beta1) * (g - m)                 # torch's lerp
    v = beta2 * v + (1 - beta2) * g * g
    denom = sqrt(v) / sqrt(1 - beta2**t) + eps
    param -= lr / (1 - beta1**t) * (m / denom)

`opt.clip_step_zero(5.0)` does the clipping, the step and `zero_grad` in one call.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np

from course_lib.numpy.module import Module, state_keeping_views, state_with_views

__all__ = ["Adam", "clip_grad_norm"]

ParamsLike = (
    Module | Mapping[str, tuple[np.ndarray, np.ndarray]] | Iterable[tuple[np.ndarray, np.ndarray]]
)


def _pairs(source: Any) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """(name, param, grad) from a Module, a {name: (param, grad)} dict or (param, grad) pairs."""
    if isinstance(source, Module):
        params, grads = source.parameters(), source.gradients()
        return [(name, params[name], grads[name]) for name in params]
    if isinstance(source, Mapping):
        items = list(source.items())
    else:
        items = [(str(i), pair) for i, pair in enumerate(source)]
    out = []
    for name, pair in items:
        if not (isinstance(pair, tuple) and len(pair) == 2):
            raise TypeError(
                "Adam / clip_grad_norm take a Module, or (param, grad) pairs of NumPy arrays; "
                f"item {name!r} is {type(pair).__name__}"
            )
        param, grad = pair
        if not isinstance(param, np.ndarray) or not isinstance(grad, np.ndarray):
            raise TypeError(f"item {name!r}: param and grad must be NumPy arrays")
        if param.shape != grad.shape:
            raise ValueError(f"item {name!r}: param {param.shape} and grad {grad.shape} differ")
        out.append((name, param, grad))
    return out


class Adam:
    """Adam with bias correction; state m, v per parameter; `step()` updates in place."""

    def __init__(
        self,
        params: ParamsLike,
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
    ) -> None:
        if not lr >= 0:
            raise ValueError(f"Adam: lr must be >= 0, got {lr}")
        if not (0 <= betas[0] < 1 and 0 <= betas[1] < 1):
            raise ValueError(f"Adam: betas must be in [0, 1), got {betas}")
        if not eps >= 0 or not weight_decay >= 0:
            raise ValueError(f"Adam: eps and weight_decay must be >= 0, got {eps}, {weight_decay}")
        self.lr = float(lr)
        self.betas = (float(betas[0]), float(betas[1]))
        self.eps = float(eps)
        self.weight_decay = float(weight_decay)
        named = _pairs(params)
        # The model it optimises, when built on one (a check sends both to a learner's code).
        self.module: Module | None = params if isinstance(params, Module) else None
        if not named:
            raise ValueError("Adam: no parameters to optimise")
        self.t = 0
        self.m = {name: np.zeros_like(p) for name, p, _ in named}
        self.v = {name: np.zeros_like(p) for name, p, _ in named}
        flat = isinstance(params, Module) and params.flat_parameters is not None
        if flat:
            # One update over the whole flat buffer; m and v are flat too, with named views.
            fp, fg = params.flat_parameters, params.flat_gradients
            self._flat_m, self._flat_v = np.zeros_like(fp), np.zeros_like(fp)
            offset = 0
            for name, p, _ in named:
                self.m[name] = self._flat_m[offset : offset + p.size].reshape(p.shape)
                self.v[name] = self._flat_v[offset : offset + p.size].reshape(p.shape)
                offset += p.size
            self._work = [(fp, fg, self._flat_m, self._flat_v)]
        else:
            self._work = [(p, g, self.m[name], self.v[name]) for name, p, g in named]
        self._grads = [g for _, _, g in named]
        self._scratch = [np.empty_like(p) for p, _, _, _ in self._work]  # the update's temporary

    def __getstate__(self) -> dict[str, Any]:
        """For pickle and `copy.deepcopy`: m and v stay views of their flat arrays, and the
        parameters and gradients it updates stay views of the model's (copied with it)."""
        return state_keeping_views(self.__dict__)

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state_with_views(state))

    def zero_grad(self) -> None:
        """Set every gradient to zero."""
        for _, grad, _, _ in self._work:
            grad.fill(0)

    def step(self) -> None:
        """One Adam update of every parameter from its current gradient."""
        self._update(grad_scale=1.0, zero_grad=False)

    def clip_step_zero(self, max_norm: float | None) -> float:
        """`clip_grad_norm(max_norm)`, `step()` and `zero_grad()` in one call; returns the
        gradient norm before clipping. `max_norm=None` does not clip."""
        return self._clip_then_step(max_norm, zero_grad=True)

    def _clip_then_step(self, max_norm: float | None, zero_grad: bool) -> float:
        """`clip_grad_norm` then `step` (the gradients are left clipped, as clip_grad_norm leaves
        them); the gradient norm before clipping."""
        total = math.sqrt(sum(float(np.dot(g.ravel(), g.ravel())) for _, g, _, _ in self._work))
        coef = 1.0 if max_norm is None else max_norm / (total + 1e-6)
        self._update(grad_scale=min(coef, 1.0), zero_grad=zero_grad)
        return total

    def _update(self, grad_scale: float, zero_grad: bool) -> None:
        """The update: twelve NumPy passes over each parameter array (one array for a flattened
        model), every one in place or into scratch arrays made once; the gradients are first
        scaled in place by `grad_scale` (clipping) unless it is 1."""
        self.t += 1
        beta1, beta2 = self.betas
        step_size = self.lr / (1 - beta1**self.t)
        bias_correction2_sqrt = math.sqrt(1 - beta2**self.t)
        eps_scaled, step_scaled = (
            self.eps * bias_correction2_sqrt,
            step_size * bias_correction2_sqrt,
        )
        for (p, g, m, v), tmp in zip(self._work, self._scratch, strict=True):
            if grad_scale != 1.0:
                g *= grad_scale  # clipped in place, as clip_grad_norm does
            g_in = g + self.weight_decay * p if self.weight_decay else g
            np.subtract(g_in, m, out=tmp)
            tmp *= 1 - beta1
            m += tmp  # m + (1 - beta1) * (g - m)
            v *= beta2
            np.multiply(g_in, g_in, out=tmp)
            tmp *= 1 - beta2
            v += tmp
            # m / (sqrt(v) / bc2 + eps) = bc2 * m / (sqrt(v) + eps * bc2): one pass fewer
            np.sqrt(v, out=tmp)
            tmp += eps_scaled
            np.divide(m, tmp, out=tmp)
            tmp *= step_scaled
            p -= tmp
            if zero_grad:
                g.fill(0)

    def state_dict(self) -> dict[str, Any]:
        """Copies of the step count, hyper-parameters and the m, v arrays."""
        return {
            "t": self.t,
            "lr": self.lr,
            "betas": self.betas,
            "eps": self.eps,
            "weight_decay": self.weight_decay,
            "m": {k: a.copy() for k, a in self.m.items()},
            "v": {k: a.copy() for k, a in self.v.items()},
        }

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Restore `state_dict()` output; mismatched names or shapes raise and change nothing."""
        for key in ("m", "v"):
            mine, theirs = getattr(self, key), state[key]
            if set(mine) != set(theirs):
                raise ValueError(f"Adam.load_state_dict: {key} names differ from this optimiser's")
            for name in mine:
                if np.shape(theirs[name]) != mine[name].shape:
                    raise ValueError(f"Adam.load_state_dict: {key}[{name!r}] has the wrong shape")
        for key in ("m", "v"):
            for name, array in state[key].items():
                getattr(self, key)[name][...] = array
        self.t = int(state["t"])
        self.lr = float(state["lr"])
        self.betas = tuple(state["betas"])
        self.eps = float(state["eps"])
        self.weight_decay = float(state["weight_decay"])


def clip_grad_norm(params: ParamsLike, max_norm: float) -> float:
    """Scale all gradients together so their global L2 norm is at most `max_norm`, like
    `torch.nn.utils.clip_grad_norm_`; returns the norm before clipping."""
    if isinstance(params, Module) and params.flat_gradients is not None:
        grads = [params.flat_gradients]
    else:
        grads = [g for _, _, g in _pairs(params)]
    total = math.sqrt(sum(float(np.dot(g.ravel(), g.ravel())) for g in grads))
    coef = max_norm / (total + 1e-6)
    if coef < 1.0:
        for g in grads:
            g *= coef
    return total
