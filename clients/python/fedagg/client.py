"""The trainer's side of one fedagg node: :class:`Node`.

Standard library only (``urllib``); NumPy and PyTorch are used when the update holds them.
Every refusal is a typed :class:`~fedagg.errors.FedaggError` carrying the node's code.
"""
import collections
import http.client
import json
import os
import time
import urllib.error
import urllib.request

from . import layout
from .errors import (
    ApiError,
    Busy,
    LayoutRefused,
    NodeUnreachable,
    NotYet,
    RoundFailed,
    UpdateRefused,
    from_response,
)
from .events import CONNECTED, EventStream

# The node's API is local: never route it through an HTTP proxy named in the environment.
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


_UNKNOWN = object()


class Final:
    """A round's final outcome at this node: ``round``, ``view`` and ``members`` (the ids the
    final certificate lists: whose updates the aggregate averages)."""

    __slots__ = ("round", "view", "members")

    def __init__(self, round_, view, members):
        self.round, self.view, self.members = round_, view, members

    def __repr__(self):
        return f"Final(round={self.round}, view={self.view}, members={len(self.members)})"


def _final_of(round_, headers):
    h = {k.lower(): v for k, v in headers.items()}
    members = [m for m in h.get("x-fedagg-members", "").split(",") if m]
    return Final(round_, int(h.get("x-fedagg-view", "0")), members)


class Node:
    """A client of one node's trainer API at ``url`` with bearer ``token``.

    ``timeout`` bounds each request (seconds); a ``busy`` answer is retried ``retries`` times
    after the node's ``Retry-After``. Structures submitted are remembered per round (the newest
    32 rounds) so that :meth:`aggregate` returns the same names, shapes and types. The
    federation's layout is read once (:meth:`layout`) and every update is checked against it.
    """

    def __init__(self, url, token, *, timeout=60.0, retries=5, node_dir=None):
        self.url = url.rstrip("/")
        self.token = token.strip()
        self.timeout = timeout
        self.retries = retries
        self._node_dir = node_dir
        self._structures = collections.OrderedDict()
        self._layout = _UNKNOWN

    @classmethod
    def from_dir(cls, node_dir, **kwargs):
        """The node whose directory is ``node_dir``: the token from ``api.token``, the URL from
        ``api.json`` (written by ``fedagg run``; re-read when the node cannot be reached, so a
        restarted node is found again). Raises :class:`NodeUnreachable` when the node has not
        written ``api.json`` (not running) and ``FileNotFoundError`` without ``api.token``."""
        with open(os.path.join(node_dir, "api.token")) as f:
            token = f.read().strip()
        node = cls("http://unknown", token, node_dir=node_dir, **kwargs)
        if not node._url_stale():
            raise NodeUnreachable(f"{node_dir}/api.json is missing: is `fedagg run` running?")
        return node

    def _url_stale(self):
        """Re-reads the URL from the node directory (if known); whether one was found."""
        if self._node_dir is None:
            return True
        try:
            with open(os.path.join(self._node_dir, "api.json")) as f:
                self.url = json.load(f)["url"].rstrip("/")
            return True
        except (OSError, ValueError, KeyError):
            return False

    # ---- transport --------------------------------------------------------------------------

    def _request(self, method, path, body=None, content_type=None, route=None, timeout=None):
        """``(status, headers, body)`` of a 2xx answer; raises the typed error of any other."""
        for attempt in range(self.retries + 1):
            req = urllib.request.Request(self.url + path, data=body, method=method)
            req.add_header("Authorization", f"Bearer {self.token}")
            if content_type:
                req.add_header("Content-Type", content_type)
            try:
                with _OPENER.open(req, timeout=timeout or self.timeout) as res:
                    return res.status, dict(res.headers), res.read()
            except urllib.error.HTTPError as err:
                retry_after = err.headers.get("Retry-After") if err.headers else None
                payload = err.read()
                err.close()
                refused = from_response(err.code, payload, route=route, retry_after=retry_after)
                if isinstance(refused, Busy) and attempt < self.retries:
                    time.sleep(float(retry_after or 1))
                    continue
                raise refused from None
            except (urllib.error.URLError, OSError, http.client.HTTPException) as err:
                self._url_stale()
                reason = getattr(err, "reason", err)
                raise NodeUnreachable(f"{method} {self.url}{path}: {reason}") from None
        raise AssertionError("unreachable")

    # ---- the API ----------------------------------------------------------------------------

    def status(self):
        """The node's status (``GET /v1/status``) as a dict: ``currentRound``, ``round``,
        ``stage``, ``lastFinalRound``, ``peers``, ``lastError``…"""
        return json.loads(self._request("GET", "/v1/status")[2])

    def layout(self):
        """The federation's tensor layout (``GET /v1/layout``) as a
        :class:`~fedagg.layout.FederationLayout`: names and shapes in the federation's order.
        Read once and kept (a node's roster does not change while it runs); read again after the
        node refused an update for its layout (it may have restarted with another roster). None
        for a node that serves no layout (older than layouts: updates then go in name order)."""
        if self._layout is _UNKNOWN:
            try:
                doc = json.loads(self._request("GET", "/v1/layout")[2])
            except ApiError as err:
                if err.status != 404 or err.code != "not-found":
                    raise
                self._layout = None
            else:
                self._layout = layout.FederationLayout.from_json(doc)
        return self._layout

    def submit(self, round_, update, num_samples):
        """Hands this member's ``update`` for ``round_`` to the node, weighted by
        ``num_samples`` (an integer in [1, the roster's maxWeight]). ``update`` is a flat float
        array, a ``{name: array}`` dict, a PyTorch ``state_dict()``, an ``nn.Module`` or a list
        of tensors (see :mod:`fedagg.layout`). Returns the node's answer (``format``, ``values``).

        Raises :class:`UpdateRefused` with the node's code (``wrong-length``, ``non-finite``,
        ``already-submitted``, ``invalid-num-samples``, ``round-too-far-ahead``, …) or, before
        sending, ``num-samples`` for a count that is not a positive integer. An update that does not
        fit the federation's layout (:meth:`layout`) raises :class:`~fedagg.errors.LayoutRefused`
        (an ``UpdateRefused``) naming the first difference, before sending (``status`` None) or,
        should the node see one the client did not, with the node's 422 code
        (``layout-mismatch``, ``flat-upload``, ``wrong-length``)."""
        if isinstance(num_samples, bool) or not isinstance(num_samples, int) or num_samples < 1:
            raise UpdateRefused("num-samples", f"num_samples must be a positive int, got {num_samples!r}")
        upload = layout.encode(update, self.layout())
        flat = "&layout=flat" if upload.flat else ""
        try:
            answer = self._request(
                "POST",
                f"/v1/rounds/{int(round_)}/update?num_samples={num_samples}{flat}",
                upload.body,
                upload.content_type,
                route="update",
            )[2]
        except LayoutRefused:
            self._layout = _UNKNOWN  # read it again next time: the node may run another roster
            raise
        structure = upload.structure
        self._structures[int(round_)] = structure
        while len(self._structures) > 32:
            self._structures.popitem(last=False)
        return json.loads(answer)

    def withdraw(self, round_):
        """Withdraws this member's update for ``round_`` while its masked input has not left.
        Raises :class:`~fedagg.errors.WithdrawRefused` (``nothing-to-withdraw``, ``committed``,
        ``decided``)."""
        answer = self._request("DELETE", f"/v1/rounds/{int(round_)}/update", route="withdraw")[2]
        self._structures.pop(int(round_), None)
        return json.loads(answer)

    def certificate(self, round_):
        """The round's final certificate (CBOR bytes); :class:`NotYet` until it is final."""
        return self._request("GET", f"/v1/rounds/{int(round_)}/certificate")[2]

    def result(self, round_, *, wait=True, timeout=600.0, like=None):
        """``(values, final)``: the round's weighted mean restored into the structure this
        member submitted (or ``like``: an update of the same structure, e.g. the model), and its
        :class:`Final` (view, members). With ``wait`` it first waits for the final certificate
        (:meth:`wait_final`); without, it raises :class:`NotYet` when nothing is published and
        returns whatever is published (``final`` then says whether the round is final)."""
        if wait:
            self.wait_final(round_, timeout=timeout)
        _, headers, body = self._request("GET", f"/v1/rounds/{int(round_)}/aggregate?format=safetensors")
        if like is not None:
            structure = layout.encode(like, self.layout()).structure
        else:
            structure = self._structures.get(int(round_))
        final = _final_of(int(round_), headers)
        is_final = {k.lower(): v for k, v in headers.items()}.get("x-fedagg-final") == "true"
        return layout.from_wire(body, structure), (final if is_final else None)

    def aggregate(self, round_, *, wait=True, timeout=600.0, like=None):
        """The round's weighted mean in the structure this member submitted (see :meth:`result`)."""
        return self.result(round_, wait=wait, timeout=timeout, like=like)[0]

    def events(self, *, markers=False):
        """An iterator over the node's server-sent events that reconnects when the stream ends
        or the node restarts (:class:`~fedagg.events.EventStream`; close it when done)."""
        return EventStream(self, markers=markers)

    def wait_final(self, round_, timeout=600.0, poll=5.0):
        """Waits until ``round_`` is final at this node and returns its :class:`Final`. Wakes on
        the node's events and re-checks the node after every (re)connection and every ``poll``
        seconds, so an event missed while the node restarted is not waited for in vain. Raises
        :class:`RoundFailed` when the node reports the round failed, ``TimeoutError`` after
        ``timeout`` seconds (the node being down meanwhile is not an error)."""
        round_ = int(round_)
        deadline = time.monotonic() + timeout
        with self.events(markers=True) as stream:
            while True:
                try:
                    _, headers, _ = self._request("GET", f"/v1/rounds/{round_}/certificate")
                    return _final_of(round_, headers)
                except (NotYet, NodeUnreachable):
                    pass
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"round {round_} did not become final within {timeout} s")
                wait_until = time.monotonic() + min(poll, left)
                while True:
                    item = stream.get(max(0.0, wait_until - time.monotonic()))
                    if item is None or item == CONNECTED:
                        break
                    if item.type == "round-failed" and item.round == round_:
                        raise RoundFailed(round_, item.data.get("reason"))
                    if item.type in ("final", "published") and item.round is not None and item.round >= round_:
                        break
