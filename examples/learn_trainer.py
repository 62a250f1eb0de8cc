#!/usr/bin/env python3
"""The Python side of `deno task learn` (scripts/learn.ts): one member's trainer, the baseline,
and the recipe's figures. Not meant to be run by hand.

    learn_trainer.py describe --members N --seed S --model M [--epochs E] [--write-layout P]
    learn_trainer.py member   --dir NODE_DIR --member I --members N --seed S --model M --epochs E
    learn_trainer.py baseline --members N --seed S --model M --epochs E --plan PLAN.json

`describe` prints {dim, maxWeight, clip, samples, testSize} and with --write-layout writes the
model's layout.json (its tensors' names and shapes in the model's order: state_dict() order for
the PyTorch model) for the roster. `member` reads JSON commands, one
per line, and answers each with one JSON line on stdout:

    {"cmd": "train", "round": r}    local epochs from the current global model (not yet sent)
    {"cmd": "submit", "round": r}   the update to this member's node → {numSamples}
    {"cmd": "apply", "round": r}    waits until r is final at the node, applies the aggregate
                                    → {members, view, accuracy}
    {"cmd": "sync", "round": r, "path": P}   a member whose node was down for r applies the
                                    aggregate another node served (safetensors file P)
    {"cmd": "save", "round": r, "path": P}   saves the global model (.npz)

A refusal is {"ok": false, "error": code, "message": …}. `baseline` replays the same training
(same recipe, seeds, transforms and, per round, the members the certificates listed: PLAN.json
is {"rounds": [[member indices], …]}) with plain float64 FedAvg in one process and prints
{"accuracies": [...]} (and with --compare P.npz, the largest difference of any parameter from
the saved federated model: maxParamDiff). Transforms (attacks, privacy) come as --transforms '{"I": ["name:arg"]}'.
"""
import argparse
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "clients", "python"))

import digits  # noqa: E402


def recipe(args):
    transforms = {int(k): v for k, v in json.loads(args.transforms).items()}
    return digits.Recipe(args.members, args.seed, args.model, args.epochs, args.clip, transforms)


def describe(args):
    r = recipe(args)
    params = r.init()
    samples = [r.num_samples(i) for i in range(args.members)]
    # A transform name nobody knows fails here, before any node starts.
    for specs in r.transforms.values():
        for spec in specs:
            name = spec.partition(":")[0]
            if name not in digits.TRANSFORMS and name != "alie":
                raise SystemExit(f"unknown transform {name!r}")
    if args.write_layout:
        # As docs/operator-guide.md writes one from a model: names and shapes, in the model's order.
        with open(args.write_layout, "w") as f:
            json.dump({"tensors": [{"name": k, "shape": list(v.shape)} for k, v in params.items()]}, f)
    print(json.dumps({
        "dim": sum(v.size for v in params.values()),
        "maxWeight": max(samples),
        "clip": args.clip,
        "samples": samples,
        "testSize": len(r.y_test),
    }))


def baseline(args):
    r = recipe(args)
    with open(args.plan) as f:
        plan = json.load(f)
    params = r.init()
    accuracies = []
    for round_, members in enumerate(plan["rounds"]):
        deltas = [r.update(params, m, round_) for m in members]
        if args.l2_clip is not None:
            # Central DP at the federation's epsilon: every update L2-clipped, equal weights, and
            # one Gaussian draw of std --central-sigma added to the sum by a trusted party.
            import numpy as np

            deltas = [digits.clip_l2(d, args.l2_clip) for d in deltas]
            total = {k: sum(d[k] for d in deltas) for k in deltas[0]}
            noise_rng = np.random.default_rng([args.seed, round_, 0xD9])
            mean = {k: (v + noise_rng.normal(0.0, args.central_sigma, v.shape)) / len(members)
                    for k, v in total.items()}
        else:
            mean = digits.fedavg(deltas, [r.weight(m) for m in members])
        params = {k: params[k] + mean[k] for k in params}
        accuracies.append(r.accuracy(params))
    out = {"accuracies": accuracies}
    if args.compare:
        import numpy as np

        with np.load(args.compare) as federated:
            out["maxParamDiff"] = max(float(np.max(np.abs(federated[k] - params[k]))) for k in params)
    print(json.dumps(out))


def member(args):
    import numpy as np

    import fedagg
    from fedagg import layout

    r = recipe(args)
    node = fedagg.Node.from_dir(args.dir)
    params = r.init()
    pending = {}  # round -> update (float32 arrays by name)

    def apply(mean):
        nonlocal params
        params = {k: params[k] + np.asarray(mean[k], dtype=np.float64) for k in params}

    def answer(doc):
        sys.stdout.write(json.dumps(doc) + "\n")
        sys.stdout.flush()

    for line in sys.stdin:
        if not line.strip():
            continue
        cmd = json.loads(line)
        round_ = cmd["round"]
        try:
            if cmd["cmd"] == "train":
                delta = r.update(params, args.member, round_)
                pending[round_] = {k: v.astype(np.float32) for k, v in delta.items()}
                answer({"ok": True, "round": round_})
            elif cmd["cmd"] == "submit":
                # A DP roster fixes every weight at 1.
                weight = 1 if args.l2_clip is not None else r.weight(args.member)
                node.submit(round_, pending[round_], weight)
                answer({"ok": True, "round": round_, "numSamples": weight})
            elif cmd["cmd"] == "apply":
                mean, final = node.result(round_, timeout=cmd.get("timeout", 600))
                apply(mean)
                answer({"ok": True, "round": round_, "members": final.members,
                        "view": final.view, "accuracy": r.accuracy(params)})
            elif cmd["cmd"] == "sync":
                with open(cmd["path"], "rb") as f:
                    structure = layout.to_wire(pending.get(round_) or
                                               {k: v.astype(np.float32) for k, v in params.items()})[0]
                    apply(layout.from_wire(f.read(), structure))
                answer({"ok": True, "round": round_, "accuracy": r.accuracy(params)})
            elif cmd["cmd"] == "save":
                np.savez(cmd["path"], **params)
                answer({"ok": True, "round": round_})
            else:
                answer({"ok": False, "error": "unknown-command", "message": cmd["cmd"]})
            pending = {k: v for k, v in pending.items() if k >= round_ - 2}
        except fedagg.FedaggError as err:
            answer({"ok": False, "error": err.code, "message": err.message})
        except TimeoutError as err:
            answer({"ok": False, "error": "timeout", "message": str(err)})


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("what", choices=["describe", "member", "baseline"])
    parser.add_argument("--dir")
    parser.add_argument("--member", type=int, default=0)
    parser.add_argument("--members", type=int, required=True)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--model", default="logreg", choices=["logreg", "mlp", "torch"])
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--clip", type=float, default=1.0)
    parser.add_argument("--transforms", default="{}")
    parser.add_argument("--l2-clip", type=float, default=None,
                        help="DP: weights 1 (the node L2-clips); the baseline is central DP")
    parser.add_argument("--central-sigma", type=float, default=0.0,
                        help="DP baseline: std of the Gaussian a trusted party adds to each sum")
    parser.add_argument("--plan")
    parser.add_argument("--compare")
    parser.add_argument("--write-layout")
    args = parser.parse_args()
    {"describe": describe, "member": member, "baseline": baseline}[args.what](args)


if __name__ == "__main__":
    main()
