#!/usr/bin/env python3
"""A minimal fedagg trainer: the loop every member runs beside its local `fedagg run`.

Each round it "trains" (here: a few steps of least squares on local synthetic data, or any
update you plug in), hands its update to the local node, waits until the round's aggregate is
final, downloads it and applies it. Standard library only; uses numpy when it is installed.

    python3 examples/trainer.py --dir NODE_DIR --rounds 3 --dim 1000 [--num-samples N]

--num-samples weights this member's update in the mean; it must be at most the roster's
maxWeight (`roster create --max-weight`, default 1), or the node refuses the update with 422.
NODE_DIR is the node's directory: the API token is read from NODE_DIR/api.token and the API
URL from NODE_DIR/api.json (written by `fedagg run`).
"""
import argparse
import array
import json
import math
import random
import sys
import time
import urllib.error
import urllib.request

try:
    import numpy as np
except ImportError:  # numpy is optional
    np = None


class Node:
    """The local fedagg node's trainer API."""

    def __init__(self, node_dir):
        with open(f"{node_dir}/api.token") as f:
            self.token = f.read().strip()
        with open(f"{node_dir}/api.json") as f:
            self.url = json.load(f)["url"]

    def _request(self, method, path, body=None, content_type=None):
        req = urllib.request.Request(self.url + path, data=body, method=method)
        req.add_header("Authorization", f"Bearer {self.token}")
        if content_type:
            req.add_header("Content-Type", content_type)
        try:
            with urllib.request.urlopen(req, timeout=60) as res:
                return res.status, dict(res.headers), res.read()
        except urllib.error.HTTPError as err:
            return err.code, dict(err.headers), err.read()

    def submit(self, round_, update, num_samples):
        """Sends this member's update (raw little-endian float32) for `round_`."""
        body = update_bytes(update)
        status, _, text = self._request(
            "POST", f"/v1/rounds/{round_}/update?num_samples={num_samples}", body,
            "application/octet-stream")
        if status != 202:
            raise RuntimeError(f"update refused ({status}): {text.decode()}")

    def final_aggregate(self, round_, timeout=600):
        """Waits until the round's aggregate is final and returns the weighted mean."""
        deadline = time.time() + timeout
        while time.time() < deadline:
            status, headers, body = self._request("GET", f"/v1/rounds/{round_}/aggregate?format=raw")
            final = {k.lower(): v for k, v in headers.items()}.get("x-fedagg-final") == "true"
            if status == 200 and final:
                members = {k.lower(): v for k, v in headers.items()}.get("x-fedagg-members", "")
                return bytes_to_floats(body), [m for m in members.split(",") if m]
            if status not in (200, 404):
                raise RuntimeError(f"aggregate unavailable ({status}): {body.decode()}")
            time.sleep(0.5)  # or subscribe to /v1/events (server-sent events)
        raise TimeoutError(f"round {round_} did not become final within {timeout} s")


def update_bytes(update):
    if np is not None:
        return np.asarray(update, dtype="<f4").tobytes()
    a = array.array("f", update)
    if sys.byteorder == "big":
        a.byteswap()
    return a.tobytes()


def bytes_to_floats(data):
    if np is not None:
        return np.frombuffer(data, dtype="<f4").copy()
    a = array.array("f")
    a.frombytes(data)
    if sys.byteorder == "big":
        a.byteswap()
    return list(a)


def local_step(weights, rng, samples, lr=0.1):
    """One round of local training on synthetic data; returns the update (new - old)."""
    dim = len(weights)
    # Local data: y = <w*, x> + noise with a fixed true w* shared by all members.
    true_w = [math.sin(j) for j in range(dim)]
    grad = [0.0] * dim
    for _ in range(samples):
        x = [rng.gauss(0, 1) for _ in range(dim)]
        err = sum(w * xi for w, xi in zip(weights, x)) - sum(t * xi for t, xi in zip(true_w, x))
        for j in range(dim):
            grad[j] += err * x[j] / samples
    # Clip each coordinate to the roster's range (default clip 1).
    return [max(-1.0, min(1.0, -lr * g)) for g in grad]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dir", required=True, help="the node directory")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--dim", type=int, required=True, help="the roster's d")
    parser.add_argument("--first-round", type=int, default=0)
    parser.add_argument("--num-samples", type=int, default=1,
                        help="this member's sample count (≤ the roster's maxWeight)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    node = Node(args.dir)
    rng = random.Random(args.seed)
    weights = [0.0] * args.dim
    for r in range(args.first_round, args.first_round + args.rounds):
        update = local_step(weights, rng, samples=max(1, min(args.num_samples, 20)))
        node.submit(r, update, args.num_samples)
        mean, members = node.final_aggregate(r)
        weights = [w + float(m) for w, m in zip(weights, mean)]
        print(f"round {r}: aggregate of {len(members)} members applied; "
              f"|w| = {math.sqrt(sum(w * w for w in weights)):.4f}", flush=True)


if __name__ == "__main__":
    main()
