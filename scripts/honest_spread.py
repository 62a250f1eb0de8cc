#!/usr/bin/env python3
"""The honest spread H of real training: how far the learning benchmark's honest updates are from
their shared direction, in the terms of the simulator's model (protocol/sim/honest_updates.ts).

    /usr/bin/python3 scripts/honest_spread.py [--members 12] [--seed 1] [--rounds 20]
        [--model logreg] [--epochs 1] [--json]

The simulator draws member i's update as u_i = μ + ε_i, a shared direction μ and a per-member
part ε_i with ‖ε_i‖ ≈ H·‖μ‖. Here the u_i are the real thing: each round, every member of
`deno task learn`'s recipe (examples/digits.py: scikit-learn digits, the benchmark's non-IID
Dirichlet(0.5) split, its model, local epochs, seeds and ±clip) trains from the global model, and
the global model then moves by plain weighted FedAvg of those updates, exactly as the benchmark's
no-attack baseline does. From the n updates of a round (flattened, clipped as sent):

    ū  = (1/n) Σ u_i                      the members' mean
    S² = Σ ‖u_i − ū‖² / (n − 1)           per-member spread energy, unbiased for E‖ε_i‖²
    M² = ‖ū‖² − S²/n                      shared direction's energy, unbiased for ‖μ‖²
    H  = √(S² / M²)                       (∞ when M² ≤ 0: no shared direction left)

Also printed: Hraw = √((1/n) Σ ‖u_i − ū‖²) / ‖ū‖ (no finite-n correction), the weighted-mean
norm and the test accuracy after the round. Unweighted, as the simulator's H is per member.

The model is a statement about norms only: real ε_i are not isotropic Gaussian, and under a
non-IID split they persist across rounds (a member's data pulls the same way every round), which
the simulator's fresh per-round draws do not model.
"""
import argparse
import json
import math
import os
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "examples"))

import digits  # noqa: E402


def spread(updates):
    """``(H, Hraw, mean_norm)`` of the rows of ``updates`` (n × d, n ≥ 2), as in the module doc.
    Refuses fewer than two updates (ValueError)."""
    u = np.asarray(updates, dtype=np.float64)
    if u.ndim != 2 or u.shape[0] < 2:
        raise ValueError(f"spread needs an n × d array with n ≥ 2, got shape {u.shape}")
    n = u.shape[0]
    mean = u.mean(axis=0)
    dev = float(np.sum((u - mean) ** 2))
    s2 = dev / (n - 1)
    m2 = float(mean @ mean) - s2 / n
    h = math.sqrt(s2 / m2) if m2 > 0 else math.inf
    raw = math.sqrt(dev / n) / math.sqrt(float(mean @ mean)) if mean.any() else math.inf
    return h, raw, math.sqrt(float(mean @ mean))


def flat(delta):
    return np.concatenate([np.ravel(v) for v in delta.values()])


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--members", type=int, default=12)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--rounds", type=int, default=20)
    p.add_argument("--model", default="logreg", choices=["logreg", "mlp"])
    p.add_argument("--epochs", type=int, default=1)
    p.add_argument("--json", action="store_true")
    a = p.parse_args()
    recipe = digits.Recipe(a.members, a.seed, a.model, a.epochs)
    params = recipe.init()
    members = list(range(a.members))
    weights = [recipe.weight(m) for m in members]
    rows = []
    for r in range(a.rounds):
        deltas = [recipe.update(params, m, r) for m in members]
        h, raw, _ = spread([flat(d) for d in deltas])
        mean = digits.fedavg(deltas, weights)
        params = {k: params[k] + mean[k] for k in params}
        rows.append({"round": r, "H": h, "Hraw": raw,
                     "weightedMeanNorm": float(np.linalg.norm(flat(mean))),
                     "accuracy": recipe.accuracy(params)})
    if a.json:
        print(json.dumps({"members": a.members, "seed": a.seed, "model": a.model,
                          "epochs": a.epochs, "rounds": rows}))
        return
    print(f"{a.members} members, seed {a.seed}, model {a.model}, {a.epochs} epoch(s)")
    print("round      H   Hraw  ‖weighted mean‖  accuracy")
    for row in rows:
        print(f"{row['round']:5d} {row['H']:6.3f} {row['Hraw']:6.3f} {row['weightedMeanNorm']:15.4f}"
              f" {100 * row['accuracy']:8.2f} %")


if __name__ == "__main__":
    main()
