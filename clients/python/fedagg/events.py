"""The node's server-sent events (``GET /v1/events``) as a reconnecting iterator.

A background thread holds the stream, parses it and hands events over a queue; when the stream
ends or the node is down it reconnects with a backoff (0.2 s doubling to 2 s), sending
``Last-Event-ID`` when the node numbers its events, so a restarted node is followed again.
Events the node emitted while no stream was open may be missed: callers that must not miss an
outcome (``Node.wait_final``) re-check the node's state after every (re)connection, which the
iterator reports as :data:`CONNECTED` markers when asked to (``markers=True``).
"""
import http.client
import json
import queue
import socket
import threading
import urllib.parse

from .errors import Busy, NodeUnreachable, from_response

#: A marker yielded (with ``markers=True``) each time the stream (re)connects.
CONNECTED = "connected"


class Event:
    """One server-sent event: ``type`` (``published``, ``final``, ``round-failed``,
    ``withdrawn``, ``outcome-unknown``), ``data`` (the parsed JSON: ``round``, ``view``,
    ``members``, ``reason``), ``id`` (None unless the node numbers events)."""

    __slots__ = ("type", "data", "id")

    def __init__(self, type_, data, id_=None):
        self.type, self.data, self.id = type_, data, id_

    @property
    def round(self):
        """The event's round (None if it carries none)."""
        return self.data.get("round") if isinstance(self.data, dict) else None

    def __repr__(self):
        return f"Event({self.type!r}, {self.data!r})"


class EventStream:
    """Iterator over a node's events; reconnects until :meth:`close` (also a context manager).
    ``get(timeout)`` returns the next item or None after ``timeout`` seconds. A node that is down
    or at its connection cap is retried; any other refusal (a wrong token:
    :class:`~fedagg.errors.Unauthorized`) is not: it is raised from the iterator."""

    def __init__(self, node, *, markers=False, read_timeout=60.0):
        self._node = node
        self._markers = markers
        self._read_timeout = read_timeout
        self._queue = queue.Queue()
        self._closed = threading.Event()
        self._sock = None
        self.last_event_id = None
        self._thread = threading.Thread(target=self._run, name="fedagg-events", daemon=True)
        self._thread.start()

    def __iter__(self):
        return self

    def __next__(self):
        item = self.get(None)
        if item is None:
            raise StopIteration
        return item

    def get(self, timeout=None):
        """The next event (or :data:`CONNECTED` marker); None after ``timeout`` seconds or once
        closed. Raises the error that ended the stream for good (a wrong token)."""
        if self._closed.is_set() and self._queue.empty():
            return None
        try:
            item = self._queue.get(timeout=timeout)
        except queue.Empty:
            return None
        if isinstance(item, BaseException):
            self.close()
            raise item
        return item

    def close(self):
        """Stops following the stream (idempotent)."""
        self._closed.set()
        sock = self._sock
        if sock is not None:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        self._queue.put(None)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def _run(self):
        backoff = 0.2
        while not self._closed.is_set():
            try:
                self._follow()
                backoff = 0.2
            except (NodeUnreachable, Busy):
                pass
            except (OSError, http.client.HTTPException):
                pass
            except Exception as err:  # a refusal (401): not worth retrying
                self._queue.put(err)
                return
            if self._closed.wait(backoff):
                return
            backoff = min(2.0, backoff * 2)

    def _follow(self):
        url = urllib.parse.urlsplit(self._node.url)
        conn = http.client.HTTPConnection(url.hostname, url.port, timeout=10)
        try:
            conn.connect()
        except OSError as err:
            self._node._url_stale()
            raise NodeUnreachable(f"cannot reach {self._node.url}: {err}") from None
        self._sock = conn.sock
        try:
            headers = {"Authorization": f"Bearer {self._node.token}", "Accept": "text/event-stream"}
            if self.last_event_id is not None:
                headers["Last-Event-ID"] = self.last_event_id
            conn.request("GET", "/v1/events", headers=headers)
            res = conn.getresponse()
            if res.status != 200:
                raise from_response(res.status, res.read(), route="events")
            self._sock.settimeout(self._read_timeout)  # keep-alive comments come every 15 s
            if self._markers:
                self._queue.put(CONNECTED)
            self._parse(res)
        finally:
            self._sock = None
            conn.close()

    def _parse(self, res):
        kind, data, id_ = None, [], None
        while not self._closed.is_set():
            line = res.readline()
            if not line:
                return  # the stream ended (node stopped): reconnect
            line = line.decode("utf-8", "replace").rstrip("\r\n")
            if line == "":
                if data:
                    text = "\n".join(data)
                    try:
                        payload = json.loads(text)
                    except ValueError:
                        payload = text
                    if id_ is not None:
                        self.last_event_id = id_
                    self._queue.put(Event(kind or "message", payload, id_))
                kind, data, id_ = None, [], None
            elif line.startswith(":"):
                continue
            else:
                field, _, value = line.partition(":")
                value = value[1:] if value.startswith(" ") else value
                if field == "event":
                    kind = value
                elif field == "data":
                    data.append(value)
                elif field == "id":
                    id_ = value
