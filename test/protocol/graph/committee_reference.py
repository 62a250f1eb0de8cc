"""Independent reference for the approval committee's size and quorum (SciPy).

Reads one JSON request {"cases": [{"n", "corrupt", "dropouts", "sigma", "eta"}, ...]} on stdin and
writes, for each case, the smallest committee s (tried from 16, by 4 below 256, then by 16) with
the smallest quorum q >= floor(s/2) + 1 such that

  P[X_c >= 2q - s] <= 2^-sigma,  X_c ~ Hypergeom(n, c, s)   (two quorums share an honest member)
  P[X_{c+D} > s - q] <= 2^-eta,  X_{c+D} ~ Hypergeom(n, c + D, s)   (t_C honest survivors)

with both log2 tails, or null when no s < n works. Only scipy.stats.hypergeom's log survival
function is used: nothing is shared with protocol/graph/committee.ts.
"""
import json
import math
import sys

from scipy import stats


def log2_tail(n, marked, draws, at_least):
    """log2 P[X >= at_least] for X ~ Hypergeom(population n, marked, draws)."""
    if at_least <= 0:
        return 0.0
    return float(stats.hypergeom(n, marked, draws).logsf(at_least - 1)) / math.log(2)


def finite(x):
    """JSON has no -Infinity: an impossible event is null."""
    return None if x == -math.inf else x


def committee(n, c, dropouts, sigma, eta):
    s = 16
    while s < n:
        q = s // 2 + 1
        while q <= s and log2_tail(n, c, s, 2 * q - s) > -sigma:
            q += 1
        if q <= s:
            live = log2_tail(n, c + dropouts, s, s - q + 1)
            if live <= -eta:
                return {
                    "size": s,
                    "quorum": q,
                    "log2Intersection": finite(log2_tail(n, c, s, 2 * q - s)),
                    "log2Liveness": finite(live),
                }
        s += 4 if s < 256 else 16
    return None


def main():
    request = json.load(sys.stdin)
    out = [committee(k["n"], k["corrupt"], k["dropouts"], k["sigma"], k["eta"])
           for k in request["cases"]]
    json.dump(out, sys.stdout, allow_nan=False)


main()
