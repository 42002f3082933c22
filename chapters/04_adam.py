# ---
# jupyter:
#   jupytext:
#     cell_metadata_filter: nbgrader,-all
#     formats: ipynb,py:percent
#     notebook_metadata_filter: kernelspec,jupytext,-jupytext.text_representation
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Chapter 04: The Adam optimizer
#
# Chapters 02 and 03 gave every layer a backward pass: for each weight we now know the
# **gradient**, the direction in which the loss grows fastest. Training walks the other way,
# downhill, one small step at a time. *How* to step is the optimizer's job, and it decides
# whether training takes seconds, hours, or never gets anywhere.
#
# In this chapter you build, on a loss surface small enough to draw:
#
# 1. plain gradient descent, and why it zig-zags in a narrow valley,
# 2. momentum, which remembers where it was going (you write the step),
# 3. RMS scaling, which gives every weight its own step size,
# 4. Adam, which combines both and corrects their start-up bias (you write the step),
# 5. Adam against plain gradient descent on the real model,
# 6. gradient clipping by the global norm (you write it), and a learning-rate sweep.
#
# Each exercise is a function you write; the cell after it checks your function. If you skip
# one, its check says "not done yet" and the chapter goes on with the library's version.

# %%
import matplotlib.pyplot as plt
import numpy as np

from course_lib import checks
from course_lib import numpy as cl
from course_lib.checks import ch04 as check
from course_lib.config import ModelConfig
from course_lib.corpus import pretraining_texts
from course_lib.vocab import Vocab


# %% [markdown]
# ## 1. A loss surface you can see
#
# A real model has half a million weights; its loss surface cannot be drawn. So we start with
# two weights, `w = (x, y)`, and a loss shaped like a long, narrow valley, the shape that makes
# optimizers struggle in real networks too: steep across the valley (`y`), nearly flat along it
# (`x`). The lowest point is at `(0, 0)`.
#
# $$L(x, y) = 0.05\,x^2 + 2\,y^2 \qquad \nabla L = (0.1\,x,\ 4\,y)$$

# %%
def loss_2d(w: np.ndarray) -> float:
    """The valley: flat along x, steep along y."""
    return float(0.05 * w[0] ** 2 + 2.0 * w[1] ** 2)


def grad_2d(w: np.ndarray) -> np.ndarray:
    """Its gradient, (dL/dx, dL/dy)."""
    return np.array([0.1 * w[0], 4.0 * w[1]])


START = np.array([-9.0, 1.5])


def draw_valley(paths: dict[str, np.ndarray], title: str = "") -> None:
    """Contour lines of the valley, with each optimizer's path of points on top."""
    xs, ys = np.meshgrid(np.linspace(-10, 3, 200), np.linspace(-2.2, 2.2, 200))
    zs = 0.05 * xs**2 + 2.0 * ys**2
    fig, ax = plt.subplots(figsize=(8, 3.6))
    ax.contour(xs, ys, zs, levels=np.geomspace(0.01, 14, 14), cmap="Greys", linewidths=0.8)
    for name, path in paths.items():
        ax.plot(path[:, 0], path[:, 1], ".-", label=f"{name}: loss {loss_2d(path[-1]):.3f}")
    ax.plot(0, 0, "k*", markersize=12)
    ax.set_xlabel("x (flat direction)")
    ax.set_ylabel("y (steep direction)")
    ax.set_title(title)
    ax.legend(loc="lower right", fontsize=8)
    plt.show()


# %% [markdown]
# ## 2. Gradient descent
#
# Plain gradient descent (SGD, "stochastic" once the gradient comes from a random batch) steps
# against the gradient, scaled by the **learning rate** `lr`:
#
# $$w \leftarrow w - \text{lr}\cdot\nabla L(w)$$
#
# One learning rate must serve both directions. Across the valley the slope is steep, so a
# large `lr` overshoots and the path bounces from wall to wall; along the valley the slope is
# gentle, so a small `lr` crawls. Try both:

# %%
def run(step_fn, steps: int = 40) -> np.ndarray:
    """Positions visited by `step_fn(w, state) -> w` from START, as a (steps + 1, 2) array."""
    w, state, path = START.copy(), {}, [START.copy()]
    for _ in range(steps):
        w = step_fn(w, state)
        path.append(w.copy())
    return np.array(path)


def sgd(lr: float):
    return lambda w, state: w - lr * grad_2d(w)


draw_valley({"SGD lr=0.45": run(sgd(0.45)), "SGD lr=0.1": run(sgd(0.1))}, "gradient descent")

# %%
# The text below, checked against this run.
assert np.all(np.diff(np.sign(run(sgd(0.45))[:, 1])) != 0)  # lr 0.45: y changes sign every step
assert np.isclose(run(sgd(0.1))[-1, 0], -9 * 0.99**40) and -6.1 < run(sgd(0.1))[-1, 0] < -5.9
assert abs(run(sgd(0.55))[-1, 1]) > 100 * abs(START[1])  # lr above 0.5: y blows up


# %% [markdown]
# With `lr = 0.45` the steep direction oscillates (each step overshoots by 80 %); with `lr = 0.1`
# it is calm, but along the flat direction each step covers only 1 % of the way left
# (`0.1 * 0.1 = 0.01`), so after 40 steps `x` has got only from -9 to about -6
# (`-9 * 0.99**40`). Any `lr` above `2 / 4 = 0.5` makes `y` blow up. This is the dilemma the
# next two ideas solve.
#
# ## 3. Momentum
#
# A ball rolling down the valley does not stop and turn at every bump: it keeps its
# **velocity**. Momentum keeps a running sum of past gradients, each older one fading by a
# factor `beta` (typically 0.9), and steps along that sum:
#
# $$v \leftarrow \beta\,v + \nabla L(w) \qquad w \leftarrow w - \text{lr}\cdot v$$
#
# Across the valley the gradients flip sign each step and cancel out in `v`; along the valley
# they all point the same way and add up, so the walk speeds up where the way is clear.
#
# ### Exercise 4.1: a momentum step
#
# Write `momentum_step(param, grad, velocity, lr, beta)` returning `(new_param, new_velocity)`,
# without changing the arrays you were given. The check tries it on random arrays and names
# the usual slips: forgetting the velocity, stepping with the old one, or averaging instead of
# summing.

# %%
def momentum_step(
    param: np.ndarray, grad: np.ndarray, velocity: np.ndarray, lr: float, beta: float = 0.9
) -> tuple[np.ndarray, np.ndarray]:
    """One step of gradient descent with momentum: (new param, new velocity)."""
    # YOUR CODE HERE
    raise NotImplementedError()


# %% nbgrader={"grade": true, "grade_id": "ch04_momentum_step", "locked": true, "points": 1}
momentum_step = check.momentum_step(momentum_step)


# %%
def momentum(lr: float, beta: float = 0.9):
    def step(w, state):
        new_w, state["v"] = momentum_step(w, grad_2d(w), state.get("v", np.zeros(2)), lr, beta)
        return new_w

    return step


draw_valley({"SGD lr=0.1": run(sgd(0.1)), "momentum lr=0.1": run(momentum(0.1))}, "momentum")


# %% [markdown]
# ## 4. RMS scaling: a step size per weight
#
# Momentum still uses one learning rate for every weight. **RMSProp** divides each weight's
# gradient by a running root-mean-square of its own past gradients:
#
# $$s \leftarrow \beta_2\,s + (1-\beta_2)\,g^2 \qquad
#   w \leftarrow w - \text{lr}\cdot \frac{g}{\sqrt{s} + \varepsilon}$$
#
# A weight whose gradients are large gets its steps shrunk, one whose gradients are tiny gets
# them enlarged: every direction moves at about `lr` per step, whatever its slope. The steep
# `y` and the flat `x` are now treated alike.

# %%
def rmsprop(lr: float, beta2: float = 0.9, eps: float = 1e-8):
    def step(w, state):
        g = grad_2d(w)
        state["s"] = beta2 * state.get("s", np.zeros(2)) + (1 - beta2) * g**2
        return w - lr * g / (np.sqrt(state["s"]) + eps)

    return step


draw_valley({"SGD lr=0.1": run(sgd(0.1)), "RMSProp lr=0.3": run(rmsprop(0.3))}, "RMS scaling")

# %% [markdown]
# ## 5. Adam = momentum + RMS scaling + bias correction
#
# Adam keeps both running averages: `m`, the mean of the gradients (momentum, as an average
# this time), and `v`, the mean of their squares (RMS scaling). Both start at zero, and that
# is a problem: after the first step `m = (1 - 0.9) g = 0.1 g`, ten times too small, and
# `v = 0.001 g²`. **Bias correction** divides each by the total weight its average has
# collected so far, `1 - beta**t`, where `t` is the number of the step, **counted from 1**:
#
# $$m \leftarrow \beta_1 m + (1-\beta_1) g \qquad v \leftarrow \beta_2 v + (1-\beta_2) g^2$$
# $$\hat m = \frac{m}{1-\beta_1^t} \qquad \hat v = \frac{v}{1-\beta_2^t} \qquad
#   w \leftarrow w - \text{lr}\cdot\frac{\hat m}{\sqrt{\hat v} + \varepsilon}$$
#
# The plot shows what the correction does for a gradient that is always 1: the raw averages
# creep up from zero (`v` takes thousands of steps), the corrected ones are right from step 1.

# %%
steps = np.arange(1, 301)
m_raw = 1 - 0.9**steps  # m after t steps of g = 1, starting from 0
v_raw = 1 - 0.999**steps
fig, ax = plt.subplots(figsize=(7, 3))
ax.plot(steps, m_raw, label="m (beta1 = 0.9), uncorrected")
ax.plot(steps, v_raw, label="v (beta2 = 0.999), uncorrected")
ax.plot(steps, m_raw / (1 - 0.9**steps), "k--", label="m and v corrected: 1 from step 1")
ax.set_xlabel("step t")
ax.set_ylabel("running average of g = 1")
ax.legend(fontsize=8)
plt.show()


# %% [markdown]
# Without correction the first steps are far from `lr`-sized: `m / sqrt(v)` is `0.1 / sqrt(0.001)`,
# about 3 times `lr` at step 1, and it wanders for the first few thousand steps.
#
# ### Exercise 4.2: an Adam step with bias correction
#
# Write `adam_step(param, grad, state, lr, beta1, beta2, eps)`. `state` is a dict with
# `"m"`, `"v"` (arrays, zeros at the start) and `"t"`, the number of steps taken **so far**
# (0 at the start). Update the state in the dict and return the new param: you may compute a
# new array or update `param` in place (as the library's `Adam` does), but return it either way;
# `grad` must stay as it was. The check runs four steps from a fresh state and compares every
# one with Adam; it recognises Adam without bias correction (or with only one of the two
# corrections), a step counter that starts at 0 (the first step would divide by
# `1 - beta**0 = 0`), `m` summed instead of averaged, `v` of `|grad|`, and `eps` in the wrong
# place or not used (it tries `eps=1e-6` with gradients around `1e-6`). It also calls
# `adam_step(param, grad, state, lr)`, as the valley below does, so `beta1`, `beta2` and `eps`
# must keep the defaults of the signature.

# %%
def adam_step(
    param: np.ndarray,
    grad: np.ndarray,
    state: dict,
    lr: float = 1e-3,
    beta1: float = 0.9,
    beta2: float = 0.999,
    eps: float = 1e-8,
) -> np.ndarray:
    """One Adam step; updates state["m"], state["v"], state["t"] and returns the new param."""
    # YOUR CODE HERE
    raise NotImplementedError()


# %% nbgrader={"grade": true, "grade_id": "ch04_adam_step", "locked": true, "points": 2}
adam_step = check.adam_step(adam_step)


# %% [markdown]
# Now all four on the valley, each with a learning rate that suits it:

# %%
def adam(lr: float):
    def step(w, state):
        if not state:
            state.update(m=np.zeros(2), v=np.zeros(2), t=0)
        return adam_step(w, grad_2d(w), state, lr)

    return step


draw_valley(
    {
        "SGD lr=0.1": run(sgd(0.1)),
        "momentum lr=0.1": run(momentum(0.1)),
        "RMSProp lr=0.3": run(rmsprop(0.3)),
        "Adam lr=0.5": run(adam(0.5)),
    },
    "40 steps each from the same start",
)

# %%
# The text above, checked against this run.
adam_path, rmsprop_path = run(adam(0.5)), run(rmsprop(0.3))
assert np.allclose(np.diff(adam_path[:4, 0]), 0.5, atol=0.02)  # about lr per step
assert adam_path[:, 0].max() > 1 and adam_path[-1, 0] > 0.5  # past the minimum, still out
assert rmsprop_path[:, 0].max() < 0 and loss_2d(rmsprop_path[-1]) < loss_2d(adam_path[-1])
assert run(sgd(0.1))[-1, 0] < -5  # SGD crawls

# %% [markdown]
# Both methods with RMS scaling cross the flat direction at about `lr` per step, where SGD
# crawls. Adam's momentum carries it past the minimum, to `x` above 1, and after 40 steps it is
# still swinging back; on two weights with exact gradients RMSProp alone is calmer: it never
# passes the minimum and ends closer to it. On a real model the gradients come from random
# batches and are noisy, and averaging them (momentum) is what pays off, as the next section
# shows: a step size per weight plus an averaged direction is why Adam is the default choice.
#
# ## 6. Adam against SGD on the real model
#
# The same comparison on a real (small) language model from `course_lib.numpy`, trained on the
# course's facts with `cl.train` (chapter 02 introduced it: it runs the forward pass, the loss,
# the backward pass and an optimizer step on batch after batch, for a number of epochs).
# `cl.train` takes any optimizer with a `step()` method and an `lr`; here is plain SGD in five
# lines, next to the library's `cl.Adam`.

# %%
facts = pretraining_texts()
vocab = Vocab.build(facts)
small = ModelConfig(vocab_size=len(vocab), d_model=64, d_hidden=128, n_layers=2)


class SGD:
    """Plain gradient descent on every parameter of a course_lib.numpy model."""

    def __init__(self, model: cl.LLM, lr: float) -> None:
        self.model, self.lr = model, lr

    def step(self) -> None:
        grads = self.model.gradients()
        for name, param in self.model.parameters().items():
            param -= self.lr * grads[name]


def train_small(make_optimizer, lr: float, epochs: int = 15) -> list[float]:
    """Losses per epoch of a fresh small model trained on the facts."""
    model = cl.LLM(small, seed=0)
    return cl.train(
        model, vocab, facts, epochs=epochs, lr=lr, batch_size=8,
        optimizer=make_optimizer(model, lr), progress=False,
    )  # fmt: skip


curves = {
    "SGD lr=0.1": train_small(SGD, 0.1),
    "SGD lr=0.5": train_small(SGD, 0.5),
    "Adam lr=3e-3": train_small(cl.Adam, 3e-3),
}
fig, ax = plt.subplots(figsize=(7, 3.2))
for name, losses in curves.items():
    ax.plot(range(1, len(losses) + 1), losses, ".-", label=f"{name}: {losses[-1]:.2f}")
ax.set_yscale("log")
ax.set_xlabel("epoch")
ax.set_ylabel("mean loss")
ax.legend(fontsize=8)
plt.show()

# %%
# The text below, checked against this run.
assert len(vocab) == 240
sgd_best = min(curves["SGD lr=0.1"][-1], curves["SGD lr=0.5"][-1])
assert curves["Adam lr=3e-3"][-1] < sgd_best / 10


# %% [markdown]
# The loss is measured in **nats**, the unit of information you get with the natural logarithm
# `ln` (with `log2` it would be bits). Uniform guessing over the vocabulary costs `ln(vocab)`
# nats per token, here `ln(240)`, about 5.5. SGD gets down only slowly; in our run Adam ends
# more than ten times lower in the same 15 epochs. The embedding rows of rare words and the
# output bias see tiny gradients: SGD barely moves them, Adam gives them full-size steps.
#
# ## 7. Gradient clipping
#
# Now and then one batch produces a huge gradient (a rare word, an unlucky start); one step
# along it can throw away everything learned so far. **Clipping** caps the step: if the
# gradient's length (its L2 norm) is above `max_norm`, scale it down to `max_norm`.
#
# The length is that of *all* gradients together, as if every weight of every layer sat in one
# long vector: the **global norm** `sqrt(sum of g² over every tensor)`. Every tensor is then
# scaled by the same factor, so the direction of the step is kept, only its size shrinks.
# Clipping each tensor on its own would change the direction.
#
# ### Exercise 4.3: clip by the global norm
#
# Write `clip_by_global_norm(grads, max_norm)` for a list of arrays; return
# `(clipped_grads, total_norm)`, where `total_norm` is the global norm before clipping. Gradients
# whose norm is already below `max_norm` come back unchanged.

# %%
def clip_by_global_norm(grads: list[np.ndarray], max_norm: float) -> tuple[list[np.ndarray], float]:
    """Scale all gradients by one factor so their global L2 norm is at most max_norm."""
    # YOUR CODE HERE
    raise NotImplementedError()


# %% nbgrader={"grade": true, "grade_id": "ch04_clip_by_global_norm", "locked": true, "points": 1}
clip_by_global_norm = check.clip_by_global_norm(clip_by_global_norm)

# %% [markdown]
# The library's `cl.clip_grad_norm(model, 5.0)` does the same on a whole model (and returns the
# norm before clipping). Here are the global gradient norms of the first training steps of a
# fresh model, with the 5.0 limit the reference schedule (chapter 01) uses.
#
# The loop below is one training step written out, a preview of chapter 05, where you write it
# yourself. `make_batches` (from `course_lib.batching`) cuts the encoded texts into batches of
# three arrays: `inputs` (batch, time), the `targets` (the same tokens, one step ahead: the next
# token at every position) and a `mask` that is True on real tokens and False on padding.
# `model(inputs, mask)` runs the model forward and returns the logits, one score for every
# vocabulary token at every position; `cl.cross_entropy` turns them into the loss and its
# gradient, which `model.backward` sends back through every layer.

# %%
model = cl.LLM(small, seed=0)
opt = cl.Adam(model, lr=3e-3)
from course_lib.batching import encode_texts, make_batches  # noqa: E402

sequences = encode_texts(vocab, facts, max_len=small.max_seq_len + 1)
rng = np.random.default_rng(0)
norms = []
for _ in range(4):
    for inputs, targets, mask in make_batches(sequences, 8, pad_id=0, shuffle=True, rng=rng):
        loss, grad = cl.cross_entropy(model(inputs, mask), targets)
        model.zero_grad()
        model.backward(grad)
        norms.append(cl.clip_grad_norm(model, 5.0))
        opt.step()
fig, ax = plt.subplots(figsize=(7, 2.8))
ax.plot(norms, ".-", label="global gradient norm before clipping")
ax.axhline(5.0, color="r", linestyle="--", label="max_norm = 5")
ax.set_xlabel("step")
ax.legend(fontsize=8)
plt.show()

# %% [markdown]
# In our run the fresh model's first four steps have norms above the limit, and clipping
# shrinks them. After that the norm stays mostly below 5, and only now and then one batch
# comes out above it: the rare large gradient that clipping is there for.

# %%
# The text above, checked against this run.
later = np.array(norms[4:])
assert min(norms[:4]) > 5.0 and np.mean(later < 5.0) > 0.8 and np.any(later > 5.0)

# %% [markdown]
# ## 8. Choosing the learning rate
#
# The learning rate is the one setting every training run must get right. Too small and
# nothing happens; too large and the loss jumps around or explodes. A **sweep** trains the same
# model briefly at a range of learning rates, spaced by factors of about 3, and plots the final
# loss. The best value sits just before the curve turns up again.

# %%
rates = [1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2]
final = [train_small(cl.Adam, lr, epochs=6)[-1] for lr in rates]
fig, ax = plt.subplots(figsize=(6, 3))
ax.plot(rates, final, "o-")
ax.set_xscale("log")
ax.set_xlabel("Adam learning rate")
ax.set_ylabel("loss after 6 epochs")
plt.show()
print("best learning rate in the sweep:", rates[int(np.argmin(final))])

# %%
# The text below, checked against this run: the best rate, with the curve rising on both sides.
best = int(np.argmin(final))
assert rates[best] == 3e-3 and final[0] > final[best] < final[-1]

# %% [markdown]
# With batches of 8 sequences, Adam learns this small model fastest at a few times 1e-3 (in our
# run the best of the sweep is 3e-3). The reference schedule uses 5e-4 for single sequences;
# chapter 05 trains in batches with a larger rate, clipping at 5.0.
#
# ## Summary
#
# - Gradient descent steps against the gradient; one learning rate for every direction makes
#   it zig-zag in narrow valleys.
# - Momentum sums past gradients: oscillations cancel, steady slopes speed up.
# - RMS scaling divides by each weight's own gradient size: every weight steps about `lr`.
# - Adam does both, with bias correction so its first steps are right (t counted from 1).
# - Clipping by the global norm keeps the direction and caps the size of a step.

# %% [markdown]
# ## Questions to think about
#
# Answer each in two to four sentences, in the cell under it. There is no check: your
# instructor reads the answers.
#
# **Question 1.** Why does Adam need bias correction in its first steps? Describe what the first update would
# look like without it, with beta1 = 0.9 and beta2 = 0.999.

# %% [markdown] nbgrader={"grade": true, "grade_id": "ch04_written_bias_correction", "points": 1, "solution": true}
# YOUR ANSWER HERE

# %% [markdown]
# **Question 2.** Gradient clipping here scales all gradients by one common factor when their global norm is
# too large. Why not clip each weight matrix, or each entry, on its own?

# %% [markdown] nbgrader={"grade": true, "grade_id": "ch04_written_global_clipping", "points": 1, "solution": true}
# YOUR ANSWER HERE

# %% [markdown]
# Your local score for this chapter:

# %%
checks.summary();
