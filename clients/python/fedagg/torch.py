"""PyTorch helpers: a model's state to and from the wire, FedAvg, and a federated training loop.

Only floating tensors are aggregated. :func:`float_state` is a model's ``state_dict()`` without
its integer and boolean buffers (BatchNorm's ``num_batches_tracked``), which stay local and are
never sent; :func:`load` writes an aggregate back and leaves those buffers as they are.

The loop a Flower user will recognise (``fit`` locally → submit → wait → load)::

    loop = fedagg.torch.FederatedLoop(Node.from_dir(DIR), model, fit=train_one_round,
                                      num_samples=len(train_set))
    loop.run(rounds=20)

Requires PyTorch (``import fedagg.torch`` raises ImportError without it).
"""
import collections
import time

import torch


def float_state(model):
    """The model's floating tensors (parameters and float buffers) as an ``OrderedDict`` of
    detached copies, in ``state_dict()`` order; integer and boolean buffers are left out."""
    state = model.state_dict() if hasattr(model, "state_dict") else model
    return collections.OrderedDict(
        (k, v.detach().clone()) for k, v in state.items() if torch.is_tensor(v) and v.is_floating_point()
    )


def load(model, state):
    """Writes ``state`` (floating tensors by name, e.g. an aggregate) into ``model``. Refuses
    (``KeyError``) a state that misses one of the model's floating tensors or names one the
    model does not have; integer buffers keep their local values."""
    own = float_state(model)
    missing = [k for k in own if k not in state]
    extra = [k for k in state if k not in own]
    if missing or extra:
        raise KeyError(f"state does not fit the model: missing {missing[:3]}, unexpected {extra[:3]}")
    # The whole state, so that loading leaves integer buffers as they are (BatchNorm resets a
    # missing num_batches_tracked to 0).
    full = model.state_dict()
    full.update(state)
    model.load_state_dict(full)


def delta(new, old):
    """``new - old`` per tensor (both mappings of floating tensors with the same names)."""
    return collections.OrderedDict((k, new[k] - old[k]) for k in old)


def add(state, change, scale=1.0):
    """``state + scale · change`` per tensor, in the dtype of ``state``."""
    return collections.OrderedDict(
        (k, (v.double() + scale * change[k].to(v.device).double()).to(v.dtype)) for k, v in state.items()
    )


def fedavg(states, weights):
    """The weighted mean of ``states`` (mappings of tensors with equal names and shapes:
    weights or deltas), accumulated in float64 and returned in the first state's dtypes: plain
    FedAvg in one process, the reference a fedagg aggregate is compared with."""
    total = float(sum(weights))
    if total <= 0 or len(states) != len(weights) or not states:
        raise ValueError("fedavg needs as many positive weights as states")
    out = collections.OrderedDict()
    for k, ref in states[0].items():
        acc = torch.zeros(ref.shape, dtype=torch.float64)
        for s, w in zip(states, weights):
            acc += float(w) * s[k].detach().cpu().double()
        out[k] = (acc / total).to(dtype=ref.dtype, device=ref.device)
    return out


class FederatedLoop:
    """Federated training of ``model`` through a fedagg node, round after round.

    Each round: ``fit(model, round)`` trains locally (and may return a progress dict); the change
    of the model's floating tensors (``mode="delta"``, the default: small values, well inside the
    roster's clip) or the tensors themselves (``mode="weights"``: needs a clip above every weight)
    is submitted with ``num_samples``; the loop waits for the round's final aggregate and loads
    the federation's model (old weights + mean delta, or the mean weights). ``evaluate(model)``,
    if given, runs after each round. ``log`` receives one line per round (``print`` by default;
    None for silence). Members that drop out rejoin with :meth:`run`'s ``first_round``.
    """

    def __init__(self, node, model, fit, num_samples, *, mode="delta", evaluate=None, log=print,
                 timeout=600.0):
        if mode not in ("delta", "weights"):
            raise ValueError("mode is 'delta' or 'weights'")
        self.node, self.model, self.fit = node, model, fit
        self.num_samples, self.mode, self.evaluate = int(num_samples), mode, evaluate
        self.log, self.timeout = log, timeout
        self.history = []

    def step(self, round_):
        """One round; returns its record (round, members, view, seconds, metrics)."""
        start = time.monotonic()
        before = float_state(self.model)
        metrics = self.fit(self.model, round_) or {}
        after = float_state(self.model)
        update = delta(after, before) if self.mode == "delta" else after
        self.node.submit(round_, update, self.num_samples)
        mean, final = self.node.result(round_, timeout=self.timeout)
        load(self.model, add(before, mean) if self.mode == "delta" else mean)
        record = {"round": round_, "members": len(final.members), "view": final.view,
                  "seconds": time.monotonic() - start, **metrics}
        if self.evaluate is not None:
            record.update(self.evaluate(self.model) or {})
        self.history.append(record)
        if self.log is not None:
            extra = " ".join(f"{k} {v:.4f}" if isinstance(v, float) else f"{k} {v}"
                             for k, v in record.items() if k not in ("round", "members", "view", "seconds"))
            self.log(f"round {round_}: {record['members']} members, view {record['view']}, "
                     f"{record['seconds']:.1f} s {extra}".rstrip())
        return record

    def run(self, rounds, first_round=0):
        """Runs ``rounds`` rounds from ``first_round``; returns the per-round records."""
        for r in range(first_round, first_round + rounds):
            self.step(r)
        return self.history
