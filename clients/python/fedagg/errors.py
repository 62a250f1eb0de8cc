"""Typed errors of the fedagg client.

Every refusal of the node becomes a :class:`FedaggError` subclass carrying the node's error
``code`` (the ``"error"`` of its JSON answer, or its ``"reason"`` when the node answered
``"rejected"``), its ``message`` and the HTTP ``status``. The client never lets a bare
``urllib.error.HTTPError`` or ``URLError`` escape.
"""


class FedaggError(Exception):
    """Base class. ``code`` is the node's stable error code (see ``STATUS`` in node/http_api.ts),
    ``status`` the HTTP status (None when the client refused before sending), ``message`` the
    node's explanation."""

    def __init__(self, code, message, status=None):
        super().__init__(f"{code}: {message}" if code else message)
        self.code = code
        self.message = message
        self.status = status


class Unauthorized(FedaggError):
    """401: missing or wrong bearer token (compare with NODE_DIR/api.token)."""


class NotYet(FedaggError):
    """404 ``not-yet`` / ``not-final``: no aggregate or no final certificate for the round yet."""


class UpdateRefused(FedaggError):
    """The update was refused: by the node (a format code such as ``wrong-length``,
    ``non-finite``, ``unsupported-dtype``, or a rejection reason such as ``already-submitted``,
    ``invalid-num-samples``, ``round-too-far-ahead``) or by the client before sending (``status``
    is None), e.g. an integer tensor (``unsupported-dtype``)."""


class WithdrawRefused(FedaggError):
    """A withdrawal the node refused: ``nothing-to-withdraw`` (404), ``committed`` or
    ``decided`` (409)."""


class Busy(FedaggError):
    """503 ``busy`` / ``too-many-connections`` after the client's retries (``retry_after``
    seconds was the node's last hint)."""

    def __init__(self, code, message, status=None, retry_after=None):
        super().__init__(code, message, status)
        self.retry_after = retry_after


class NodeUnreachable(FedaggError):
    """The node did not answer: not running, wrong URL, or the connection broke. ``code`` is
    ``"unreachable"``."""

    def __init__(self, message):
        super().__init__("unreachable", message, None)


class RoundFailed(FedaggError):
    """The node reported ``round-failed`` for the round this call waited for; ``code`` is the
    failure reason the node gave."""

    def __init__(self, round_, reason):
        super().__init__(reason or "round-failed", f"round {round_} failed: {reason}", None)
        self.round = round_


class LayoutError(FedaggError):
    """Something does not fit a tensor layout: an aggregate that does not fit the structure it
    should be restored into, a malformed safetensors body or layout (``code`` ``"layout"``), or an
    update that does not fit the federation's layout (:class:`LayoutRefused`)."""

    def __init__(self, message, code="layout", status=None):
        super().__init__(code, message, status)


class LayoutRefused(LayoutError, UpdateRefused):
    """An update that does not fit the federation's layout (``GET /v1/layout``), refused by the
    client before sending (``status`` None) or by the node (``status`` 422), with the node's
    code: ``layout-mismatch`` (names or shapes differ: the message names the first difference),
    ``flat-upload``, ``wrong-length`` (the total differs from d) or ``unsupported-dtype`` (a tensor
    that is not floating: the layout is float32). Both a :class:`LayoutError` and an
    :class:`UpdateRefused`."""

    def __init__(self, code, message, status=None):
        FedaggError.__init__(self, code, message, status)


#: The node's update refusals that are about the layout (raised as :class:`LayoutRefused`).
LAYOUT_CODES = ("layout-mismatch", "flat-upload", "wrong-length", "unsupported-dtype")


class ApiError(FedaggError):
    """Any other refusal of the node (e.g. 500 ``internal``, 503 ``journal-corrupt``)."""


def from_response(status, body, *, route, retry_after=None):
    """The typed error of a refused request: ``status`` and the JSON ``body`` (bytes) the node
    answered on ``route`` (``"update"``, ``"withdraw"`` or another name)."""
    import json

    code, message = None, ""
    try:
        doc = json.loads(body.decode("utf-8"))
        code = doc.get("reason") if doc.get("error") == "rejected" else doc.get("error")
        message = str(doc.get("message", ""))
    except (ValueError, UnicodeDecodeError, AttributeError):
        message = body[:200].decode("utf-8", "replace")
    code = code or f"http-{status}"
    if status == 401:
        return Unauthorized(code, message, status)
    if status == 503 and code in ("busy", "too-many-connections"):
        return Busy(code, message, status, retry_after)
    if route == "update" and 400 <= status < 500:
        if code in LAYOUT_CODES:
            return LayoutRefused(code, message, status)
        return UpdateRefused(code, message, status)
    if route == "withdraw" and status in (404, 409):
        return WithdrawRefused(code, message, status)
    if status == 404 and code in ("not-yet", "not-final"):
        return NotYet(code, message, status)
    return ApiError(code, message, status)
