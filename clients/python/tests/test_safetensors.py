"""The safetensors codec and the wire layout, without a node."""
import json
import struct

import numpy as np
import pytest

from fedagg import LayoutError, UpdateRefused, layout, safetensors


def test_encode_decode_round_trip_and_reference_header():
    body = safetensors.encode([("a", [2], np.array([1, 2], "<f4").tobytes()), ("b", [], b"\0\0\x80?")])
    (n,) = struct.unpack_from("<Q", body)
    assert n % 8 == 0
    header = json.loads(body[8 : 8 + n])
    assert header == {
        "a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},
        "b": {"dtype": "F32", "shape": [], "data_offsets": [8, 12]},
    }
    assert [(name, shape) for name, shape, _ in safetensors.decode(body)] == [("a", [2]), ("b", [])]


def test_wire_order_is_code_point_order_and_restores_member_order():
    update = {"z": np.ones(2, np.float32), "B": np.zeros(1, np.float32), "a": np.full(3, 2, np.float32)}
    structure, body = layout.to_wire(update)
    assert [n for n, _, _ in safetensors.decode(body)] == ["B", "a", "z"]
    back = layout.from_wire(body, structure)
    assert list(back) == ["z", "B", "a"] and back["a"].tolist() == [2, 2, 2]


@pytest.mark.parametrize(
    "body",
    [
        b"\x01",
        struct.pack("<Q", 1000) + b"{}",
        struct.pack("<Q", 2) + b"[]",
        safetensors.encode([("a", [1], b"\0\0\0\0")]).replace(b"F32", b"I32"),
        safetensors.encode([("a", [1], b"\0\0\0\0")]) + b"\0\0\0\0",
    ],
)
def test_malformed_bodies_are_layout_errors(body):
    with pytest.raises(LayoutError):
        layout.from_wire(body)


def test_refusals_before_sending():
    with pytest.raises(UpdateRefused) as err:
        layout.to_wire({"n": np.array([1], np.int64)})
    assert err.value.code == "unsupported-dtype" and "'n'" in err.value.message
    with pytest.raises(UpdateRefused) as err:
        layout.to_wire(np.zeros((2, 2), np.float32))
    assert err.value.code == "layout"
    with pytest.raises(UpdateRefused) as err:
        layout.to_wire({"x": "text"})
    assert err.value.code == "unsupported-type"


def test_the_core_needs_no_numpy():
    """Without NumPy, flat lists and dicts of lists go out and come back as lists."""
    import os
    import subprocess
    import sys

    code = (
        "import sys; sys.modules['numpy'] = None\n"
        "from fedagg import layout\n"
        "s, b = layout.to_wire({'b': [0.5, -1.0], 'a': [2.0]})\n"
        "print(layout.from_wire(b, s), layout.from_wire(layout.to_wire([0.25] * 3)[1]))\n"
    )
    path = os.path.dirname(os.path.dirname(os.path.abspath(layout.__file__)))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env={**os.environ, "PYTHONPATH": path}, check=True)
    assert out.stdout.strip() == "{'b': [0.5, -1.0], 'a': [2.0]} [0.25, 0.25, 0.25]"
