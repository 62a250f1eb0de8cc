"""The client against a federation whose roster carries a PyTorch-order layout of four tensors
(weight before bias: not name order): the layout is read from the node, updates of every
structure are sent in the roster's order and come back restored, and an update that does not fit
is refused before sending (LayoutRefused naming the first difference) or, when the client's
check is bypassed, by the node (422 surfaced as LayoutRefused with the node's code)."""
import collections
import json
import threading

import numpy as np
import pytest

import fedagg
from fedagg import Node, layout, safetensors

from conftest import start_federation, stop_federation

# PyTorch's state_dict() order for Linear(4, 3) → Linear(3, 2): weight before bias.
TORCH = [("fc1.weight", (3, 4)), ("fc1.bias", (3,)), ("fc2.weight", (2, 3)), ("fc2.bias", (2,))]
DIM = 12 + 3 + 6 + 2
TOL = 1e-4


@pytest.fixture(scope="module")
def federation(tmp_path_factory):
    path = tmp_path_factory.mktemp("layout") / "layout.json"
    path.write_text(json.dumps({"tensors": [{"name": n, "shape": list(s)} for n, s in TORCH]}))
    fed = start_federation(nodes=4, layout=path, stage_timeout=5000)
    yield fed
    stop_federation(fed)


def state(seed):
    rng = np.random.default_rng(seed)
    return collections.OrderedDict((n, rng.uniform(-1, 1, s).astype(np.float32)) for n, s in TORCH)


def in_roster_order(update):
    return np.concatenate([np.asarray(update[n], np.float64).ravel() for n, _ in TORCH])


def header_names(body):
    n = int.from_bytes(body[:8], "little")
    return list(json.loads(body[8 : 8 + n]))


def test_the_node_serves_its_layout_and_the_client_keeps_it(federation):
    c = Node.from_dir(federation.nodes[0]["dir"])
    fed = c.layout()
    assert fed.tensors == TORCH and fed.dim == DIM and not fed.flat
    assert isinstance(fed.hash, str) and len(fed.hash) == 64
    assert c.layout() is fed  # read once
    # The body goes in the roster's order whatever the dict's order is.
    shuffled = dict(sorted(state(0).items()))
    upload = layout.encode(shuffled, fed)
    assert header_names(upload.body) == [n for n, _ in TORCH] and not upload.flat
    # A flat vector is raw float32 with ?layout=flat; a list is matched by position.
    flat = layout.encode(np.zeros(DIM, np.float32), fed)
    assert (flat.flat, flat.content_type, len(flat.body)) == (True, layout.RAW, 4 * DIM)
    as_list = layout.encode([np.zeros(s, np.float32) for _, s in TORCH], fed)
    assert header_names(as_list.body) == [n for n, _ in TORCH]


def test_every_structure_round_trips_in_the_rosters_order(federation):
    clients = [Node.from_dir(n["dir"]) for n in federation.nodes]
    r = federation.next_round()
    states = [state(10 + i) for i in range(4)]
    updates = [
        states[0],  # a state_dict in PyTorch order
        dict(sorted(states[1].items())),  # the same names in name order
        [states[2][n] for n, _ in TORCH],  # list(model.parameters())
        in_roster_order(states[3]).astype(np.float32),  # the flat vector in the roster's order
    ]
    weights = [1, 2, 3, 4]
    errors = []

    def one(c, u, w):
        try:
            c.submit(r, u, w)
        except Exception as err:  # reported below
            errors.append(err)

    threads = [threading.Thread(target=one, args=a) for a in zip(clients, updates, weights)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    expected = sum(w * in_roster_order(s) for s, w in zip(states, weights)) / sum(weights)

    got = clients[0].aggregate(r, timeout=300)
    assert list(got) == [n for n, _ in TORCH]
    assert all(got[n].shape == s for n, s in TORCH)
    assert np.max(np.abs(in_roster_order(got) - expected)) < TOL
    got = clients[1].aggregate(r, timeout=300)  # another node: it may publish later
    assert list(got) == sorted(n for n, _ in TORCH)  # the member's own order
    assert np.max(np.abs(in_roster_order(got) - expected)) < TOL
    got = clients[2].aggregate(r, timeout=300)  # another node: it may publish later
    assert [a.shape for a in got] == [s for _, s in TORCH]
    assert np.max(np.abs(np.concatenate([a.ravel() for a in got]) - expected)) < TOL
    got = clients[3].aggregate(r, timeout=300)  # another node: it may publish later
    assert got.shape == (DIM,) and np.max(np.abs(got - expected)) < TOL
    # A new process without the structure gets the roster's names, shapes and order.
    fresh = Node.from_dir(federation.nodes[0]["dir"]).aggregate(r, wait=False)
    assert [(n, a.shape) for n, a in fresh.items()] == TORCH


def test_a_wrong_update_is_refused_before_sending(federation):
    c = Node.from_dir(federation.nodes[0]["dir"])
    r = federation.next_round()
    renamed = state(1)
    renamed["fc1.weights"] = renamed.pop("fc1.weight")
    reshaped = state(2)
    reshaped["fc1.weight"] = reshaped["fc1.weight"].T.copy()
    extra = state(3)
    extra["fc3.bias"] = np.zeros(2, np.float32)
    cases = [
        (renamed, "layout-mismatch",
         "the federation's tensor 0 'fc1.weight' [3, 4] is missing from the update; the update's "
         "tensor(s) 'fc1.weights' [3, 4] are not in it"),
        (reshaped, "layout-mismatch",
         "tensor 0 'fc1.weight' has shape [4, 3] in the update, the federation's layout says [3, 4]"),
        (extra, "layout-mismatch", "every tensor of the federation's layout and more; the "
         "update's tensor(s) 'fc3.bias' [2] are not in it"),
        ({**state(4), "fc1.bias": np.zeros(3, np.int64)}, "unsupported-dtype", "'fc1.bias'"),
        (np.zeros(DIM + 1, np.float32), "wrong-length", f"24 float32 values in a flat vector"),
        ([np.zeros(s, np.float32) for _, s in reversed(TORCH)], "layout-mismatch",
         "tensor 0 of the list has shape [2], the federation's tensor 0 'fc1.weight' [3, 4]"),
    ]
    for update, code, words in cases:
        with pytest.raises(fedagg.LayoutRefused) as err:
            c.submit(r, update, 1)
        assert err.value.status is None, err.value  # never sent
        assert err.value.code == code and words in err.value.message, err.value.message
        assert isinstance(err.value, fedagg.UpdateRefused) and isinstance(err.value, fedagg.LayoutError)
    # Nothing reached the node: the right update for the same round is taken (and withdrawn).
    assert c.submit(r, state(5), 1)["accepted"]
    c.withdraw(r)


def test_the_nodes_refusal_is_a_layout_refused_with_its_code(federation, monkeypatch):
    c = Node.from_dir(federation.nodes[0]["dir"])
    r = federation.next_round()
    true_layout = c.layout()
    renamed = state(6)
    renamed["fc2.weights"] = renamed.pop("fc2.weight")
    # A client that believes the roster has these names (a stale layout) sends them anyway.
    monkeypatch.setattr(c, "_layout", layout.FederationLayout([(n, a.shape) for n, a in renamed.items()]))
    with pytest.raises(fedagg.LayoutRefused) as err:
        c.submit(r, renamed, 1)
    assert (err.value.status, err.value.code) == (422, "layout-mismatch")
    assert "tensor 2 'fc2.weight' [2, 3] is missing" in err.value.message, err.value.message
    assert isinstance(err.value, fedagg.UpdateRefused)
    # ...and reads the layout again, so the next check is against the node's.
    assert c.layout() is not true_layout and c.layout().tensors == TORCH
    # A raw body without ?layout=flat for this layout of four tensors: 422 flat-upload.
    raw = np.zeros(DIM, "<f4").tobytes()
    with pytest.raises(fedagg.LayoutRefused) as err:
        c._request("POST", f"/v1/rounds/{r}/update?num_samples=1", raw, layout.RAW, route="update")
    assert (err.value.status, err.value.code) == (422, "flat-upload")
    # One "aggregate" tensor (what a flat roster takes) is a layout-mismatch here.
    body = safetensors.encode([("aggregate", (DIM,), raw)])
    with pytest.raises(fedagg.LayoutRefused) as err:
        c._request("POST", f"/v1/rounds/{r}/update?num_samples=1", body, layout.SAFETENSORS,
                   route="update")
    assert err.value.code == "layout-mismatch" and "'aggregate' [23]" in err.value.message
