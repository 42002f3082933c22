"""Chapter 04: momentum_step, adam_step, clip_by_global_norm."""

from check_corpus import Answers, Mistake, independent

CORPUS: dict[str, Answers] = {}

# ----------------------------------------------------------------------------- 4.1 momentum


def _momentum(body: str) -> str:
    return f"def momentum_step(param, grad, velocity, lr, beta=0.9):\n{body}"


CORPUS["ch04_momentum_step"] = Answers(
    valid={
        "velocity, then step": _momentum(
            "    velocity = beta * velocity + grad\n    return param - lr * velocity, velocity\n"
        ),
        "in place on copies": _momentum(
            "    v = velocity.copy()\n    v *= beta\n    v += grad\n"
            "    p = param.copy()\n    p -= lr * v\n    return p, v\n"
        ),
        "expanded, as a list": _momentum(
            "    return [param - lr * grad - lr * beta * velocity, grad + beta * velocity]\n"
        ),
    },
    mistakes={
        "no velocity": Mistake(
            "this is plain gradient descent",
            _momentum("    return param - lr * grad, beta * velocity + grad\n"),
        ),
        "old velocity returned": Mistake(
            "the velocity came back unchanged",
            _momentum("    return param - lr * (beta * velocity + grad), velocity\n"),
        ),
        "step with the old velocity": Mistake(
            "the step used the old velocity",
            _momentum("    return param - lr * velocity, beta * velocity + grad\n"),
        ),
        "an average": Mistake(
            "the velocity is an average",
            _momentum(
                "    velocity = beta * velocity + (1 - beta) * grad\n"
                "    return param - lr * velocity, velocity\n"
            ),
        ),
        "uphill": Mistake(
            "the step went uphill",
            _momentum(
                "    velocity = beta * velocity + grad\n"
                "    return param + lr * velocity, velocity\n"
            ),
        ),
        "velocity updated in place": Mistake(
            "changed its argument `velocity` in place",
            _momentum(
                "    velocity *= beta\n    velocity += grad\n"
                "    return param - lr * velocity, velocity\n"
            ),
        ),
        "lr inside the velocity": Mistake(
            "the new velocity should be beta * velocity + grad",
            _momentum(
                "    velocity = beta * velocity + lr * grad\n"
                "    return param - velocity, velocity\n"
            ),
        ),
    },
)

# ----------------------------------------------------------------------------- 4.2 adam


def _adam(body: str) -> str:
    return "def adam_step(param, grad, state, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8):\n" + body


_ADAM = (
    "    state['t'] += 1\n"
    "    t = state['t']\n"
    "    state['m'] = beta1 * state['m'] + (1 - beta1) * grad\n"
    "    state['v'] = beta2 * state['v'] + (1 - beta2) * grad**2\n"
    "    m_hat = state['m'] / (1 - beta1**t)\n"
    "    v_hat = state['v'] / (1 - beta2**t)\n"
    "    return param - lr * m_hat / (np.sqrt(v_hat) + eps)\n"
)

CORPUS["ch04_adam_step"] = Answers(
    valid={
        "the formulas in order": _adam(_ADAM),
        "state arrays updated in place": _adam(
            "    state['t'] = state['t'] + 1\n"
            "    state['m'] *= beta1\n"
            "    state['m'] += (1 - beta1) * grad\n"
            "    state['v'] *= beta2\n"
            "    state['v'] += (1 - beta2) * grad * grad\n"
            "    c1, c2 = 1 - beta1 ** state['t'], 1 - beta2 ** state['t']\n"
            "    return param - lr * (state['m'] / c1) / (np.sqrt(state['v'] / c2) + eps)\n"
        ),
        "locals, then state.update": _adam(
            "    t = state['t'] + 1\n"
            "    m = beta1 * state['m'] + (1 - beta1) * grad\n"
            "    v = beta2 * state['v'] + (1 - beta2) * np.square(grad)\n"
            "    state.update(m=m, v=v, t=t)\n"
            "    step = lr * (m / (1 - beta1**t)) / (np.sqrt(v / (1 - beta2**t)) + eps)\n"
            "    return param - step\n"
        ),
        # The text allows it: param updated in place (as the library's Adam does) and returned.
        "param updated in place and returned": _adam(
            _ADAM.replace(
                "    return param - lr * m_hat / (np.sqrt(v_hat) + eps)\n",
                "    param -= lr * m_hat / (np.sqrt(v_hat) + eps)\n    return param\n",
            )
        ),
        # The check and the chapter pass every argument by position, so the names are free.
        "the hyper-parameters named otherwise": """
def adam_step(param, grad, state, step_size=1e-3, b1=0.9, b2=0.999, epsilon=1e-8):
    state['t'] += 1
    state['m'] = b1 * state['m'] + (1 - b1) * grad
    state['v'] = b2 * state['v'] + (1 - b2) * grad ** 2
    m_hat = state['m'] / (1 - b1 ** state['t'])
    v_hat = state['v'] / (1 - b2 ** state['t'])
    return param - step_size * m_hat / (np.sqrt(v_hat) + epsilon)
""",
    },
    mistakes={
        "no bias correction": Mistake(
            "no bias correction",
            _adam(_ADAM.replace(" / (1 - beta1**t)", "").replace(" / (1 - beta2**t)", "")),
        ),
        "counter used before it is increased": Mistake(
            "the step counter starts at 0",
            _adam(
                "    t = state['t']\n"
                + _ADAM.replace("    t = state['t']\n", "").replace("    state['t'] += 1\n", "")
                + "".replace("", "")
            ).replace("    return param", "    state['t'] += 1\n    return param"),
        ),
        "eps inside the square root": Mistake(
            "eps sits inside the square root",
            _adam(_ADAM.replace("(np.sqrt(v_hat) + eps)", "np.sqrt(v_hat + eps)")),
        ),
        "m and v not stored back": Mistake(
            "store the new m and v back in the dict",
            _adam(
                "    state['t'] += 1\n"
                "    t = state['t']\n"
                "    m = beta1 * state['m'] + (1 - beta1) * grad\n"
                "    v = beta2 * state['v'] + (1 - beta2) * grad**2\n"
                "    m_hat, v_hat = m / (1 - beta1**t), v / (1 - beta2**t)\n"
                "    return param - lr * m_hat / (np.sqrt(v_hat) + eps)\n"
            ),
        ),
        "counter not stored back": Mistake(
            "state['t'] should be 4",
            _adam(
                _ADAM.replace(
                    "    state['t'] += 1\n    t = state['t']\n", "    t = state['t'] + 1\n"
                )
            ),
        ),
        "param updated in place, nothing returned": Mistake(
            "also when you updated param in place",
            _adam(
                _ADAM.replace(
                    "    return param - lr * m_hat / (np.sqrt(v_hat) + eps)\n",
                    "    param -= lr * m_hat / (np.sqrt(v_hat) + eps)\n",
                )
            ),
        ),
        "eps ignored": Mistake(
            "eps=1e-6 made no difference",
            _adam(_ADAM.replace("(np.sqrt(v_hat) + eps)", "(np.sqrt(v_hat) + 1e-8)")),
        ),
        "m a sum of gradients": Mistake(
            "m sums the gradients",
            _adam(_ADAM.replace("(1 - beta1) * grad", "grad")),
        ),
        "v of |grad|": Mistake(
            "v averages |grad|",
            _adam(_ADAM.replace("grad**2", "np.abs(grad)")),
        ),
        "the corrections swapped": Mistake(
            "the bias corrections are swapped",
            _adam(
                _ADAM.replace("(1 - beta1**t)", "(1 - BETA2**t)")
                .replace("(1 - beta2**t)", "(1 - beta1**t)")
                .replace("BETA2", "beta2")
            ),
        ),
        "only m bias-corrected": Mistake(
            "only m is bias-corrected",
            _adam(_ADAM.replace(" / (1 - beta2**t)", "")),
        ),
        "beta2=0.99 by default": Mistake(
            "your default for beta2 is not 0.999",
            _adam(_ADAM).replace("beta2=0.999", "beta2=0.99"),
        ),
        "eps=1e-6 by default": Mistake(
            "your default for eps is not 1e-8", _adam(_ADAM).replace("eps=1e-8", "eps=1e-6")
        ),
        "m and v swapped": Mistake(
            "m and v are swapped",
            _adam(
                _ADAM.replace("(1 - beta1) * grad\n", "(1 - beta1) * grad**2\n").replace(
                    "(1 - beta2) * grad**2\n", "(1 - beta2) * grad\n"
                )
            ),
        ),
    },
)

# ----------------------------------------------------------------------------- 4.3 clip


def _clip(body: str) -> str:
    return f"def clip_by_global_norm(grads, max_norm):\n{body}"


_TOTAL = "    total = float(np.sqrt(sum(np.sum(g * g) for g in grads)))\n"

CORPUS["ch04_clip_by_global_norm"] = Answers(
    valid={
        "one scale, min(1, ...)": _clip(
            _TOTAL
            + "    scale = min(1.0, max_norm / (total + 1e-6))\n"
            + "    return [g * scale for g in grads], total\n"
        ),
        "norm of the concatenation": _clip(
            "    total = np.linalg.norm(np.concatenate([g.ravel() for g in grads]))\n"
            "    if total <= max_norm:\n"
            "        return [g.copy() for g in grads], total\n"
            "    return [g * (max_norm / total) for g in grads], total\n"
        ),
        "norm of the norms, a tuple back": _clip(
            "    total = np.linalg.norm([np.linalg.norm(g) for g in grads])\n"
            "    factor = max_norm / max(total, max_norm)\n"
            "    return tuple(np.multiply(g, factor) for g in grads), total\n"
        ),
    },
    mistakes={
        "per tensor": Mistake(
            "each tensor was clipped on its own",
            _clip(
                "    out = [g * min(1.0, max_norm / (np.linalg.norm(g) + 1e-6)) for g in grads]\n"
                "    return out, float(np.sqrt(sum(np.sum(g * g) for g in grads)))\n"
            ),
        ),
        "no square root": Mistake(
            "you returned the sum of squares itself",
            _clip(
                "    total = float(sum(np.sum(g * g) for g in grads))\n"
                "    scale = min(1.0, max_norm / (np.sqrt(total) + 1e-6))\n"
                "    return [g * scale for g in grads], total\n"
            ),
        ),
        "norm after clipping": Mistake(
            "the norm after clipping",
            _clip(
                _TOTAL
                + "    out = [g * min(1.0, max_norm / (total + 1e-6)) for g in grads]\n"
                + "    return out, float(np.sqrt(sum(np.sum(g * g) for g in out)))\n"
            ),
        ),
        "always scaled to max_norm": Mistake(
            "must come back unchanged",
            _clip(_TOTAL + "    return [g * max_norm / total for g in grads], total\n"),
        ),
        "scaled in place": Mistake(
            "changed its argument `grads` in place",
            _clip(
                _TOTAL
                + "    for g in grads:\n"
                + "        g *= min(1.0, max_norm / (total + 1e-6))\n"
                + "    return grads, total\n"
            ),
        ),
        "L1 norm": Mistake(
            "the norm before clipping should be",
            _clip(
                "    total = float(sum(np.abs(g).sum() for g in grads))\n"
                "    return [g * min(1.0, max_norm / total) for g in grads], total\n"
            ),
        ),
        "only the gradients": Mistake(
            "should return a tuple of 2",
            _clip(_TOTAL + "    return [g * min(1.0, max_norm / (total + 1e-6)) for g in grads]\n"),
        ),
    },
)

# The answers written independently of the checks, from the chapter text alone.
independent.merge(CORPUS)
