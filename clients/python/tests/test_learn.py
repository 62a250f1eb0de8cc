"""`deno task learn` end to end, small: real nodes, the Python trainers of examples/, the
baseline; the global model must learn and match float64 FedAvg (skipped without scikit-learn)."""
import json
import shutil
import subprocess

import pytest

pytest.importorskip("sklearn")

from conftest import ROOT  # noqa: E402


def test_learn_matches_the_baseline_with_a_member_killed(tmp_path):
    out = subprocess.run(
        [shutil.which("deno"), "task", "learn", "--nodes", "3", "--rounds", "2", "--drop", "1",
         "--out", str(tmp_path), "--json"],
        cwd=ROOT, capture_output=True, text=True, timeout=600,
    )
    run = json.loads(out.stdout.strip().splitlines()[-1])
    assert out.returncode == 0 and run["ok"], out.stderr[-2000:]
    assert [r["round"] for r in run["rounds"]] == [0, 1]
    assert all(len(r["dropped"]) == 1 and len(r["members"]) >= 2 for r in run["rounds"])
    assert run["rounds"][0]["accuracy"] < run["finalAccuracy"]
    assert run["finalAccuracy"] > 0.5
    assert abs(run["finalAccuracy"] - run["baselineAccuracy"]) <= 0.01
    assert run["maxParamDiff"] < 1e-4  # float32 and the quantization, nothing else
