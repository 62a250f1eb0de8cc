#!/usr/bin/python3
"""Sums V8 CPU profiles (.cpuprofile, as written by `deno run --cpu-prof`) by function.

    /usr/bin/python3 scripts/cpu_profile_self.py [--top N] [--total] [--count] FILE_OR_DIR...

Every argument is a .cpuprofile file or a directory searched for them; all of them are summed
together (pass one node's directory to see one process: its main isolate and its workers).
Prints, per function (name, file, line), the self time in ms (samples whose leaf is that
function, weighted by the sample's time delta) and, with --total, the inclusive time (samples
with that function anywhere on the stack, counted once per sample). "(garbage collector)",
"(program)" and "(idle)" are V8's own pseudo-frames; idle time is left out of the percentages.
"""
import argparse
import json
import os
import sys
from collections import defaultdict


def profiles(paths):
    for p in paths:
        if os.path.isdir(p):
            for root, _, files in os.walk(p):
                for f in sorted(files):
                    if f.endswith(".cpuprofile"):
                        yield os.path.join(root, f)
        else:
            yield p


def key(frame):
    url = frame.get("url", "")
    short = url.rsplit("/", 2)
    short = "/".join(short[-2:]) if len(short) > 1 else url
    return f"{frame.get('functionName') or '(anonymous)'}  {short}:{frame.get('lineNumber', -1) + 1}"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("paths", nargs="+")
    ap.add_argument("--top", type=int, default=40)
    ap.add_argument("--total", action="store_true")
    ap.add_argument(
        "--count",
        action="store_true",
        help="weigh every sample as the median sampling interval instead of by its time delta (less distorted when the "
        "process waited for a core: a delta then spans time it did not run)",
    )
    a = ap.parse_args()
    self_us = defaultdict(float)
    total_us = defaultdict(float)
    busy = 0.0
    files = 0
    for path in profiles(a.paths):
        files += 1
        with open(path) as f:
            prof = json.load(f)
        nodes = {n["id"]: n for n in prof["nodes"]}
        parent = {}
        for n in prof["nodes"]:
            for c in n.get("children", []):
                parent[c] = n["id"]
        samples = prof.get("samples", [])
        deltas = prof.get("timeDeltas", [])
        # The sampling interval, taken as the median gap between samples.
        interval = sorted(deltas)[len(deltas) // 2] if deltas else 0
        # timeDeltas[i] is the time before sample i; weight sample i by the gap to the next one.
        for i, sid in enumerate(samples):
            dt = deltas[i + 1] if i + 1 < len(deltas) else 0
            if dt < 0:
                dt = 0
            if a.count:
                dt = interval
            frame = nodes[sid]["callFrame"]
            k = key(frame)
            self_us[k] += dt
            if frame.get("functionName") != "(idle)":
                busy += dt
            if a.total:
                seen = set()
                n = sid
                while n is not None:
                    kk = key(nodes[n]["callFrame"])
                    if kk not in seen:
                        seen.add(kk)
                        total_us[kk] += dt
                    n = parent.get(n)
    if files == 0:
        sys.exit("no .cpuprofile found")
    if busy == 0:
        sys.exit(f"{files} profiles, no busy (non-idle) samples")
    print(f"{files} profiles, busy (non-idle) {busy / 1000:.0f} ms")
    table = total_us if a.total else self_us
    label = "total" if a.total else "self"
    for k, us in sorted(table.items(), key=lambda kv: -kv[1])[: a.top]:
        print(f"{us / 1000:9.1f} ms {100 * us / busy:5.1f} %  {label}  {k}")


if __name__ == "__main__":
    main()
