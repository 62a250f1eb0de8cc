"""The learning benchmark's attacks (examples/digits.py): what each attacker sends and the weight
it claims, in the recipe both the federated run and the baseline use (skipped without
scikit-learn)."""
import os
import statistics
import sys

import numpy as np
import pytest

pytest.importorskip("sklearn")

from conftest import ROOT  # noqa: E402

sys.path.insert(0, os.path.join(ROOT, "examples"))
import digits  # noqa: E402

N = 6


def honest_and(transforms):
    return digits.Recipe(N, 1), digits.Recipe(N, 1, transforms=transforms)


def test_attackers_claim_the_largest_weight_and_honest_members_their_samples():
    _, r = honest_and({0: ["scale:1000"], 2: ["gaussian:0.1"]})
    assert r.attackers() == [0]  # gaussian noise is a privacy setting, not an attack
    largest = max(r.num_samples(m) for m in range(N))
    assert r.weight(0) == largest
    assert [r.weight(m) for m in range(1, N)] == [r.num_samples(m) for m in range(1, N)]


def test_scale_and_sign_flip_transform_the_own_update_then_clip():
    honest, r = honest_and({0: ["scale:1000"], 1: ["sign-flip"]})
    p = honest.init()
    h0, h1 = honest.update(p, 0, 3), honest.update(p, 1, 3)
    a0, a1 = r.update(p, 0, 3), r.update(p, 1, 3)
    for k in p:
        assert np.array_equal(a0[k], np.clip(1000 * h0[k], -1, 1))
        assert np.array_equal(a1[k], -h1[k])


def test_label_flip_trains_on_flipped_labels():
    honest, r = honest_and({0: ["label-flip"]})
    p = honest.init()
    flipped = digits.Recipe(N, 1)
    X, y = flipped.parts[0]
    flipped.parts[0] = (X, digits.CLASSES - 1 - y)
    want = flipped.update(p, 0, 2)
    got = r.update(p, 0, 2)
    assert all(np.array_equal(got[k], want[k]) for k in p)
    assert not all(np.array_equal(got[k], honest.update(p, 0, 2)[k]) for k in p)


def test_alie_sends_the_honest_mean_minus_z_sigma():
    honest, r = honest_and({0: ["alie"], 1: ["alie"]})
    p = honest.init()
    ups = [honest.update(p, m, 4) for m in range(2, N)]
    s = N // 2 + 1 - 2
    z = statistics.NormalDist().inv_cdf((N - s) / N)
    for m in (0, 1):
        got = r.update(p, m, 4)
        for k in p:
            stack = np.stack([u[k] for u in ups])
            want = np.clip(stack.mean(axis=0) - z * stack.std(axis=0), -1, 1)
            assert np.allclose(got[k], want, rtol=0, atol=1e-15)
    # an explicit z
    _, rz = honest_and({0: ["alie:0.5"]})
    ups = [honest.update(p, m, 4) for m in range(1, N)]
    got = rz.update(p, 0, 4)
    stack = np.stack([u["W"] for u in ups])
    assert np.allclose(got["W"], stack.mean(axis=0) - 0.5 * stack.std(axis=0), rtol=0, atol=1e-15)
