"""The client against a live federation of four real nodes (d = 12, t = 3): round trips of
every update structure, the event iterator across a node restart, and every refusal typed."""
import socket
import threading

import numpy as np
import pytest

import fedagg
import fedagg.layout
from fedagg import Node

TOL = 1e-4  # far above the roster's quantization bound (about 2e-6 here)


def nodes(fed):
    return [Node.from_dir(n["dir"]) for n in fed.nodes]


def submit_all(clients, round_, updates, weights):
    """Submits every member's update at once (threads), as separate trainers would."""
    errors = []

    def one(c, u, w):
        try:
            c.submit(round_, u, w)
        except Exception as err:  # reported below
            errors.append(err)

    threads = [threading.Thread(target=one, args=a) for a in zip(clients, updates, weights)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors


def weighted_mean(arrays, weights):
    return sum(w * np.asarray(a, dtype=np.float64) for a, w in zip(arrays, weights)) / sum(weights)


def test_dict_round_trip_restores_names_shapes_and_dtypes(federation):
    clients = nodes(federation)
    r = federation.next_round()
    rng = np.random.default_rng(1)
    updates = [
        {"w": rng.uniform(-1, 1, (2, 5)).astype(np.float32), "b": rng.uniform(-1, 1, 2)}
        for _ in clients
    ]
    weights = [1, 3, 5, 7]
    with clients[0].events() as stream:
        submit_all(clients, r, updates, weights)
        finals = [c.wait_final(r, timeout=300) for c in clients]
        seen = []
        while not any(e.type == "final" and e.round == r for e in seen):
            e = stream.get(timeout=60)
            assert e is not None, f"no final event for round {r}; saw {seen}"
            seen.append(e)
    ids = {n["id"] for n in federation.nodes}
    assert all(set(f.members) == ids for f in finals)
    for c in clients:
        mean, final = c.result(r)
        assert list(mean) == ["w", "b"]  # the member's order, not the wire's
        assert mean["w"].shape == (2, 5) and mean["w"].dtype == np.float32
        assert mean["b"].shape == (2,) and mean["b"].dtype == np.float64  # restored dtype
        for name in ("w", "b"):
            expected = weighted_mean([u[name] for u in updates], weights)
            assert np.max(np.abs(mean[name] - expected)) < TOL
        assert final is not None and final.round == r


def test_flat_arrays_and_lists_and_parameter_lists(federation):
    clients = nodes(federation)
    r = federation.next_round()
    rng = np.random.default_rng(2)
    flat = [rng.uniform(-1, 1, 12).astype(np.float32) for _ in clients]
    updates = [flat[0], [float(v) for v in flat[1]], flat[2], flat[3].astype(np.float64)]
    submit_all(clients, r, updates, [2, 2, 2, 2])
    expected = weighted_mean(flat, [1, 1, 1, 1])
    got = clients[0].aggregate(r, timeout=300)
    assert isinstance(got, np.ndarray) and got.shape == (12,) and got.dtype == np.float32
    assert np.max(np.abs(got - expected)) < TOL
    # A member that did not keep its structure (a new process) passes one with `like`:
    fresh = Node.from_dir(federation.nodes[1]["dir"])
    as_list = fresh.aggregate(r, timeout=300, like=[np.zeros(4, np.float32), np.zeros((2, 4), np.float32)])
    assert [a.shape for a in as_list] == [(4,), (2, 4)]
    assert np.max(np.abs(np.concatenate([as_list[0], as_list[1].ravel()]) - expected)) < TOL
    # ...and without one gets the flat vector.
    assert np.max(np.abs(fresh.aggregate(r, wait=False) - expected)) < TOL


def test_events_follow_a_restarted_node(federation):
    clients = nodes(federation)
    last = federation.nodes[3]
    stream = clients[3].events(markers=True)
    try:
        assert stream.get(timeout=60) == "connected"
        federation.control("stop", last["name"])
        federation.control("start", last["name"])
        assert stream.get(timeout=60) == "connected"  # reconnected by itself
        r = federation.next_round()
        submit_all(clients, r, [np.full(12, 0.5, np.float32)] * 4, [1] * 4)
        seen = []
        while not any(e.type == "final" and e.round == r for e in seen):
            e = stream.get(timeout=120)
            assert e is not None, f"no final event after the restart; saw {seen}"
            seen.append(e)
    finally:
        stream.close()


def test_wrong_token_is_unauthorized(federation):
    n = federation.nodes[0]
    bad = Node(Node.from_dir(n["dir"]).url, "x" * 32)
    with pytest.raises(fedagg.Unauthorized) as err:
        bad.status()
    assert err.value.code == "unauthorized" and err.value.status == 401
    with pytest.raises(fedagg.Unauthorized):
        bad.submit(0, np.zeros(12, np.float32), 1)
    with pytest.raises(fedagg.Unauthorized):
        next(iter(bad.events()))


def test_bad_updates_are_refused_with_the_nodes_code(federation, monkeypatch):
    c = Node.from_dir(federation.nodes[0]["dir"])
    r = c.status()["currentRound"]
    # The total is checked against the roster's d before sending (a flat roster has no shapes).
    for update in (np.zeros(11, np.float32), {"a": np.zeros(6, np.float32), "b": np.zeros(7, np.float32)}):
        with pytest.raises(fedagg.LayoutRefused) as err:
            c.submit(r, update, 1)
        assert (err.value.code, err.value.status) == ("wrong-length", None), err.value
        assert "d = 12" in err.value.message
    cases = [
        (np.array([0.0] * 5 + [float("nan")] + [0.0] * 6, np.float32), 1, "non-finite", 422),
        (np.zeros(12, np.float32), 10**6, "invalid-num-samples", 422),
    ]
    for update, weight, code, status in cases:
        with pytest.raises(fedagg.UpdateRefused) as err:
            c.submit(r, update, weight)
        assert (err.value.code, err.value.status) == (code, status), err.value
    with pytest.raises(fedagg.UpdateRefused) as err:
        c.submit(r + 50, np.zeros(12, np.float32), 1)
    assert err.value.code == "round-too-far-ahead"
    # A client with a wrong idea of d (its check bypassed) gets the node's 422 as LayoutRefused.
    monkeypatch.setattr(c, "_layout", fedagg.layout.FederationLayout([("aggregate", (11,))]))
    with pytest.raises(fedagg.LayoutRefused) as err:
        c.submit(r, np.zeros(11, np.float32), 1)
    assert (err.value.code, err.value.status) == ("layout-mismatch", 422), err.value
    assert "'aggregate' has shape [11] in the upload" in err.value.message
    assert c.layout().dim == 12  # read again after the node's refusal


def test_integer_tensors_are_refused_before_sending(federation):
    c = Node.from_dir(federation.nodes[0]["dir"])
    for update in ({"w": np.zeros(11, np.float32), "steps": np.array([3])}, np.arange(12), [True] * 12):
        with pytest.raises(fedagg.UpdateRefused) as err:
            c.submit(0, update, 1)
        assert err.value.code == "unsupported-dtype" and err.value.status is None
        assert "fedagg.torch.float_state" in err.value.message
    with pytest.raises(fedagg.UpdateRefused) as err:
        c.submit(0, np.zeros(12, np.float32), 0)
    assert err.value.code == "num-samples"


def test_unpublished_and_mismatched_aggregates(federation):
    c = Node.from_dir(federation.nodes[0]["dir"])
    with pytest.raises(fedagg.NotYet) as err:
        c.aggregate(10**9, wait=False)
    assert err.value.code == "not-yet" and err.value.status == 404
    with pytest.raises(fedagg.NotYet):
        c.certificate(10**9)
    with pytest.raises(TimeoutError):
        c.wait_final(10**9, timeout=1)
    # A flat (--dim) roster has no names or shapes: any structure of 12 values is cut from the
    # vector in name order (as dicts are sent to it), another total does not fit.
    flat = c.aggregate(0, wait=False)
    other = c.aggregate(0, wait=False, like={"w": np.zeros((5, 2), np.float32), "b": np.zeros(2, np.float32)})
    assert np.array_equal(other["b"], flat[:2]) and np.array_equal(other["w"].ravel(), flat[2:])
    with pytest.raises(fedagg.LayoutError):
        c.aggregate(0, wait=False, like=np.zeros(13, np.float32))


def test_withdraw(federation):
    c = Node.from_dir(federation.nodes[2]["dir"])
    r = c.status()["currentRound"] + 2  # nobody else submits there: the masked input cannot leave
    with pytest.raises(fedagg.WithdrawRefused) as err:
        c.withdraw(r)
    assert err.value.code == "nothing-to-withdraw" and err.value.status == 404
    c.submit(r, np.zeros(12, np.float32), 1)
    assert c.withdraw(r) == {"round": r, "withdrawn": True}


def test_node_down_is_node_unreachable(federation):
    n = federation.nodes[1]
    c = Node.from_dir(n["dir"])
    federation.control("stop", n["name"])
    try:
        with pytest.raises(fedagg.NodeUnreachable) as err:
            c.status()
        assert err.value.code == "unreachable"
        with pytest.raises(fedagg.NodeUnreachable):
            c.submit(0, np.zeros(12, np.float32), 1)
        with pytest.raises(fedagg.NodeUnreachable):
            Node.from_dir(n["dir"])  # a stopped node removes api.json
    finally:
        federation.control("start", n["name"])
    assert c.status()["peerId"] == n["id"]  # the same client works again


def test_nothing_listening_is_node_unreachable():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    with pytest.raises(fedagg.NodeUnreachable):
        Node(f"http://127.0.0.1:{port}", "t" * 32).status()
