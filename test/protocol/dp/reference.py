"""Independent reference computations for the tests of protocol/dp/ (NumPy and SciPy).

Reads one JSON request on stdin, writes one JSON answer on stdout. Nothing here is shared with
the TypeScript code: the formulas are re-typed from the papers cited in each function.
"""
import json
import math
import sys

import numpy as np
from scipy import linalg, optimize, special, stats


def chi2_against(pmf_support, pmf, counts):
    """Pearson chi-square of observed counts (dict value -> count) against a pmf on a support.

    Cells with expected count < 5 are merged into the two tail cells (left and right of the
    central cells), which are dropped if still below 5 expected (their observations then go to
    the nearest central cell)."""
    n = sum(counts.values())
    expected = n * pmf
    keep = np.nonzero(expected >= 5)[0]
    lo, hi = keep.min(), keep.max()
    support = pmf_support
    obs = np.array([counts.get(int(x), 0) for x in support[lo:hi + 1]], dtype=float)
    exp = expected[lo:hi + 1].copy()
    left_obs = sum(c for v, c in counts.items() if v < support[lo])
    right_obs = sum(c for v, c in counts.items() if v > support[hi])
    outside = sum(c for v, c in counts.items() if v < support[0] or v > support[-1])
    left_exp, right_exp = expected[:lo].sum(), expected[hi + 1:].sum()
    cells_obs, cells_exp = list(obs), list(exp)
    if left_exp >= 5:
        cells_obs.insert(0, left_obs)
        cells_exp.insert(0, left_exp)
    else:
        cells_obs[0] += left_obs
        cells_exp[0] += left_exp
    if right_exp >= 5:
        cells_obs.append(right_obs)
        cells_exp.append(right_exp)
    else:
        cells_obs[-1] += right_obs
        cells_exp[-1] += right_exp
    cells_exp = np.array(cells_exp) * (n / np.sum(cells_exp))
    stat, p = stats.chisquare(cells_obs, cells_exp)
    return {"p": float(p), "stat": float(stat), "cells": len(cells_obs), "outside": outside}


def discrete_gaussian_pmf(sigma2, support):
    # CKS 2020, Definition 1: P[x] proportional to exp(-x^2 / (2 sigma^2)) on the integers.
    w = np.exp(-support.astype(float) ** 2 / (2 * sigma2))
    return w / w.sum()


def op_dgauss_chi2(req):
    sigma2 = req["sigma2"][0] / req["sigma2"][1]
    sigma = math.sqrt(sigma2)
    half = int(math.ceil(14 * sigma)) + 10
    support = np.arange(-half, half + 1)
    counts = {int(k): v for k, v in req["counts"].items()}
    if req.get("model", "discrete") == "discrete":
        pmf = discrete_gaussian_pmf(sigma2, support)
    else:  # the continuous Gaussian rounded to the nearest integer
        pmf = stats.norm.cdf((support + 0.5) / sigma) - stats.norm.cdf((support - 0.5) / sigma)
        pmf = pmf / pmf.sum()
    out = chi2_against(support, pmf, counts)
    out["variance"] = float(np.sum(pmf * support.astype(float) ** 2))
    return out


def op_dlaplace_chi2(req):
    t, s = req["scale"]
    scale = t / s
    half = int(math.ceil(40 * scale)) + 10
    support = np.arange(-half, half + 1)
    # CKS 2020, Definition 28: P[x] proportional to exp(-|x| / scale).
    w = np.exp(-np.abs(support) / scale)
    pmf = w / w.sum()
    counts = {int(k): v for k, v in req["counts"].items()}
    return chi2_against(support, pmf, counts)


def op_bernoulli_exp(req):
    num, den = req["gamma"]
    p = math.exp(-num / den)
    res = stats.binomtest(req["successes"], req["trials"], p)
    return {"p": float(res.pvalue), "prob": p}


def op_hadamard(req):
    x = np.array(req["x"], dtype=float)
    signs = np.array(req["signs"], dtype=float)
    d = len(signs)
    padded = np.zeros(d)
    padded[: len(x)] = x
    h = linalg.hadamard(d).astype(float)
    y = h @ (signs * padded) / math.sqrt(d)
    back = signs * (h @ y) / math.sqrt(d)
    return {"y": y.tolist(), "back": back[: len(x)].tolist()}


def op_batch(req):
    """Several requests in one process (SciPy takes a second to import)."""
    return [run(r) for r in req["requests"]]


def run(req):
    return globals()["op_" + req["op"]](req)


def main():
    json.dump(run(json.load(sys.stdin)), sys.stdout)


main()
