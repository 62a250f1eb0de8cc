"""fedagg.torch against a live federation (skipped cleanly without PyTorch): state dicts with
integer buffers, the federated loop, and FedAvg in one process as the reference."""
import threading

import pytest

torch = pytest.importorskip("torch")

import fedagg  # noqa: E402
import fedagg.torch as ft  # noqa: E402
from fedagg import Node, layout  # noqa: E402

from conftest import start_federation, stop_federation  # noqa: E402


def model(seed):
    torch.manual_seed(seed)
    # 6 + 2 weights, BatchNorm: 2 + 2 weights, 2 + 2 float buffers (16 floats) and one int64
    return torch.nn.Sequential(torch.nn.Linear(3, 2), torch.nn.BatchNorm1d(2))


@pytest.fixture(scope="module")
def federation():
    fed = start_federation(nodes=3, dim=16, stage_timeout=5000)
    yield fed
    stop_federation(fed)


def test_integer_buffers_are_refused_by_name(federation):
    c = Node.from_dir(federation.nodes[0]["dir"])
    with pytest.raises(fedagg.UpdateRefused) as err:
        c.submit(0, model(0).state_dict(), 1)
    assert err.value.code == "unsupported-dtype" and "num_batches_tracked" in err.value.message


def test_module_and_parameter_list_structures_round_trip_offline():
    m = model(1)
    structure, body = layout.to_wire(m)  # named_parameters: 12 values
    assert structure.dim == 12
    back = layout.from_wire(body, structure)
    assert list(back) == [n for n, _ in m.named_parameters()]
    assert all(torch.equal(back[n], p.detach()) for n, p in m.named_parameters())
    params = list(m.parameters())
    back = layout.from_wire(layout.to_wire(params)[1], layout.to_wire(params)[0])
    assert [t.shape for t in back] == [p.shape for p in params]
    half = {"h": torch.ones(3, dtype=torch.float16)}
    assert layout.from_wire(layout.to_wire(half)[1], layout.to_wire(half)[0])["h"].dtype == torch.float16


def test_federated_loop_matches_fedavg_in_one_process(federation):
    n = len(federation.nodes)
    start = model(7)
    members = [model(7) for _ in range(n)]  # the same initial model everywhere
    sizes = [10, 20, 40]
    data = []
    for i in range(n):
        g = torch.Generator().manual_seed(100 + i)
        data.append((torch.randn(sizes[i], 3, generator=g), torch.randn(sizes[i], 2, generator=g)))

    def fit_for(i):
        def fit(m, r):
            opt = torch.optim.SGD(m.parameters(), lr=0.05)
            x, y = data[i]
            m.train()
            opt.zero_grad()
            loss = torch.nn.functional.mse_loss(m(x), y)
            loss.backward()
            opt.step()
            return {"loss": float(loss)}
        return fit

    # The reference: the same local steps, averaged in one process.
    reference = model(7)
    for _ in range(2):
        before = ft.float_state(reference)
        deltas = []
        for i in range(n):
            local = model(7)
            ft.load(local, before)
            fit_for(i)(local, 0)
            deltas.append(ft.delta(ft.float_state(local), before))
        ft.load(reference, ft.add(before, ft.fedavg(deltas, sizes)))

    lines = []
    loops = [
        ft.FederatedLoop(Node.from_dir(federation.nodes[i]["dir"]), members[i], fit_for(i), sizes[i],
                         log=lines.append, timeout=300)
        for i in range(n)
    ]
    errors = []

    def run(loop):
        try:
            loop.run(2)
        except Exception as err:  # reported below
            errors.append(err)

    threads = [threading.Thread(target=run, args=(loop,)) for loop in loops]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    ref = ft.float_state(reference)
    for m in members:
        got = ft.float_state(m)
        for k in ref:
            assert torch.max(torch.abs(got[k] - ref[k])) < 1e-4, k
        # BatchNorm's step counter is local: each member ran two training steps itself.
        assert int(m[1].num_batches_tracked) == 2
    assert not torch.equal(ft.float_state(start)["0.weight"], ref["0.weight"])
    assert len(lines) == 2 * n and lines[0].startswith("round 0: 3 members")


def test_pytorch_digits_example_trains_across_three_nodes(tmp_path):
    pytest.importorskip("sklearn")
    import json
    import os
    import subprocess
    import sys

    from conftest import ROOT

    # The roster carries the model's layout, written by the example from its state_dict().
    env = {**os.environ, "PYTHONPATH": os.path.join(ROOT, "clients", "python")}
    layout_json = tmp_path / "layout.json"
    subprocess.run([sys.executable, os.path.join(ROOT, "examples", "pytorch_digits.py"),
                    "--write-layout", str(layout_json)], check=True, env=env, timeout=300)
    written = json.loads(layout_json.read_text())["tensors"]
    assert [(t["name"], t["shape"]) for t in written] == [
        ("0.weight", [64, 64]), ("0.bias", [64]), ("2.weight", [10, 64]), ("2.bias", [10])]
    fed = start_federation(nodes=3, layout=layout_json, max_weight=600, stage_timeout=5000)
    try:
        assert Node.from_dir(fed.nodes[0]["dir"]).layout().tensors[0] == ("0.weight", (64, 64))
        procs = [
            subprocess.Popen(
                [sys.executable, os.path.join(ROOT, "examples", "pytorch_digits.py"), "--dir",
                 n["dir"], "--member", str(i), "--members", "3", "--rounds", "2", "--json"],
                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
            )
            for i, n in enumerate(fed.nodes)
        ]
        outs = [p.communicate(timeout=600) for p in procs]
    finally:
        stop_federation(fed)
    assert all(p.returncode == 0 for p in procs), [err[-2000:] for _, err in outs]
    runs = [json.loads(out.strip().splitlines()[-1]) for out, _ in outs]
    for k in range(2):
        rounds = [r["rounds"][k] for r in runs]
        assert all(r["members"] == 3 for r in rounds)
        assert len({r["accuracy"] for r in rounds}) == 1  # one certified model everywhere
    assert runs[0]["rounds"][1]["accuracy"] > runs[0]["rounds"][0]["accuracy"]
