"""Chapter 03's checks: right answers pass, each usual mistake fails with its own hint, and an
unsolved exercise hands back the reference.

Oracle: the hints are matched by a phrase only that mistake's hint contains; the right answers
are written here independently of the references in `course_lib.checks.ch03` (the backward passes
in the "dvar / dmean" form of the chain rule, not the compact form the references use).
"""

from __future__ import annotations

import numpy as np
import pytest

from course_lib.checks import CheckFailed, ch03

# ----------------------------------------------------------------------------- right answers


def good_softmax(x, axis=-1):
    e = np.exp(x - np.max(x, axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def _future(t):
    return np.triu(np.ones((t, t), dtype=bool), k=1)


def good_attention(q, k, v):
    scores = q @ np.swapaxes(k, -1, -2) / np.sqrt(q.shape[-1])
    scores = np.where(_future(q.shape[-2]), -np.inf, scores)
    weights = good_softmax(scores)
    return weights @ v, weights


def good_layer_norm(x, gamma, beta, eps=1e-5):
    mean = x.mean(axis=-1, keepdims=True)
    var = ((x - mean) ** 2).mean(axis=-1, keepdims=True)
    return gamma * (x - mean) / np.sqrt(var + eps) + beta


def _layer_norm_parts(grad_out, x, gamma, eps):
    """Every intermediate of the chain rule written out step by step."""
    n = x.shape[-1]
    mean = x.mean(axis=-1, keepdims=True)
    xmu = x - mean
    var = (xmu**2).mean(axis=-1, keepdims=True)
    inv_std = 1.0 / np.sqrt(var + eps)
    x_hat = xmu * inv_std
    dx_hat = grad_out * gamma
    dvar = np.sum(dx_hat * xmu, axis=-1, keepdims=True) * -0.5 * inv_std**3
    dmean = np.sum(-dx_hat * inv_std, axis=-1, keepdims=True) + dvar * np.mean(
        -2.0 * xmu, axis=-1, keepdims=True
    )
    return n, xmu, x_hat, inv_std, dx_hat, dvar, dmean


def good_layer_norm_backward(grad_out, x, gamma, eps=1e-5):
    n, xmu, x_hat, inv_std, dx_hat, dvar, dmean = _layer_norm_parts(grad_out, x, gamma, eps)
    dx = dx_hat * inv_std + dvar * 2.0 * xmu / n + dmean / n
    lead = tuple(range(x.ndim - 1))
    return dx, np.sum(grad_out * x_hat, axis=lead), np.sum(grad_out, axis=lead)


def good_attention_backward(grad_out, q, k, v, weights):
    dv = np.swapaxes(weights, -1, -2) @ grad_out
    dw = grad_out @ np.swapaxes(v, -1, -2)
    ds = weights * (dw - np.sum(dw * weights, axis=-1, keepdims=True))
    ds = ds / np.sqrt(q.shape[-1])
    return ds @ k, np.swapaxes(ds, -1, -2) @ q, dv


def unsolved(*args, **kwargs):
    raise NotImplementedError()


# ----------------------------------------------------------------------------- passing, not done


# ----------------------------------------------------------------------------- 3.1 softmax


def test_softmax_without_subtracting_the_max_overflows():
    def naive(x, axis=-1):
        e = np.exp(x)
        return e / e.sum(axis=axis, keepdims=True)

    with pytest.raises(CheckFailed, match="exp\\(1000\\) overflows. Subtract the max"):
        ch03.softmax(naive)


def test_softmax_subtracting_the_global_max_fails():
    def global_max(x, axis=-1):
        e = np.exp(x - np.max(x))
        return e / e.sum(axis=axis, keepdims=True)

    with pytest.raises(CheckFailed, match="each row's own max"):
        ch03.softmax(global_max)


def test_softmax_summing_the_whole_array_fails():
    def whole_sum(x, axis=-1):
        e = np.exp(x - np.max(x, axis=axis, keepdims=True))
        return e / e.sum()

    with pytest.raises(CheckFailed, match="rows do not sum to 1"):
        ch03.softmax(whole_sum)


def test_softmax_ignoring_the_axis_argument_fails():
    with pytest.raises(CheckFailed, match="use the `axis` argument"):
        ch03.softmax(lambda x, axis=-1: good_softmax(x))


def test_softmax_changing_its_input_fails():
    def in_place(x, axis=-1):
        x -= np.max(x, axis=axis, keepdims=True)
        np.exp(x, out=x)
        x /= x.sum(axis=axis, keepdims=True)
        return x

    with pytest.raises(CheckFailed, match="changed its input"):
        ch03.softmax(in_place)


# ----------------------------------------------------------------------------- 3.2 attention


def _attention(q, k, v, scale=True, mask="before", divide_by_d=False):
    d = q.shape[-1]
    scores = q @ np.swapaxes(k, -1, -2)
    if scale:
        scores = scores / (d if divide_by_d else np.sqrt(d))
    future = _future(q.shape[-2])
    if mask == "before":
        scores = np.where(future, -np.inf, scores)
    weights = good_softmax(scores)
    if mask == "after":
        weights = np.where(future, 0.0, weights)
    if mask == "after-inf":
        weights = np.where(future, -np.inf, weights)
    return np.nan_to_num(weights, neginf=0.0) @ v, weights


def test_attention_without_scaling_fails_with_the_sqrt_d_hint():
    with pytest.raises(CheckFailed, match=r"divide q @ k.T by sqrt\(d\) .* not by 1"):
        ch03.causal_attention(lambda q, k, v: _attention(q, k, v, scale=False))


def test_attention_divided_by_d_fails_with_the_sqrt_d_hint():
    with pytest.raises(CheckFailed, match=r"divide q @ k.T by sqrt\(d\) .* not by 16"):
        ch03.causal_attention(lambda q, k, v: _attention(q, k, v, divide_by_d=True))


def test_attention_without_a_mask_fails_with_the_future_hint():
    with pytest.raises(CheckFailed, match="positions attend to the future"):
        ch03.causal_attention(lambda q, k, v: _attention(q, k, v, mask="none"))


def test_attention_masked_with_zero_instead_of_minus_inf_fails():
    def zero_mask(q, k, v):
        scores = q @ np.swapaxes(k, -1, -2) / np.sqrt(q.shape[-1])
        scores = np.where(_future(q.shape[-2]), 0.0, scores)
        weights = good_softmax(scores)
        return weights @ v, weights

    with pytest.raises(CheckFailed, match="positions attend to the future"):
        ch03.causal_attention(zero_mask)


def test_attention_masked_after_softmax_fails_with_the_after_softmax_hint():
    with pytest.raises(CheckFailed, match="mask was applied after the softmax"):
        ch03.causal_attention(lambda q, k, v: _attention(q, k, v, mask="after"))


def test_attention_masked_with_minus_inf_after_softmax_fails():
    with pytest.raises(CheckFailed, match="before the softmax"):
        ch03.causal_attention(lambda q, k, v: _attention(q, k, v, mask="after-inf"))


def test_attention_masking_the_diagonal_fails():
    def diagonal_masked(q, k, v):
        scores = q @ np.swapaxes(k, -1, -2) / np.sqrt(q.shape[-1])
        scores = np.where(np.triu(np.ones(scores.shape[-2:], dtype=bool)), -np.inf, scores)
        weights = good_softmax(scores)
        return weights @ v, weights

    with pytest.raises(CheckFailed, match="keeping the diagonal"):
        ch03.causal_attention(diagonal_masked)


def test_attention_with_wrong_output_fails():
    def forgot_v(q, k, v):
        _, weights = good_attention(q, k, v)
        return weights @ q, weights

    with pytest.raises(CheckFailed, match="out = weights @ v"):
        ch03.causal_attention(forgot_v)


def test_attention_returning_only_the_output_fails():
    with pytest.raises(CheckFailed, match=r"return a tuple of 2, \(out, weights\)"):
        ch03.causal_attention(lambda q, k, v: good_attention(q, k, v)[0])


# ----------------------------------------------------------------------------- 3.3 heads


def test_split_heads_by_reshape_alone_fails():
    def reshape_only(x, n_heads):
        b, t, d = x.shape
        return x.reshape(b, n_heads, t, d // n_heads)

    with pytest.raises(CheckFailed, match="mixes positions into heads"):
        ch03.split_heads(reshape_only)


# ----------------------------------------------------------------------------- 3.4 layer norm


def test_layer_norm_over_the_batch_axis_fails():
    def batch_axis(x, gamma, beta, eps=1e-5):
        return gamma * (x - x.mean(axis=0)) / np.sqrt(x.var(axis=0) + eps) + beta

    with pytest.raises(CheckFailed, match="normalized over the batch axis"):
        ch03.layer_norm(batch_axis)


def test_layer_norm_with_eps_outside_the_square_root_fails():
    def eps_outside(x, gamma, beta, eps=1e-5):
        mean = x.mean(axis=-1, keepdims=True)
        return gamma * (x - mean) / (x.std(axis=-1, keepdims=True) + eps) + beta

    with pytest.raises(CheckFailed, match="not std \\+ eps"):
        ch03.layer_norm(eps_outside)


def test_layer_norm_without_eps_fails_on_a_constant_row():
    def no_eps(x, gamma, beta, eps=1e-5):
        mean = x.mean(axis=-1, keepdims=True)
        return gamma * (x - mean) / x.std(axis=-1, keepdims=True) + beta

    with pytest.raises(CheckFailed, match="variance 0"):
        ch03.layer_norm(no_eps)


def test_layer_norm_with_sample_variance_fails():
    def sample_var(x, gamma, beta, eps=1e-5):
        mean = x.mean(axis=-1, keepdims=True)
        return gamma * (x - mean) / np.sqrt(x.var(axis=-1, ddof=1, keepdims=True) + eps) + beta

    with pytest.raises(CheckFailed, match="population"):
        ch03.layer_norm(sample_var)


def test_layer_norm_without_gamma_and_beta_fails():
    with pytest.raises(CheckFailed, match="gamma and beta are missing"):
        ch03.layer_norm(lambda x, gamma, beta, eps=1e-5: good_layer_norm(x, 1.0, 0.0, eps))


# ----------------------------------------------------------------------------- 3.5 LN backward


def test_layer_norm_backward_without_the_variance_term_fails():
    def no_variance(grad_out, x, gamma, eps=1e-5):
        n, xmu, x_hat, inv_std, dx_hat, dvar, dmean = _layer_norm_parts(grad_out, x, gamma, eps)
        dx = dx_hat * inv_std - np.mean(dx_hat, axis=-1, keepdims=True) * inv_std
        lead = tuple(range(x.ndim - 1))
        return dx, np.sum(grad_out * x_hat, axis=lead), np.sum(grad_out, axis=lead)

    with pytest.raises(CheckFailed, match="dx drops the variance term"):
        ch03.layer_norm_backward(no_variance)


def test_layer_norm_backward_using_x_hat_for_x_minus_mean_fails():
    def x_hat_instead(grad_out, x, gamma, eps=1e-5):
        # The reference model's mistake: x_hat where x - mean belongs, in dvar and in dx.
        n, xmu, x_hat, inv_std, dx_hat, dvar, dmean = _layer_norm_parts(grad_out, x, gamma, eps)
        dvar = np.sum(dx_hat * x_hat, axis=-1, keepdims=True) * -0.5 * inv_std**3
        dx = dx_hat * inv_std + dvar * 2.0 * x_hat / n + dmean / n
        lead = tuple(range(x.ndim - 1))
        return dx, np.sum(grad_out * x_hat, axis=lead), np.sum(grad_out, axis=lead)

    with pytest.raises(CheckFailed, match="uses the normalized x where x - mean belongs"):
        ch03.layer_norm_backward(x_hat_instead)


def test_layer_norm_backward_using_x_hat_in_dvar_only_fails():
    def x_hat_in_dvar(grad_out, x, gamma, eps=1e-5):
        n, xmu, x_hat, inv_std, dx_hat, dvar, dmean = _layer_norm_parts(grad_out, x, gamma, eps)
        dvar = np.sum(dx_hat * x_hat, axis=-1, keepdims=True) * -0.5 * inv_std**3
        dx = dx_hat * inv_std + dvar * 2.0 * xmu / n + dmean / n
        lead = tuple(range(x.ndim - 1))
        return dx, np.sum(grad_out * x_hat, axis=lead), np.sum(grad_out, axis=lead)

    with pytest.raises(CheckFailed, match="uses the normalized x where x - mean belongs"):
        ch03.layer_norm_backward(x_hat_in_dvar)


def test_layer_norm_backward_as_if_mean_and_variance_were_constants_fails():
    def constants(grad_out, x, gamma, eps=1e-5):
        n, xmu, x_hat, inv_std, dx_hat, dvar, dmean = _layer_norm_parts(grad_out, x, gamma, eps)
        lead = tuple(range(x.ndim - 1))
        return dx_hat * inv_std, np.sum(grad_out * x_hat, axis=lead), np.sum(grad_out, axis=lead)

    with pytest.raises(CheckFailed, match="forgets that the mean and the variance depend"):
        ch03.layer_norm_backward(constants)


def test_layer_norm_backward_summing_dgamma_over_one_axis_fails():
    def one_axis(grad_out, x, gamma, eps=1e-5):
        dx, _, _ = good_layer_norm_backward(grad_out, x, gamma, eps)
        x_hat = (x - x.mean(-1, keepdims=True)) / np.sqrt(x.var(-1, keepdims=True) + eps)
        return dx, np.sum(grad_out * x_hat, axis=0), np.sum(grad_out, axis=0)

    with pytest.raises(CheckFailed, match="sum over every axis but the last"):
        ch03.layer_norm_backward(one_axis)


def test_layer_norm_backward_with_dgamma_from_raw_x_fails():
    def raw_x(grad_out, x, gamma, eps=1e-5):
        dx, _, dbeta = good_layer_norm_backward(grad_out, x, gamma, eps)
        return dx, np.sum(grad_out * x, axis=tuple(range(x.ndim - 1))), dbeta

    with pytest.raises(CheckFailed, match="dgamma multiplies the gradient by the normalized"):
        ch03.layer_norm_backward(raw_x)


# ----------------------------------------------------------------------------- 3.6 attn backward


def test_attention_backward_without_the_sqrt_d_factor_fails():
    def unscaled(grad_out, q, k, v, weights):
        dq, dk, dv = good_attention_backward(grad_out, q, k, v, weights)
        root_d = np.sqrt(q.shape[-1])
        return dq * root_d, dk * root_d, dv

    with pytest.raises(CheckFailed, match=r"sqrt\(d\) times too large"):
        ch03.attention_backward(unscaled)


def test_attention_backward_without_the_softmax_sum_term_fails():
    def elementwise_softmax(grad_out, q, k, v, weights):
        dv = np.swapaxes(weights, -1, -2) @ grad_out
        ds = weights * (grad_out @ np.swapaxes(v, -1, -2)) / np.sqrt(q.shape[-1])
        return ds @ k, np.swapaxes(ds, -1, -2) @ q, dv

    with pytest.raises(CheckFailed, match="softmax backward is missing its second term"):
        ch03.attention_backward(elementwise_softmax)


def test_attention_backward_with_untransposed_weights_for_dv_fails():
    def dv_wrong(grad_out, q, k, v, weights):
        dq, dk, _ = good_attention_backward(grad_out, q, k, v, weights)
        return dq, dk, weights @ grad_out

    with pytest.raises(CheckFailed, match="the weights must be transposed"):
        ch03.attention_backward(dv_wrong)


def test_attention_backward_with_dq_and_dk_swapped_fails():
    def swapped(grad_out, q, k, v, weights):
        dq, dk, dv = good_attention_backward(grad_out, q, k, v, weights)
        return dk, dq, dv

    with pytest.raises(CheckFailed, match=r"in the wrong order, \(dk, dq, dv\)"):
        ch03.attention_backward(swapped)
