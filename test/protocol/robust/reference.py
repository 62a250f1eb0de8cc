"""Independent reference of the robust rules of protocol/robust/ (NumPy), for the tests there.

Reads one JSON request on stdin, writes one JSON answer on stdout. Written from the papers and
from docs/protocol.md ("Robust rules"), not from the TypeScript: the rules are vectorized over
coordinates (an (d, g) array sorted with np.lexsort, sums over groups as one vector addition per
group), where the TypeScript loops coordinate by coordinate. Where the spec fixes the order of
float operations this follows it, so the answers are compared bit for bit (as big-endian hex);
`natural` answers use NumPy's and SciPy's own routines (np.median, scipy.stats.trim_mean), whose
summation order differs, and are compared to 1e-12 relative.

Papers: Yin et al. 2018 (coordinate-wise median, trimmed mean, arXiv:1803.01498); Blanchard et
al. 2017 (Krum, Multi-Krum, arXiv:1703.02757); El Mhamdi et al. 2018 (Bulyan, arXiv:1802.07927);
Pillutla et al. 2022 (RFA, smoothed Weiszfeld, arXiv:1912.13445).
"""
import json
import math
import sys

import numpy as np


def hexes(v):
    return np.asarray(v, dtype=">f8").tobytes().hex()


def sorted_columns(X):
    """(d, g) index array: per coordinate, the groups ordered by (value, index)."""
    g, d = X.shape
    values = X.T  # (d, g)
    index = np.broadcast_to(np.arange(g), (d, g))
    # np.lexsort sorts by the last key first: value, then index.
    return np.lexsort((index, values), axis=-1)


def median_of_sorted(S):
    """S: (rows, count) sorted values; the middle one, or (a + b) / 2."""
    count = S.shape[1]
    mid = count // 2
    if count % 2 == 1:
        return S[:, mid].copy()
    return (S[:, mid - 1] + S[:, mid]) / 2


def seq_sum_sq(t):
    """Sum of t*t in coordinate order (np.add.accumulate is sequential; np.sum is pairwise)."""
    if t.size == 0:
        return 0.0
    return float(np.add.accumulate(t * t)[-1])


def median_rule(X):
    g, d = X.shape
    order = sorted_columns(X)
    S = np.take_along_axis(X.T, order, axis=1)
    result = median_of_sorted(S)
    count = np.zeros(g)
    mid = g // 2
    np.add.at(count, order[:, mid], 1)
    if g % 2 == 0:
        np.add.at(count, order[:, mid - 1], 1)
    s = 1 if g % 2 == 1 else 2
    return result, count / (s * d)


def trimmed_rule(X, beta):
    g, d = X.shape
    k = math.floor(beta * g)
    s = g - 2 * k
    order = sorted_columns(X)
    S = np.take_along_axis(X.T, order, axis=1)
    acc = np.zeros(d)
    count = np.zeros(g)
    for r in range(k, g - k):
        acc = acc + S[:, r]
        np.add.at(count, order[:, r], 1)
    return acc / s, count / (s * d)


def sq_distances(X):
    g = X.shape[0]
    D = np.zeros((g, g))
    for i in range(g):
        for k in range(i + 1, g):
            D[i, k] = D[k, i] = seq_sum_sq(X[i] - X[k])
    return D


def krum_scores(D, members, f):
    c = max(0, len(members) - f - 2)
    scores = []
    for i in members:
        row = np.sort(np.array([D[i, k] for k in members if k != i]))
        acc = 0.0
        for b in range(c):
            acc = acc + row[b]
        scores.append(acc)
    return scores


def krum_best_first(scores, members):
    return sorted(range(len(members)), key=lambda a: (scores[a], members[a]))


def multi_krum_rule(X, f, m):
    g, d = X.shape
    assert g > 2 * f + 2 and 1 <= m <= g - f
    members = list(range(g))
    scores = krum_scores(sq_distances(X), members, f)
    selected = sorted(members[a] for a in krum_best_first(scores, members)[:m])
    acc = np.zeros(d)
    for i in selected:
        acc = acc + X[i]
    w = np.zeros(g)
    w[selected] = 1 / m
    return acc / m, w


def bulyan_rule(X, f):
    g, d = X.shape
    assert g >= 4 * f + 3
    theta, beta = g - 2 * f, g - 4 * f
    D = sq_distances(X)
    remaining, selected = list(range(g)), []
    while len(selected) < theta:
        scores = krum_scores(D, remaining, f)
        best = krum_best_first(scores, remaining)[0]
        selected.append(remaining.pop(best))
    sel = np.array(sorted(selected))
    Y = X[sel]  # (theta, d), rows in ascending group index
    order = sorted_columns(Y)
    S = np.take_along_axis(Y.T, order, axis=1)
    mu = median_of_sorted(S)
    dev = np.abs(Y.T - mu[:, None])  # (d, theta)
    idx = np.broadcast_to(np.arange(theta), dev.shape)
    close = np.lexsort((idx, dev), axis=-1)[:, :beta]  # positions into sel, ties by index
    acc = np.zeros(d)
    count = np.zeros(g)
    for b in range(beta):
        acc = acc + np.take_along_axis(Y.T, close[:, b:b + 1], axis=1)[:, 0]
        np.add.at(count, sel[close[:, b]], 1)
    return acc / beta, count / (beta * d), selected


def geomedian_rule(X, iterations, nu):
    g, d = X.shape
    v, _ = median_rule(X)
    w = np.zeros(g)
    total = 0.0
    for _ in range(iterations):
        w = np.array([1 / max(nu, math.sqrt(seq_sum_sq(v - X[i]))) for i in range(g)])
        total = 0.0
        for i in range(g):
            total = total + w[i]
        acc = np.zeros(d)
        for i in range(g):
            acc = acc + w[i] * X[i]
        nxt = acc / total
        same = bool(np.all(nxt == v))
        v = nxt
        if same:
            break
    return v, w / total


def need(rule):
    kind = rule["kind"]
    if kind == "multi-krum":
        return max(2 * rule["f"] + 3, rule["f"] + rule["m"])
    if kind == "bulyan":
        return 4 * rule["f"] + 3
    return 1


def norm_filter(X, tau, keep_at_least):
    g = X.shape[0]
    c, _ = median_rule(X)
    dist = np.array([math.sqrt(seq_sum_sq(X[i] - c)) for i in range(g)])
    order = np.lexsort((np.arange(g), dist))
    M = median_of_sorted(dist[order][None, :])[0]
    kept = [i for i in range(g) if dist[i] <= tau * M]
    if len(kept) < keep_at_least:
        kept = sorted(int(i) for i in order[:keep_at_least])
    return kept


def combine(rule, X):
    g = X.shape[0]
    kept_by_filter = list(range(g))
    if rule.get("normFilter") is not None:
        kept_by_filter = norm_filter(X, rule["normFilter"]["tau"], need(rule))
    Y = X[kept_by_filter]
    kind = rule["kind"]
    if kind == "median":
        r, w = median_rule(Y)
    elif kind == "trimmed-mean":
        r, w = trimmed_rule(Y, rule["beta"])
    elif kind == "multi-krum":
        r, w = multi_krum_rule(Y, rule["f"], rule["m"])
    elif kind == "bulyan":
        r, w, _ = bulyan_rule(Y, rule["f"])
    elif kind == "geomedian":
        r, w = geomedian_rule(Y, rule["iterations"], rule["nu"])
    else:
        raise ValueError(kind)
    weights = np.zeros(g)
    weights[kept_by_filter] = w
    return {
        "result": hexes(r),
        "weights": hexes(weights),
        "kept": [i for i in range(g) if weights[i] > 0],
        "filtered": [i for i in range(g) if i not in kept_by_filter],
    }


def natural(rule, X):
    """NumPy's/SciPy's own routines, other summation orders: compared to 1e-12 relative."""
    kind = rule["kind"]
    if kind == "median":
        return {"result": np.median(X, axis=0).tolist()}
    if kind == "trimmed-mean":
        from scipy import stats
        return {"result": stats.trim_mean(X, rule["beta"], axis=0).tolist()}
    raise ValueError(kind)


def op(req):
    X = np.array(req["means"], dtype=np.float64)
    if req["op"] == "combine":
        return combine(req["rule"], X)
    if req["op"] == "natural":
        return natural(req["rule"], X)
    if req["op"] == "bulyan_selection":
        return {"selected": bulyan_rule(X, req["f"])[2]}
    raise ValueError(req["op"])


def main():
    req = json.load(sys.stdin)
    if req["op"] == "batch":
        out = [op(r) for r in req["requests"]]
    else:
        out = op(req)
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
