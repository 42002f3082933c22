"""Chapter 05: cross_entropy, train_step, next_token_probs."""

from check_corpus import Answers, Mistake

CORPUS: dict[str, Answers] = {}

# ----------------------------------------------------------------------------- 5.1 cross-entropy


def _ce(body: str) -> str:
    return f"def cross_entropy(logits, targets, pad_id=0):\n{body}"


_LOG_PROBS = (
    "    shifted = logits - logits.max(axis=-1, keepdims=True)\n"
    "    log_probs = shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))\n"
    "    picked = np.take_along_axis(log_probs, targets[..., None], axis=-1)[..., 0]\n"
)

CORPUS["ch05_cross_entropy"] = Answers(
    valid={
        "log-sum-exp, then a mask": _ce(
            _LOG_PROBS
            + "    real = targets != pad_id\n    return float(-picked[real].sum() / real.sum())\n"
        ),
        "a loop over positions": """
import math
def cross_entropy(logits, targets, pad_id=0):
    total, count = 0.0, 0
    for row, row_targets in zip(logits, targets):
        for scores, target in zip(row, row_targets):
            if target == pad_id:
                continue
            top = max(scores)
            lse = top + math.log(sum(math.exp(s - top) for s in scores))
            total += lse - scores[target]
            count += 1
    return total / count
""",
        "logaddexp.reduce on the real rows": _ce(
            "    keep = (targets != pad_id).ravel()\n"
            "    rows = logits.reshape(-1, logits.shape[-1])[keep]\n"
            "    picked = rows[np.arange(len(rows)), targets.ravel()[keep]]\n"
            "    return np.mean(np.logaddexp.reduce(rows, axis=-1) - picked)\n"
        ),
        # The check and the chapter pass pad_id by position, so its name is free.
        "the padding id named otherwise": """
def cross_entropy(logits, targets, ignore=0):
    shifted = logits - logits.max(axis=-1, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))
    picked = np.take_along_axis(log_probs, targets[..., None], axis=-1)[..., 0]
    return float(-picked[targets != ignore].mean())
""",
    },
    mistakes={
        "log of the softmax": Mistake(
            "Compute log-softmax with log-sum-exp",
            _ce(
                "    p = np.exp(logits) / np.exp(logits).sum(axis=-1, keepdims=True)\n"
                "    picked = np.take_along_axis(p, targets[..., None], axis=-1)[..., 0]\n"
                "    return float(-np.log(picked)[targets != pad_id].mean())\n"
            ),
        ),
        "padding counted": Mistake(
            "the padding positions (target == pad_id) were counted",
            _ce(_LOG_PROBS + "    return float(-picked.mean())\n"),
        ),
        "divided by every position": Mistake(
            "was divided by all 8 positions",
            _ce(_LOG_PROBS + "    return float(-picked[targets != pad_id].sum() / targets.size)\n"),
        ),
        "the sum": Mistake(
            "that is the sum over the real tokens",
            _ce(_LOG_PROBS + "    return float(-picked[targets != pad_id].sum())\n"),
        ),
        "pad_id ignored": Mistake(
            "with pad_id=3 your loss still left out the targets equal to 0",
            _ce(_LOG_PROBS + "    return float(-picked[targets != 0].mean())\n"),
        ),
        "an array of one number": Mistake(
            "should return one number (a float), got an array of shape (1,)",
            _ce(
                _LOG_PROBS
                + "    return -picked[targets != pad_id].mean(keepdims=True).reshape(1)\n"
            ),
        ),
        "logits shifted in place": Mistake(
            "changed its argument `logits` in place",
            _ce(
                "    logits -= logits.max(axis=-1, keepdims=True)\n"
                "    log_probs = logits - np.log(np.exp(logits).sum(axis=-1, keepdims=True))\n"
                "    picked = np.take_along_axis(log_probs, targets[..., None], axis=-1)[..., 0]\n"
                "    return float(-picked[targets != pad_id].mean())\n"
            ),
        ),
    },
)

# ----------------------------------------------------------------------------- 5.2 train_step


def _step(*lines: str) -> str:
    body = "".join(f"    {line}\n" for line in lines)
    return f"def train_step(model, optimizer, inputs, targets, mask, clip=5.0):\n{body}"


_FORWARD = (
    "loss, grad = cl.cross_entropy(model(inputs, mask), targets, ignore_index=model.config.pad_id)"
)

CORPUS["ch05_train_step"] = Answers(
    valid={
        "forward, loss, zero_grad, backward, clip, step": _step(
            _FORWARD,
            "model.zero_grad()",
            "model.backward(grad)",
            "cl.clip_grad_norm(model, clip)",
            "optimizer.step()",
            "return loss",
        ),
        "optimizer.zero_grad first, clipping by hand": _step(
            "optimizer.zero_grad()",
            "logits = model(inputs, mask)",
            "loss, grad = cl.cross_entropy(logits, targets, ignore_index=0)",
            "model.backward(grad)",
            "grads = list(model.gradients().values())",
            "norm = np.sqrt(sum(float((g * g).sum()) for g in grads))",
            "scale = clip / (norm + 1e-6)",
            "if scale < 1:",
            "    for g in grads:",
            "        g *= scale",
            "optimizer.step()",
            "return float(loss)",
        ),
        "gradients cleared after the step": _step(
            _FORWARD,
            "model.backward(grad)",
            "cl.clip_grad_norm(model, clip)",
            "optimizer.step()",
            "model.zero_grad()",
            "return loss",
        ),
    },
    mistakes={
        "no zero_grad": Mistake(
            "added the first step's gradients again",
            _step(
                _FORWARD,
                "model.backward(grad)",
                "cl.clip_grad_norm(model, clip)",
                "optimizer.step()",
                "return loss",
            ),
        ),
        "no clipping": Mistake(
            "the gradients were not clipped",
            _step(
                _FORWARD,
                "model.zero_grad()",
                "model.backward(grad)",
                "optimizer.step()",
                "return loss",
            ),
        ),
        "clipping after the step": Mistake(
            "clipped after optimizer.step()",
            _step(
                _FORWARD,
                "model.zero_grad()",
                "model.backward(grad)",
                "optimizer.step()",
                "cl.clip_grad_norm(model, clip)",
                "return loss",
            ),
        ),
        "zero_grad after backward": Mistake(
            "were all zero when the optimizer stepped",
            _step(
                _FORWARD,
                "model.backward(grad)",
                "model.zero_grad()",
                "cl.clip_grad_norm(model, clip)",
                "optimizer.step()",
                "return loss",
            ),
        ),
        "no optimizer step": Mistake(
            "no weight changed",
            _step(
                _FORWARD,
                "model.zero_grad()",
                "model.backward(grad)",
                "cl.clip_grad_norm(model, clip)",
                "return loss",
            ),
        ),
        "padded targets counted": Mistake(
            "the padded targets were counted",
            _step(
                _FORWARD.replace("model.config.pad_id", "None"),
                "model.zero_grad()",
                "model.backward(grad)",
                "cl.clip_grad_norm(model, clip)",
                "optimizer.step()",
                "return loss",
            ),
        ),
        "the gradient norm returned": Mistake(
            "should return the batch's loss",
            _step(
                _FORWARD,
                "model.zero_grad()",
                "model.backward(grad)",
                "norm = cl.clip_grad_norm(model, clip)",
                "optimizer.step()",
                "return norm",
            ),
        ),
    },
)

# ----------------------------------------------------------------------------- 5.3 sampling


def _probs(body: str) -> str:
    return f"def next_token_probs(logits, temperature=1.0, top_k=None):\n{body}"


_SCALED = "    scaled = logits / temperature\n"
_KEEP = (
    "    if top_k is not None:\n"
    "        scaled = np.where(scaled < np.sort(scaled)[-top_k], -np.inf, scaled)\n"
)
_SOFT = "    p = np.exp(scaled - scaled.max())\n    return p / p.sum()\n"

CORPUS["ch05_next_token_probs"] = Answers(
    valid={
        "mask below the k-th largest": _probs(_SCALED + _KEEP + _SOFT),
        "argpartition": _probs(
            "    z = np.asarray(logits, dtype=float) / temperature\n"
            "    if top_k is not None:\n"
            "        keep = np.argpartition(z, -top_k)[-top_k:]\n"
            "        masked = np.full_like(z, -np.inf)\n"
            "        masked[keep] = z[keep]\n"
            "        z = masked\n"
            "    e = np.exp(z - z.max())\n"
            "    return e / e.sum()\n"
        ),
        "log-sum-exp over the kept tokens": _probs(
            "    z = logits / temperature\n"
            "    order = np.argsort(z)[::-1]\n"
            "    kept = order if top_k is None else order[:top_k]\n"
            "    out = np.zeros(len(z))\n"
            "    m = z[kept].max()\n"
            "    out[kept] = np.exp(z[kept] - m - np.log(np.exp(z[kept] - m).sum()))\n"
            "    return out\n"
        ),
    },
    mistakes={
        "multiplied by the temperature": Mistake(
            "the logits were multiplied by the temperature",
            _probs("    scaled = logits * temperature\n" + _KEEP + _SOFT),
        ),
        "the smallest k kept": Mistake(
            "kept the wrong tokens",
            _probs(
                _SCALED
                + "    if top_k is not None:\n"
                + "        kth_smallest = np.sort(scaled)[top_k - 1]\n"
                + "        scaled = np.where(scaled > kth_smallest, -np.inf, scaled)\n"
                + _SOFT
            ),
        ),
        "one token too many": Mistake(
            "exactly 2 tokens should keep a probability above 0",
            _probs(_SCALED + _KEEP.replace("[-top_k]", "[-top_k - 1]") + _SOFT),
        ),
        "softmax first, the rest set to 0 after": Mistake(
            "the kept probabilities no longer sum to 1",
            _probs(
                _SCALED
                + "    p = np.exp(scaled - scaled.max())\n    p = p / p.sum()\n"
                + "    if top_k is not None:\n"
                + "        p = np.where(scaled < np.sort(scaled)[-top_k], 0.0, p)\n"
                + "    return p\n"
            ),
        ),
        "no shift": Mistake(
            "logits of 1000 overflow exp()",
            _probs(_SCALED + _KEEP + "    p = np.exp(scaled)\n    return p / p.sum()\n"),
        ),
        "logits divided in place": Mistake(
            "changed its argument `logits` in place",
            _probs("    logits /= temperature\n    scaled = logits\n" + _KEEP + _SOFT),
        ),
        "top_k=5 by default": Mistake(
            "keep the signature's default, top_k=None",
            _probs(_SCALED + _KEEP + _SOFT).replace("top_k=None", "top_k=5"),
        ),
        "a list": Mistake(
            "it should return a NumPy array",
            _probs(
                _SCALED + _KEEP + "    p = np.exp(scaled - scaled.max())\n"
                "    return list(p / p.sum())\n"
            ),
        ),
    },
)
