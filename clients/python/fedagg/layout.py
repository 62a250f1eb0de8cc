"""The one place that decides how an update travels: which tensors, in which order, in which
encoding. Everything else in the client calls :func:`encode` and :func:`from_wire`.

The federation fixes the layout: the roster carries the model's tensors (names, shapes, float32)
in the federation's order, and the node serves it as ``GET /v1/layout``
(:class:`FederationLayout`; :class:`~fedagg.Node` reads it once and keeps it). Before anything is
sent, :func:`encode` checks the update against it and raises :class:`~fedagg.errors.LayoutRefused`
naming the first difference (the node's wording), then sends:

* a mapping (``{name: array}``, a ``state_dict()``, an ``nn.Module``) to a layout of named
  tensors: safetensors with exactly the layout's names and shapes, in the layout's order
  (``layout-mismatch`` when a name is missing or extra or a shape differs);
* a list of tensors (``list(model.parameters())``): matched by position, so its i-th tensor must
  have the shape of the layout's i-th tensor; sent under the layout's names;
* a flat array to a layout of several tensors: raw float32 with ``?layout=flat`` (the caller's
  statement that it is the tensors' data concatenated in the layout's order); to a flat layout
  (a ``--dim`` roster: one tensor ``"aggregate"`` of shape ``[d]``): that one tensor;
* a mapping or list to a flat layout: safetensors in name order with ``?layout=flat``: the node
  concatenates the tensors in code point name order (Python's ``sorted()``), as nodes always did
  for a ``--dim`` roster, and the aggregate is cut back the same way. Only the total d is checked.

Without a federation layout (:func:`to_wire`, a node that serves none) tensors travel in name
order. Aggregates come back in the layout's names and order and are restored into the structure
the member submitted (:func:`from_wire`).

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
are refused with :class:`~fedagg.errors.LayoutRefused` code ``unsupported-dtype`` naming the
tensor; leave them out (``fedagg.torch.float_state``) and keep them local.
"""
import array
import collections
import sys

from . import safetensors
from .errors import LayoutError, LayoutRefused, UpdateRefused

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
    raise LayoutRefused(
        "unsupported-dtype",
        f"tensor {name!r} has dtype {dtype}; the federation's layout is float32 and fedagg "
        "averages floating tensors only: leave "
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


def _shape_text(shape):
    return "[" + ", ".join(str(n) for n in shape) + "]"


def _quote(name):
    short = name if len(name) <= 64 else name[:61] + "..."
    return "'" + short.replace("'", "\\'") + "'"


def _describe(name, shape):
    return f"{_quote(name)} {_shape_text(shape)}"


class FederationLayout:
    """The federation's tensor layout as the node serves it (``GET /v1/layout``): ``tensors``,
    a list of ``(name, shape)`` in the federation's order (the order of the vector and of the
    aggregate), ``dim`` (d), ``flat`` (the one tensor ``"aggregate"`` of shape ``[d]`` of a
    ``--dim`` roster) and ``hash`` (hex, or None). Every tensor is float32."""

    __slots__ = ("tensors", "dim", "flat", "hash")

    def __init__(self, tensors, hash_=None):
        self.tensors = [(str(n), tuple(int(x) for x in shape)) for n, shape in tensors]
        self.dim = sum(_count(shape) for _, shape in self.tensors)
        self.flat = (
            len(self.tensors) == 1 and self.tensors[0][0] == FLAT_NAME and len(self.tensors[0][1]) == 1
        )
        self.hash = hash_

    @classmethod
    def from_json(cls, doc):
        """The layout of a ``GET /v1/layout`` answer (or a ``layout.json``: ``{"tensors":
        [{"name", "shape"}, …]}``). Raises :class:`LayoutError` for anything else, or a dtype
        other than ``F32``."""
        if not isinstance(doc, dict) or not isinstance(doc.get("tensors"), list) or not doc["tensors"]:
            raise LayoutError(f"not a layout (no list of tensors): {str(doc)[:120]}")
        if doc.get("dtype", "F32") != "F32":
            raise LayoutError(f"the layout's dtype is {doc.get('dtype')!r}; this client sends F32 only")
        tensors = []
        for t in doc["tensors"]:
            name, shape = (t.get("name"), t.get("shape")) if isinstance(t, dict) else (None, None)
            if not isinstance(name, str) or not isinstance(shape, list) or not all(
                isinstance(n, int) and not isinstance(n, bool) and n >= 0 for n in shape
            ):
                raise LayoutError(f"the layout has a malformed tensor: {str(t)[:120]}")
            tensors.append((name, shape))
        if len({n for n, _ in tensors}) != len(tensors):
            raise LayoutError("the layout names a tensor twice")
        return cls(tensors, doc.get("hash"))

    @classmethod
    def of(cls, update):
        """The layout of ``update`` (a mapping, ``state_dict()``, module or list) in its own
        order: what ``fedagg roster create --layout`` should get for this model (see
        :meth:`to_json`). Raises :class:`LayoutRefused` for a non-floating tensor."""
        return cls([(s.name, s.shape) for s in describe(update)[0].specs])

    def to_json(self):
        """``{"tensors": [{"name", "shape"}, …]}``: a ``layout.json`` for ``fedagg roster create
        --layout`` (the order is kept)."""
        return {"tensors": [{"name": n, "shape": list(s)} for n, s in self.tensors]}

    def __repr__(self):
        return f"FederationLayout({len(self.tensors)} tensors, d={self.dim}, flat={self.flat})"


def _count(shape):
    n = 1
    for s in shape:
        n *= int(s)
    return n


def first_difference(federation, specs):
    """One sentence naming where the tensors ``specs`` (matched by name, any order) first differ
    from ``federation``'s, in the node's words (``layout-mismatch``), or None when they are the
    same names with the same shapes. Walks the federation's order: the first tensor missing or of
    another shape; else the first extra name. Up to 5 extra names are listed."""
    by_name = {s.name: s for s in specs}
    known = {n for n, _ in federation.tensors}
    extra = [s for s in specs if s.name not in known]
    extra_text = ""
    if extra:
        listed = ", ".join(_describe(s.name, s.shape) for s in extra[:5])
        more = f" and {len(extra) - 5} more" if len(extra) > 5 else ""
        extra_text = f"; the update's tensor(s) {listed}{more} are not in it"
    for index, (name, shape) in enumerate(federation.tensors):
        spec = by_name.get(name)
        if spec is None:
            return (
                f"the federation's tensor {index} {_describe(name, shape)} is missing from the "
                f"update{extra_text}"
            )
        if tuple(spec.shape) != tuple(shape):
            return (
                f"tensor {index} {_quote(name)} has shape {_shape_text(spec.shape)} in the update, "
                f"the federation's layout says {_shape_text(shape)}{extra_text}"
            )
    if extra:
        return f"the update has every tensor of the federation's layout and more{extra_text}"
    return None


class Upload:
    """What :func:`encode` decided: the ``structure`` to restore the aggregate into, the
    ``body`` and its ``content_type``, and ``flat`` (send ``?layout=flat``)."""

    __slots__ = ("structure", "body", "content_type", "flat")

    def __init__(self, structure, body, content_type, flat):
        self.structure, self.body, self.content_type, self.flat = structure, body, content_type, flat


SAFETENSORS = "application/x-safetensors"
RAW = "application/octet-stream"


def describe(update):
    """``(structure, {name: float32 bytes})`` of ``update`` in the member's order. Raises
    :class:`LayoutRefused` (``unsupported-dtype``) for integer or boolean tensors and
    :class:`UpdateRefused` for unsupported objects or names."""
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
    return Structure(container, specs, mapping_type), data


def _wrong_length(structure, federation, flat):
    what = "a flat vector" if structure.container == "flat" else f"{len(structure.specs)} tensor(s)"
    kind = "flat layout" if federation.flat else f"layout of {len(federation.tensors)} tensors"
    hint = " (concatenated in name order)" if flat and structure.container != "flat" else ""
    raise LayoutRefused(
        "wrong-length",
        f"the update holds {structure.dim} float32 values in {what}{hint}; the federation's "
        f"{kind} holds d = {federation.dim}",
    )


def encode(update, federation=None):
    """The :class:`Upload` of ``update`` for a federation whose layout is ``federation`` (a
    :class:`FederationLayout`; None: name-ordered safetensors, unchecked). See the module doc
    for what is sent when. Raises :class:`LayoutRefused` (status None) before anything is sent:
    ``layout-mismatch`` naming the first difference in names or shapes, ``wrong-length`` for
    a total other than d, ``unsupported-dtype`` for a non-floating tensor."""
    structure, data = describe(update)
    if federation is None:
        order = structure.wire_order()
        body = safetensors.encode([(s.name, s.shape, data[s.name]) for s in order])
        return Upload(structure, body, SAFETENSORS, False)
    if federation.flat:
        if structure.dim != federation.dim:
            _wrong_length(structure, federation, structure.container != "flat")
        if structure.container == "flat":
            spec = structure.specs[0]
            body = safetensors.encode([(FLAT_NAME, (federation.dim,), data[spec.name])])
            return Upload(structure, body, SAFETENSORS, False)
        order = structure.wire_order()
        body = safetensors.encode([(s.name, s.shape, data[s.name]) for s in order])
        return Upload(structure, body, SAFETENSORS, True)
    if structure.container == "flat":
        if structure.dim != federation.dim:
            _wrong_length(structure, federation, True)
        return Upload(structure, data[structure.specs[0].name], RAW, True)
    if structure.container == "list":
        if len(structure.specs) != len(federation.tensors):
            raise LayoutRefused(
                "layout-mismatch",
                f"the update is a list of {len(structure.specs)} tensors, the federation's layout "
                f"has {len(federation.tensors)} (a list is matched by position)",
            )
        renamed = {}
        for index, (spec, (name, shape)) in enumerate(zip(structure.specs, federation.tensors)):
            if tuple(spec.shape) != tuple(shape):
                raise LayoutRefused(
                    "layout-mismatch",
                    f"tensor {index} of the list has shape {_shape_text(spec.shape)}, the "
                    f"federation's tensor {index} {_describe(name, shape)} (a list is matched by "
                    "position)",
                )
            renamed[name] = data[spec.name]
            spec.name = name
        data = renamed
    else:
        difference = first_difference(federation, structure.specs)
        if difference is not None:
            raise LayoutRefused(
                "layout-mismatch",
                f"{difference}. Send the tensors of the roster's layout (names and shapes; "
                "GET /v1/layout), or a flat vector in its order",
            )
    body = safetensors.encode([(n, s, data[n]) for n, s in federation.tensors])
    return Upload(structure, body, SAFETENSORS, False)


def to_wire(update, federation=None):
    """``(structure, body)`` of :func:`encode` (the safetensors or raw body to POST)."""
    upload = encode(update, federation)
    return upload.structure, upload.body


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
    if structure.container == "flat" and got == structure.dim:
        # A flat update: the aggregate's tensors (the federation's order) concatenated.
        return _rebuild(structure.specs[0], b"".join(d for _, _, d in tensors))
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
