#!/usr/bin/env python3
"""Plots a `deno task learn --json` run: the global model's test accuracy per round through
fedagg next to the float64 FedAvg baseline, rounds with killed members marked.

    deno task learn --torch --nodes 3 --rounds 15 --drop 1 --json > run.jsonl
    python3 scripts/learn_plot.py run.jsonl docs/img/learn-torch.png

Reads the last line of the input file (or stdin with "-"); needs matplotlib (python3-matplotlib).
"""
import json
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    source = sys.stdin if sys.argv[1] == "-" else open(sys.argv[1])
    run = json.loads([line for line in source if line.strip()][-1])
    rounds = [r["round"] + 1 for r in run["rounds"]]
    fig, ax = plt.subplots(figsize=(7, 4), dpi=110)
    ax.plot(rounds, [100 * r["baselineAccuracy"] for r in run["rounds"]], "o-", color="0.6",
            lw=3, label="plain FedAvg, float64, one process (same seeds and dropouts)")
    ax.plot(rounds, [100 * r["accuracy"] for r in run["rounds"]], "s--", color="C0", ms=4,
            label=f"through fedagg ({run['nodes']} nodes, secure aggregation)")
    dropped = [r for r in run["rounds"] if r["dropped"]]
    if dropped:
        ax.plot([r["round"] + 1 for r in dropped], [100 * r["accuracy"] for r in dropped], "x",
                color="C3", ms=8, label="round with members killed mid-round")
    kills = f", {run['drop']} member(s)" + (" and the leader" if run.get("killLeader") else "")
    ax.set_title(f"digits, non-IID (Dirichlet 0.5), model {run['model']} (d = {run['dim']}), "
                 f"seed {run['seed']}{kills + ' killed per round' if run['drop'] or run.get('killLeader') else ''}",
                 fontsize=9)
    ax.set_xlabel("round")
    ax.set_ylabel("test accuracy of the global model (%)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="lower right")
    ax.text(0.02, 0.97, f"final: fedagg {100 * run['finalAccuracy']:.2f} %, "
            f"baseline {100 * run['baselineAccuracy']:.2f} %", transform=ax.transAxes,
            va="top", fontsize=8)
    fig.tight_layout()
    fig.savefig(sys.argv[2])
    print(f"wrote {sys.argv[2]}")


if __name__ == "__main__":
    main()
