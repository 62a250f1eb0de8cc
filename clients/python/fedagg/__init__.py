"""fedagg for Python: the client of a fedagg node's trainer API.

    from fedagg import Node
    node = Node.from_dir("/var/lib/fedagg")
    node.submit(0, model.state_dict(), num_samples=len(data))
    mean = node.aggregate(0)          # same names and shapes, once the round is final

Standard library only; NumPy and PyTorch are used when installed (``fedagg.torch``).
"""
from .client import Final, Node
from .errors import (
    ApiError,
    Busy,
    FedaggError,
    LayoutError,
    LayoutRefused,
    NodeUnreachable,
    NotYet,
    RoundFailed,
    Unauthorized,
    UpdateRefused,
    WithdrawRefused,
)
from .events import Event, EventStream

__version__ = "0.1.0"
__all__ = [
    "ApiError",
    "Busy",
    "Event",
    "EventStream",
    "FedaggError",
    "Final",
    "LayoutError",
    "LayoutRefused",
    "Node",
    "NodeUnreachable",
    "NotYet",
    "RoundFailed",
    "Unauthorized",
    "UpdateRefused",
    "WithdrawRefused",
]
