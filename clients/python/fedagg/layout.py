"""The one place that decides how an update travels: which tensors, in which order, in which
encoding. Everything else in the client calls :func:`to_wire` and :func:`from_wire`.

Today the wire order is the node's canonical order: tensors sorted by name in code point order
(Python's ``sorted()``), sent as safetensors with ``F32`` tensors, so the node flattens them in
that order and every member's i-th value means the same weight. (When the roster fixes a tensor
layout of its own, this module is what adapts to it.)

What ``update`` may be:

* a flat sequence of numbers (list, tuple, ``array.array``) or a 1-D NumPy array: one tensor
  named ``"aggregate"`` of shape ``[d]``; restored as a NumPy array (a list without NumPy);
* a mapping ``{name: array}`` of NumPy arrays, PyTorch tensors or flat sequences (a PyTorch
  ``state_dict()`` is one): restored as a mapping of the same type with the same names, shapes,
  dtypes and (for tensors) devices;
* a PyTorch ``nn.Module``: its ``named_parameters()`` (trainable weights, no buffers), restored
  as an ``OrderedDict`` of tensors that ``fedagg.torch.load`` writes back;
* a list of tensors or arrays (e.g. ``list(model.parameters())``): restored as a list.

Only floating tensors are aggregated: float16, bfloat16 and float64 values travel as float32 and
are restored to their dtype. Integer and boolean tensors (BatchNorm's ``num_batches_tracked``)
are refused with :class:`~fedagg.errors.UpdateRefused` code ``unsupported-dtype`` naming the
tensor; leave them out (``fedagg.torch.float_state``) and keep them local.
"""
import array
import collections
import sys

from . import safetensors
from .errors import LayoutError, UpdateRefused

try:
    import numpy as np
except ImportError:  # NumPy is optional
    np = None

#: The name of the single tensor of a flat update (the node's name for raw and .npy bodies).
FLAT_NAME = "aggregate"


class Spec:
    """One tensor of a structure: its name, shape and how to rebuild it (``kind`` is
    ``"numpy"``, ``"torch"`` or ``"list"``; ``dtype``/``device`` those of the original)."""

    __slots__ = ("name", "shape", "kind", "dtype", "device")

    def __init__(self, name, shape, kind, dtype=None, device=None):
        self.name, self.shape, self.kind = name, tuple(int(s) for s in shape), kind
        self.dtype, self.device = dtype, device

    @property
    def size(self):
        n = 1
        for s in self.shape:
            n *= s
        return n

    def __repr__(self):
        return f"Spec({self.name!r}, {list(self.shape)}, {self.kind})"


class Structure:
    """What a member submitted, without the values: the container (``"flat"``, ``"mapping"``,
    ``"list"``), its type for mappings, and the tensors in the member's order."""

    __slots__ = ("container", "mapping_type", "specs")

    def __init__(self, container, specs, mapping_type=None):
        self.container, self.specs, self.mapping_type = container, list(specs), mapping_type

    @property
    def dim(self):
        """The total number of values (the roster's d must equal it)."""
        return sum(s.size for s in self.specs)

    def wire_order(self):
        """The specs in the order they travel (see the module doc)."""
        return sorted(self.specs, key=lambda s: s.name)


def _is_torch(x):
    return type(x).__module__.split(".")[0] == "torch"


def _refuse_dtype(name, dtype):
    raise UpdateRefused(
        "unsupported-dtype",
        f"tensor {name!r} has dtype {dtype}; fedagg averages floating tensors only: leave "
        "integer and boolean buffers out (fedagg.torch.float_state) and keep them local",
    )


def _tensor_bytes(name, value):
    """(Spec, little-endian float32 bytes) of one tensor-like value."""
    if _is_torch(value):
        import torch

        if not value.is_floating_point():
            _refuse_dtype(name, value.dtype)
        spec = Spec(name, value.shape, "torch", value.dtype, value.device)
        flat = value.detach().to(device="cpu", dtype=torch.float32).contiguous().reshape(-1)
        return spec, flat.numpy().astype("<f4", copy=False).tobytes()
    if np is not None and isinstance(value, (np.ndarray, np.generic)):
        if value.dtype.kind != "f":
            _refuse_dtype(name, value.dtype)
        raw = np.ascontiguousarray(value, "<f4").tobytes()
        return Spec(name, value.shape, "numpy", value.dtype), raw
    if isinstance(value, array.array):
        if value.typecode not in "fd":
            _refuse_dtype(name, f"array('{value.typecode}')")
    elif isinstance(value, (list, tuple)):
        if not _all_numbers(value):
            _refuse_dtype(name, "a sequence that is not all numbers")
    else:
        raise UpdateRefused(
            "unsupported-type", f"tensor {name!r}: cannot send a {type(value).__name__}"
        )
    a = array.array("f", value)
    if sys.byteorder == "big":
        a.byteswap()
    kind = "numpy" if np is not None else "list"
    return Spec(name, [len(a)], kind, None), a.tobytes()


def _is_seq(x):
    return isinstance(x, (list, tuple, array.array))


def _all_numbers(seq):
    return all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in seq)


def _named(update):
    """(container, mapping type, [(name, value)]) of an update in the member's order."""
    if hasattr(update, "named_parameters") and callable(update.named_parameters):
        return "mapping", collections.OrderedDict, list(update.named_parameters())
    if isinstance(update, collections.abc.Mapping):
        return "mapping", type(update), list(update.items())
    if _is_torch(update) or (np is not None and isinstance(update, np.ndarray)):
        if len(update.shape) != 1:
            raise UpdateRefused(
                "layout",
                f"a flat update must be 1-D, got shape {list(update.shape)}: pass a "
                "{name: array} dict to keep shapes",
            )
        return "flat", None, [(FLAT_NAME, update)]
    if _is_seq(update) and (len(update) == 0 or not hasattr(update[0], "shape")):
        return "flat", None, [(FLAT_NAME, update)]
    items = list(update)  # a list or generator of tensors (model.parameters())
    width = max(6, len(str(len(items))))
    return "list", None, [(f"{i:0{width}d}", v) for i, v in enumerate(items)]


def to_wire(update):
    """``(structure, body)``: the :class:`Structure` of ``update`` and the safetensors body to
    POST. Raises :class:`UpdateRefused` (status None) for integer or boolean tensors
    (``unsupported-dtype``), unsupported objects or non-string names."""
    container, mapping_type, items = _named(update)
    specs, data = [], {}
    for name, value in items:
        if not isinstance(name, str):
            raise UpdateRefused("layout", f"tensor names must be strings, got {name!r}")
        if name in data:
            raise UpdateRefused("layout", f"tensor name {name!r} appears twice")
        spec, raw = _tensor_bytes(name, value)
        specs.append(spec)
        data[name] = raw
    structure = Structure(container, specs, mapping_type)
    body = safetensors.encode([(s.name, s.shape, data[s.name]) for s in structure.wire_order()])
    return structure, body


def _rebuild(spec, raw):
    if spec.kind == "list":
        a = array.array("f")
        a.frombytes(raw)
        if sys.byteorder == "big":
            a.byteswap()
        return list(a)
    arr = np.frombuffer(raw, dtype="<f4").reshape(spec.shape)
    if spec.kind == "torch":
        import torch

        return torch.from_numpy(arr.astype("float32")).to(device=spec.device, dtype=spec.dtype)
    return arr.astype(spec.dtype if spec.dtype is not None else "float32")


def from_wire(body, structure=None):
    """The aggregate in ``body`` (safetensors) restored into ``structure`` (what the member
    submitted). Without a structure: a flat NumPy array (list without NumPy) when the body
    holds the single ``"aggregate"`` tensor, else a dict of arrays by name. Raises
    :class:`LayoutError` when names, shapes or the total differ from the structure."""
    tensors = safetensors.decode(body)
    if structure is None:
        if np is None:
            structure = Structure("mapping", [Spec(n, s, "list") for n, s, _ in tensors], dict)
        else:
            structure = Structure("mapping", [Spec(n, s, "numpy") for n, s, _ in tensors], dict)
        if len(tensors) == 1 and tensors[0][0] == FLAT_NAME:
            structure.container = "flat"
    by_name = {n: (s, d) for n, s, d in tensors}
    got = sum(len(d) for _, _, d in tensors) // 4
    if by_name.keys() != {s.name for s in structure.specs}:
        if got == structure.dim and len(tensors) == 1:
            # The node knew no layout for this member (it did not submit): one flat tensor.
            return _split(tensors[0][2], structure)
        missing = sorted({s.name for s in structure.specs} - by_name.keys())[:3]
        extra = sorted(by_name.keys() - {s.name for s in structure.specs})[:3]
        raise LayoutError(
            f"the aggregate's tensors differ from the submitted ones (missing {missing}, "
            f"unexpected {extra}; {got} values, expected {structure.dim})"
        )
    for spec in structure.specs:
        shape = tuple(by_name[spec.name][0])
        if shape != spec.shape:
            raise LayoutError(
                f"tensor {spec.name!r}: the aggregate has shape {list(shape)}, "
                f"expected {list(spec.shape)}"
            )
    return _assemble(structure, {s.name: _rebuild(s, by_name[s.name][1]) for s in structure.specs})


def _split(raw, structure):
    """A flat float32 body cut into the structure's tensors in wire order."""
    out, offset = {}, 0
    for spec in structure.wire_order():
        out[spec.name] = _rebuild(spec, raw[offset : offset + 4 * spec.size])
        offset += 4 * spec.size
    return _assemble(structure, out)


def _assemble(structure, values):
    if structure.container == "flat":
        return values[structure.specs[0].name]
    if structure.container == "list":
        return [values[s.name] for s in structure.specs]
    mapping_type = structure.mapping_type or dict
    pairs = [(s.name, values[s.name]) for s in structure.specs]
    try:
        return mapping_type(pairs)
    except TypeError:
        return dict(pairs)
