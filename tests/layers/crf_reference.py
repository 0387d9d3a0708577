"""Helpers for the CRF tests: the reference fixtures and independent NumPy mean fields."""

import os

import numpy as np

DATA = os.path.join(os.path.dirname(os.path.dirname(__file__)), "fixtures")
CASES = ("voc2007_000129", "coffee_320x240")


def load_case(name):
    """img (1, H, W, 3) uint8, logits (1, H, W, 21) = log(prob), and the reference outputs."""
    data = np.load(os.path.join(DATA, f"{name}.npz"))
    logits = np.log(data["prob"].astype(np.float32))[None]
    return data["img"][None], logits, data["densecrf_q10"].astype(np.float32), data["convcrf_q5"]


def softmax(z, axis=-1):
    z = z - z.max(axis=axis, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=axis, keepdims=True)


def brute_force_dense_crf(logits, image, iterations, theta_alpha, theta_beta, theta_gamma, w1, w2):
    """Exact O(N^2) mean field with exact Gaussians and pydensecrf's symmetric
    normalisation (kernels include i = j, as the reference's lattice does). float64."""
    h, w, c = logits.shape
    ys, xs = np.mgrid[:h, :w]
    pos = np.stack([xs, ys], -1).reshape(-1, 2).astype(np.float64)
    col = image.reshape(-1, 3).astype(np.float64)
    d_pos = ((pos[:, None] - pos[None]) ** 2).sum(-1)
    d_col = ((col[:, None] - col[None]) ** 2).sum(-1)
    kernels = [
        (w1, np.exp(-d_pos / (2 * theta_alpha**2) - d_col / (2 * theta_beta**2))),
        (w2, np.exp(-d_pos / (2 * theta_gamma**2))),
    ]
    normalised = []
    for weight, k in kernels:
        norm = 1 / np.sqrt(k.sum(1))
        normalised.append((weight, norm[:, None] * k * norm[None]))
    unary = logits.reshape(-1, c).astype(np.float64)
    q = softmax(unary)
    for _ in range(iterations):
        q = softmax(unary + sum(weight * (k @ q) for weight, k in normalised))
    return q.reshape(h, w, c)


def _avg_pool_no_pad_count(x, blur, pad_h, pad_w):
    h, w, c = x.shape
    out_h = (h + 2 * pad_h - blur) // blur + 1
    out_w = (w + 2 * pad_w - blur) // blur + 1
    out = np.zeros((out_h, out_w, c))
    for i in range(out_h):
        for j in range(out_w):
            r0, c0 = i * blur - pad_h, j * blur - pad_w
            window = x[max(r0, 0) : min(r0 + blur, h), max(c0, 0) : min(c0 + blur, w)]
            out[i, j] = window.reshape(-1, c).mean(0)
    return out


def _bilinear_half_pixel(x, out_h, out_w):
    h, w, _ = x.shape

    def coords(n_out, n_in):
        src = np.maximum((np.arange(n_out) + 0.5) * n_in / n_out - 0.5, 0)
        lo = np.minimum(np.floor(src).astype(int), n_in - 1)
        hi = np.minimum(lo + 1, n_in - 1)
        return lo, hi, src - lo

    r_lo, r_hi, r_t = coords(out_h, h)
    c_lo, c_hi, c_t = coords(out_w, w)
    top = x[r_lo][:, c_lo] * (1 - c_t)[None, :, None] + x[r_lo][:, c_hi] * c_t[None, :, None]
    bottom = x[r_hi][:, c_lo] * (1 - c_t)[None, :, None] + x[r_hi][:, c_hi] * c_t[None, :, None]
    return top * (1 - r_t)[:, None, None] + bottom * r_t[:, None, None]


def _window_pairs(ph, pw, span):
    """(i, j, ii, jj, dy, dx) for every grid position and every in-grid neighbour of its window."""
    for dy in range(-span, span + 1):
        for dx in range(-span, span + 1):
            for i in range(ph):
                for j in range(pw):
                    ii, jj = i + dy, j + dx
                    if 0 <= ii < ph and 0 <= jj < pw:
                        yield i, j, ii, jj, dy, dx


def numpy_conv_crf(logits, image, iterations=5, filter_size=7, blur=4, theta_beta=13.0, theta_gamma=3.0, w_col=10.0, w_pos=3.0, weight=0.2):
    """The reference ConvCRF algorithm (GaussCRF, default_conf) written with loops, float64."""
    h, w, c = logits.shape
    pad_h = ((blur - h % blur) % blur + 1) // 2
    pad_w = ((blur - w % blur) % blur + 1) // 2
    mesh = np.stack(np.mgrid[:h, :w], -1).astype(np.float64)
    feats = [(w_pos, mesh / theta_gamma), (w_col, image.astype(np.float64) / theta_beta)]
    span = filter_size // 2
    pooled_feats = [(wt, _avg_pool_no_pad_count(f, blur, pad_h, pad_w)) for wt, f in feats]
    ph, pw = pooled_feats[0][1].shape[:2]
    kernel = np.zeros((ph, pw, filter_size, filter_size))
    for wt, f in pooled_feats:
        for i, j, ii, jj, dy, dx in _window_pairs(ph, pw, span):
            kernel[i, j, dy + span, dx + span] += wt * np.exp(-0.5 * ((f[ii, jj] - f[i, j]) ** 2).sum())
    unary = logits - np.log(np.exp(logits - logits.max(-1, keepdims=True)).sum(-1, keepdims=True)) - logits.max(-1, keepdims=True)
    q = unary
    for _ in range(iterations):
        pooled = _avg_pool_no_pad_count(q, blur, pad_h, pad_w)
        message = np.zeros_like(pooled)
        for i, j, ii, jj, dy, dx in _window_pairs(ph, pw, span):
            message[i, j] += kernel[i, j, dy + span, dx + span] * pooled[ii, jj]
        message = _bilinear_half_pixel(message, ph * blur, pw * blur)[pad_h : pad_h + h, pad_w : pad_w + w]
        q = softmax((1 - weight) * unary + weight * message)
    return q
