"""A live local federation for the tests: real `fedagg run` processes started through
`scripts/learn_federation.ts` (Deno must be on PATH), stopped when the module's tests end."""
import json
import os
import shutil
import subprocess
import sys
import threading

import pytest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
try:
    import fedagg  # noqa: F401  (the installed package, e.g. in .ci/run's virtual environment)
except ImportError:
    sys.path.insert(0, os.path.join(ROOT, "clients", "python"))  # the source tree


class Federation:
    """The running federation: ``nodes`` (dicts with name, id, dir, url in roster order),
    ``control(command, name)`` to stop/kill/start a node, ``next_round()`` for tests that run
    a round with every member."""

    def __init__(self, proc, info):
        self.proc = proc
        self.info = info
        self.nodes = info["nodes"]
        self.threshold = info["threshold"]
        self._round = 0
        self._lock = threading.Lock()

    def next_round(self):
        r = self._round
        self._round += 1
        return r

    def control(self, command, name):
        with self._lock:
            self.proc.stdin.write(f"{command} {name}\n")
            self.proc.stdin.flush()
            answer = json.loads(self.proc.stdout.readline())
        assert answer["ok"], answer
        return answer


def start_federation(nodes, dim=None, max_weight=1000, stage_timeout=2000, attempts=2, layout=None):
    """Starts a federation (a roster of ``dim`` values, or of the tensor ``layout``: a path to a
    layout.json or safetensors model); a start that fails (on a loaded machine: a port taken between its
    probe and the node's bind, or nodes that take over a minute to connect) is tried once more
    with fresh ports, and a second failure raises with the script's message."""
    deno = shutil.which("deno")
    if deno is None:
        raise RuntimeError("the Python client's tests need Deno on PATH (npm install -g deno)")
    for attempt in range(attempts):
        proc = subprocess.Popen(
            [deno, "run", "--allow-all", "scripts/learn_federation.ts", "--nodes", str(nodes),
             *(["--layout", str(layout)] if layout is not None else ["--dim", str(dim)]),
             "--max-weight", str(max_weight), "--stage-timeout", str(stage_timeout)],
            cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            text=True,
        )
        line = proc.stdout.readline()
        if line:
            # Pass the script's stderr on (so that a full pipe never blocks it).
            threading.Thread(target=lambda: sys.stderr.writelines(proc.stderr), daemon=True).start()
            return Federation(proc, json.loads(line))
        _, err = proc.communicate(timeout=60)
        print(f"local federation start {attempt + 1} failed: {err.strip()}", file=sys.stderr)
    raise RuntimeError(f"the local federation did not start (exit {proc.returncode}): {err.strip()}")


def stop_federation(fed):
    fed.proc.stdin.close()
    try:
        fed.proc.wait(timeout=60)
    except subprocess.TimeoutExpired:
        fed.proc.terminate()
        fed.proc.wait(timeout=30)


@pytest.fixture(scope="module")
def federation():
    fed = start_federation(nodes=4, dim=12, stage_timeout=5000)
    yield fed
    stop_federation(fed)
