#!/usr/bin/env python3
"""Train a PyTorch model across fedagg nodes: one process per member, beside its `fedagg run`.

Each member holds a non-IID share of scikit-learn's bundled digits (per class, Dirichlet
α = 0.5, seeded: every member computes the same split and takes its own part), trains a small
MLP for E epochs per round, submits the change of its weights to its node, waits for the
round's certified average and loads it. Every member starts from the same seeded model.

    python3 examples/pytorch_digits.py --dir NODE_DIR --member 0 --members 3 --rounds 10

NODE_DIR is the member's node directory (the API token and URL are read from it). --member is
this member's index in 0..members-1 (which share of the data it trains on); the roster must carry
the model's layout (`--write-layout layout.json` writes it from the model's state_dict(), for
`fedagg roster create --layout layout.json`; d = 4810) and its maxWeight must be at least the
member's sample count (`--print-dim` prints d and the sample counts). Needs python3-torch, python3-sklearn and the
fedagg package (`pip install ./clients/python`, or PYTHONPATH=clients/python).
"""
import argparse
import json
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import digits  # noqa: E402


class DigitsMLP(torch.nn.Sequential):
    """64 → 64 → 10, ReLU: 4810 weights."""

    def __init__(self):
        super().__init__(torch.nn.Linear(digits.FEATURES, 64), torch.nn.ReLU(),
                         torch.nn.Linear(64, digits.CLASSES))


def train(model, X, y, epochs, generator, lr=0.1, batch=32):
    """E epochs of minibatch SGD on cross-entropy; returns the last epoch's mean loss."""
    opt = torch.optim.SGD(model.parameters(), lr=lr)
    X, y = torch.as_tensor(X, dtype=torch.float32), torch.as_tensor(y, dtype=torch.long)
    model.train()
    total = 0.0
    for _ in range(epochs):
        total = 0.0
        order = torch.randperm(len(y), generator=generator)
        for s in range(0, len(y), batch):
            i = order[s : s + batch]
            opt.zero_grad()
            loss = torch.nn.functional.cross_entropy(model(X[i]), y[i])
            loss.backward()
            opt.step()
            total += float(loss) * len(i)
    return total / len(y)


def accuracy(model, X, y):
    model.eval()
    with torch.no_grad():
        pred = model(torch.as_tensor(X, dtype=torch.float32)).argmax(dim=1).numpy()
    return float(np.mean(pred == y))


class TorchRecipeModel:
    """The benchmark's view of the PyTorch model (``deno task learn --torch``): parameters as
    float64 arrays by name, trained in float32 with a generator seeded from ``rng``."""

    def __init__(self):
        torch.set_num_threads(1)  # deterministic, and fair to the nodes on a small machine

    def init(self, seed):
        torch.manual_seed(seed)
        return {k: v.double().numpy() for k, v in DigitsMLP().state_dict().items()}

    def _model(self, params):
        m = DigitsMLP()
        m.load_state_dict({k: torch.as_tensor(v, dtype=torch.float32) for k, v in params.items()})
        return m

    def fit(self, params, X, y, epochs, rng):
        m = self._model(params)
        train(m, X, y, epochs, torch.Generator().manual_seed(int(rng.integers(2**62))))
        return {k: v.double().numpy() for k, v in m.state_dict().items()}

    def accuracy(self, params, X, y):
        return accuracy(self._model(params), X, y)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dir", help="this member's node directory")
    parser.add_argument("--member", type=int, default=0, help="this member's index")
    parser.add_argument("--members", type=int, default=3, help="how many members share the data")
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--first-round", type=int, default=0)
    parser.add_argument("--epochs", type=int, default=2, help="local epochs per round")
    parser.add_argument("--seed", type=int, default=1, help="data split and initial model")
    parser.add_argument("--print-dim", action="store_true", help="print d and the sample counts")
    parser.add_argument("--write-layout", metavar="PATH",
                        help="write the model's layout.json (for fedagg roster create --layout)")
    parser.add_argument("--json", action="store_true", help="print the rounds as one JSON line")
    args = parser.parse_args()

    parts, (X_test, y_test) = digits.split(args.members, args.seed)
    torch.manual_seed(args.seed)
    model = DigitsMLP()  # the same initial weights at every member
    if args.write_layout:
        # As docs/operator-guide.md shows: the float32 tensors of state_dict(), in its order.
        sd = model.state_dict()
        with open(args.write_layout, "w") as f:
            json.dump({"tensors": [{"name": k, "shape": list(v.shape)} for k, v in sd.items()
                                   if v.dtype == torch.float32]}, f)
        print(f"wrote {args.write_layout}: {', '.join(sd)}", file=sys.stderr)
    if args.print_dim:
        dim = sum(p.numel() for p in model.parameters())
        print(json.dumps({"dim": dim, "samples": [len(y) for _, y in parts]}))
        return
    if args.write_layout:
        return
    if args.dir is None:
        parser.error("--dir is required")

    from fedagg import Node
    from fedagg.torch import FederatedLoop

    X, y = parts[args.member]
    generator = torch.Generator().manual_seed(args.seed * 1000 + args.member)
    loop = FederatedLoop(
        Node.from_dir(args.dir),
        model,
        fit=lambda m, r: {"loss": train(m, X, y, args.epochs, generator)},
        num_samples=len(y),
        evaluate=lambda m: {"accuracy": accuracy(m, X_test, y_test)},
        log=None if args.json else (lambda line: print(f"member {args.member}: {line}", flush=True)),
    )
    history = loop.run(args.rounds, first_round=args.first_round)
    if args.json:
        print(json.dumps({"member": args.member, "rounds": history}))
    else:
        print(f"member {args.member}: final test accuracy {history[-1]['accuracy']:.4f}")


if __name__ == "__main__":
    main()
