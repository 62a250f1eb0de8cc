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


def op_binomial(req):
    num, den = req["p"]
    prob = num / den
    return {"p": float(stats.binomtest(req["successes"], req["trials"], prob).pvalue), "prob": prob}


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


def op_dp_decode(req):
    """The leader's side of DDGauss: the sum's words mod 2^bits read as signed integers (Python
    integers: no wrap), times gamma, rotated back with scipy's Hadamard matrix, truncated to d."""
    bits = req["bits"]
    words = [int(w) % (1 << bits) for w in req["words"]]
    signed = np.array([w - (1 << bits) if w >= (1 << (bits - 1)) else w for w in words], dtype=float)
    signs = np.array(req["signs"], dtype=float)
    n = len(signs)
    h = linalg.hadamard(n).astype(float)
    x = signs * (h @ (signed * req["gamma"])) / math.sqrt(n)
    return {"signed": signed.tolist(), "x": x[: req["d"]].tolist()}


# ---- DDGauss (Kairouz, Liu, Steinke, ICML 2021, arXiv:2102.06387), re-typed from the paper ----


def op_erfc(req):
    return {
        "erfc": [float(special.erfc(x)) for x in req["x"]],
        "erfcinv": [float(special.erfcinv(p)) for p in req["p"]],
    }


def norm_bound(clip_steps, dim, beta):
    # Theorem 1's Delta_2 (in steps): conditional randomized rounding with parameter beta.
    always = clip_steps + math.sqrt(dim)
    if beta == 0:
        return always
    sq = clip_steps ** 2 + dim / 4 + math.sqrt(2 * math.log(1 / beta)) * (clip_steps + math.sqrt(dim) / 2)
    return min(always, math.sqrt(sq))


def op_norm_bound(req):
    return [norm_bound(c, d, b) for c, d, b in req["cases"]]


def k_stddevs(p):
    # Two-sided Gaussian tail: P(|X| > k sigma) = erfc(k / sqrt 2) = p.
    return math.sqrt(2) * special.erfcinv(p)


def granularity(bits, p, clip, n, dim, local_std):
    # Section 4.4 heuristic: 2^b = 2k sqrt(c^2 n^2 / D + n (gamma^2/4 + sigma^2)) / gamma, solved
    # for gamma here with brentq on the equation itself (not the closed form the code uses).
    k = k_stddevs(p)

    def gap(u):  # gamma = e^u
        gamma = math.exp(u)
        return 2 * k * math.sqrt(clip ** 2 * n ** 2 / dim + n * (gamma ** 2 / 4 + local_std ** 2)) / gamma - 2 ** bits

    return math.exp(optimize.brentq(gap, -150, 150, xtol=1e-15, rtol=1e-15, maxiter=2000))


def modclip(bits, clip, n, dim, local_std, gamma):
    std = math.sqrt(clip ** 2 * n ** 2 / dim + n * (gamma ** 2 / 4 + local_std ** 2)) / gamma
    return float(special.erfc(2 ** (bits - 1) / (std * math.sqrt(2))))


def op_granularity(req):
    out = []
    for bits, p, clip, n, dim, local_std in req["cases"]:
        g = granularity(bits, p, clip, n, dim, local_std)
        out.append({"gamma": g, "modclip": modclip(bits, clip, n, dim, local_std, g)})
    return out


def tau(local_var, n):
    # Proposition 14: tau = 10 sum_{k=1}^{n-1} exp(-2 pi^2 sigma^2 k / (k + 1)).
    k = np.arange(1, n, dtype=float)
    return float(10 * np.sum(np.exp(-2 * math.pi ** 2 * local_var * k / (k + 1))))


def ddgauss_rho(l2, local_std, n, dim):
    # Proposition 14: D_alpha <= min(alpha Delta2^2/(2 n s^2) + tau d,
    #   alpha/2 (Delta2^2/(n s^2) + 2 Delta1 tau/(sqrt(n) s) + tau^2 d),
    #   alpha/2 (Delta2/(sqrt(n) s) + tau sqrt(d))^2); rho is the smallest coefficient of alpha
    # valid for all alpha >= 1 (the alpha-free tau d counted as alpha tau d).
    t = tau(local_std ** 2, n)
    l1 = l2 * min(math.sqrt(dim), l2)
    a = l2 ** 2 / (2 * n * local_std ** 2) + t * dim
    b = 0.5 * (l2 ** 2 / (n * local_std ** 2) + 2 * l1 * t / (math.sqrt(n) * local_std) + t ** 2 * dim)
    c = 0.5 * (l2 / (math.sqrt(n) * local_std) + t * math.sqrt(dim)) ** 2
    return {"tau": t, "rho": min(a, b, c)}


def op_ddgauss_rho(req):
    return [ddgauss_rho(*case) for case in req["cases"]]


def zcdp_epsilon(rho, delta):
    # CKS 2020 (arXiv:2004.00010), conversion of rho-zCDP to (eps, delta)-DP:
    # delta = inf_{alpha>1} exp((alpha-1)(alpha rho - eps)) / (alpha-1) * (1-1/alpha)^alpha,
    # solved here for delta(eps) = target with brentq (the TypeScript solves the eps form).
    if rho == 0:
        return 0.0

    def log_delta(eps):
        def g(u):  # alpha = 1 + e^u; log of the delta expression
            a = 1 + np.exp(u)
            return (a - 1) * (a * rho - eps) - np.log(a - 1) + a * np.log1p(-1 / a)
        grid = np.linspace(-30, 30, 3001)
        u0 = grid[np.argmin(g(grid))]
        r = optimize.minimize_scalar(g, bounds=(u0 - 0.05, u0 + 0.05), method="bounded",
                                     options={"xatol": 1e-12})
        return float(min(r.fun, g(u0)))

    target = math.log(delta)
    hi = rho + 2 * math.sqrt(rho * math.log(1 / delta)) + 1
    if log_delta(0) <= target:
        return 0.0
    return optimize.brentq(lambda e: log_delta(e) - target, 0, hi, xtol=1e-15, rtol=1e-13)


def op_zcdp_epsilon(req):
    return [zcdp_epsilon(rho, delta) for rho, delta in req["cases"]]


def op_epsilon_to_rho(req):
    out = []
    for eps, delta in req["cases"]:
        out.append(optimize.brentq(lambda r: zcdp_epsilon(r, delta) - eps, 1e-12, eps,
                                   xtol=1e-16, rtol=1e-13))
    return out


def op_plan_check(req):
    """Recomputes a plan's privacy from its sigma with the formulas above."""
    s = req["settings"]
    plan = req["plan"]
    n, t, c = s["members"], s["threshold"], s["corrupt"]
    dim = 1
    while dim < s["dim"]:
        dim *= 2
    local_std = plan["sigma"] / math.sqrt(t - c)
    # The plan's cap: at most 2^24 steps per clip.
    gamma = max(granularity(s["bits"], s["modclipProb"], s["clip"], n, dim, local_std), s["clip"] / 2 ** 24)
    l2 = norm_bound(s["clip"] / gamma, dim, s["beta"])
    r = ddgauss_rho(l2, local_std / gamma, t - c, dim)
    rho_total = r["rho"] * s["rounds"]
    return {
        "paddedDim": dim,
        "localStd": local_std,
        "gamma": gamma,
        "l2Bound": l2,
        "tau": r["tau"],
        "rhoPerRound": r["rho"],
        "epsilon": zcdp_epsilon(rho_total, s["delta"]),
        "rhoBudget": op_epsilon_to_rho({"cases": [[s["epsilon"], s["delta"]]]})[0],
        "modclip": modclip(s["bits"], s["clip"], n, dim, local_std, gamma),
    }


# ---- Google's per-order RDP of the distributed discrete Gaussian, as a second opinion ----
# google-research/federated, distributed_dp/accounting_utils.py: compute_rdp_dgaussian's eps(order)
# and ddgauss_epsilon's tau, re-typed here in its terms (scales = sensitivity / (sqrt(n) * sigma),
# all in integer steps). It bounds the Renyi divergence at each integer order alpha > 1; a zCDP
# rho is sound for it when alpha * rho >= eps(alpha) at every order.

GOOGLE_ORDERS = range(2, 257)


def google_tau(local_std_steps, n):
    k = np.arange(1, n, dtype=float)
    return 10.0 * float(np.sum(np.exp(-2.0 * (math.pi * local_std_steps) ** 2 * (k / (k + 1)))))


def google_rdp(order, l1_scale, l2_scale, tau_value, dim):
    first = (order / 2.0) * l2_scale ** 2 + tau_value * dim
    second = (order / 2.0) * (l2_scale ** 2 + 2 * l1_scale * tau_value + tau_value ** 2 * dim)
    third = (order / 2.0) * (l2_scale + math.sqrt(dim) * tau_value) ** 2
    return min(first, second, third)


def op_google_rdp_check(req):
    """For each case [l2, local_std_steps, n, dim, rho]: the least alpha * rho / eps(alpha) over
    alpha = 2..256 and where it is reached (>= 1 means rho covers Google's bound)."""
    out = []
    for l2, local_std, n, dim, rho in req["cases"]:
        l1 = l2 * min(math.sqrt(dim), l2)  # rounded_l1_norm_bound
        root = math.sqrt(n) * local_std
        t = google_tau(local_std, n)
        ratios = [(order * rho / google_rdp(order, l1 / root, l2 / root, t, dim), order)
                  for order in GOOGLE_ORDERS]
        worst, at = min(ratios)
        out.append({"ratio": worst, "order": at, "tau": t})
    return out


def op_batch(req):
    """Several requests in one process (SciPy takes a second to import)."""
    return [run(r) for r in req["requests"]]


def run(req):
    return globals()["op_" + req["op"]](req)


def main():
    json.dump(run(json.load(sys.stdin)), sys.stdout)


main()
