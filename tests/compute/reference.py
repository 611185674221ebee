"""Plain numpy references, written independently of compute/ (loops where that is clearer)."""

from __future__ import annotations

import math

import numpy as np


def tol(dtype) -> dict:
    """assert_allclose tolerances that follow the dtype (never loosened to make a test pass)."""
    dt = np.dtype(dtype)
    if dt == np.float16:
        return {"rtol": 2e-2, "atol": 2e-2}
    if dt == np.float32:
        return {"rtol": 2e-5, "atol": 2e-5}
    return {"rtol": 1e-10, "atol": 1e-10}


def softmax(x, axis=-1):
    x = np.asarray(x, dtype=np.float64)
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def layernorm(x, gamma, beta, eps):
    axes = tuple(range(x.ndim - gamma.ndim, x.ndim))
    mu = x.mean(axis=axes, keepdims=True)
    var = x.var(axis=axes, keepdims=True)
    return (x - mu) / np.sqrt(var + eps) * gamma + beta


def batchnorm_train(x, gamma, beta, eps):
    axes = (0,) + tuple(range(2, x.ndim))
    shape = (1, x.shape[1]) + (1,) * (x.ndim - 2)
    mu = x.mean(axis=axes).reshape(shape)
    var = x.var(axis=axes).reshape(shape)
    return (x - mu) / np.sqrt(var + eps) * gamma.reshape(shape) + beta.reshape(shape)


def rmsnorm(x, gamma, eps):
    axes = tuple(range(x.ndim - gamma.ndim, x.ndim))
    return x / np.sqrt((x**2).mean(axis=axes, keepdims=True) + eps) * gamma


def attention(q, k, v, keep=None, scale=None):
    """softmax(q kᵀ scale) v one (batch) matrix at a time; rows with nothing kept give zeros."""
    q, k, v = (np.asarray(t, dtype=np.float64) for t in (q, k, v))
    batch = np.broadcast_shapes(q.shape[:-2], k.shape[:-2], v.shape[:-2])
    q = np.broadcast_to(q, batch + q.shape[-2:])
    k = np.broadcast_to(k, batch + k.shape[-2:])
    v = np.broadcast_to(v, batch + v.shape[-2:])
    scale = 1 / math.sqrt(q.shape[-1]) if scale is None else scale
    out = np.zeros(batch + (q.shape[-2], v.shape[-1]))
    weights = np.zeros(batch + (q.shape[-2], k.shape[-2]))
    if keep is not None:
        keep = np.broadcast_to(keep, batch + (q.shape[-2], k.shape[-2]))
    for idx in np.ndindex(*batch):
        s = q[idx] @ k[idx].T * scale
        for i in range(s.shape[0]):
            row = s[i].copy()
            if keep is not None:
                row[~keep[idx][i]] = -np.inf
            if np.all(np.isneginf(row)):
                continue
            w = np.exp(row - row.max())
            w /= w.sum()
            weights[idx][i] = w
            out[idx][i] = w @ v[idx]
    return out, weights


def mha(x_q, x_k, x_v, wq, wk, wv, wo, h, keep=None, bq=0.0, bk=0.0, bv=0.0, bo=0.0):
    """Multi-head attention with heads as column blocks, one head at a time."""
    q, k, v = x_q @ wq + bq, x_k @ wk + bk, x_v @ wv + bv
    dh = q.shape[-1] // h
    heads = []
    for j in range(h):
        sl = slice(j * dh, (j + 1) * dh)
        o, _w = attention(q[..., sl], k[..., sl], v[..., sl], keep)
        heads.append(o)
    concat = np.concatenate(heads, axis=-1)
    return concat @ wo + bo
