"""A TCP proxy for the tests that can hold back one reply: the client's socket timeout fires
although the server already ran the command, as after a fork pause or a failover (or, once the
reply was cut, every later connection is refused, as when the server went away)."""

from __future__ import annotations

import contextlib
import socket
import threading

__all__ = ["DelayingProxy"]


class DelayingProxy:
    """Forwards 127.0.0.1:`port` to `target_port`. After `hold_next_reply(marker)`, the reply to
    the next request holding `marker` (on any connection) is never delivered while the
    connection stays open, so the client's read times out; `held` is set once the reply arrived,
    i.e. once the server ran the command."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self._listener.getsockname()[1]
        self._marker: bytes | None = None
        self._cut = False
        self._refuse_after_cut = False
        self.refusing = False
        self.held = threading.Event()
        self._lock = threading.Lock()
        self._sockets: list[socket.socket] = []
        self._closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def remap(self, address: tuple[str, int]) -> tuple[str, int]:
        """For a cluster client's `address_remap`: this proxy's address for its target node."""
        return ("127.0.0.1", self.port) if address[1] == self.target_port else address

    def hold_next_reply(
        self, marker: bytes = b"EVALSHA", *, cut: bool = False, then_refuse: bool = False
    ) -> None:
        """Swallow the server's reply to the next request that holds `marker`; with `cut`, close
        that connection too (a failover) instead of leaving the client to time out, and with
        `then_refuse` close every connection made after it as soon as it is accepted."""
        with self._lock:
            self.held.clear()
            self._marker = marker
            self._cut = cut
            self._refuse_after_cut = then_refuse

    def disarm(self) -> None:
        """Swallow nothing more."""
        with self._lock:
            self._marker = None

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            if self.refusing:
                client.close()
                continue
            server = socket.create_connection(("127.0.0.1", self.target_port))
            with self._lock:
                self._sockets += [client, server]
            hold = threading.Event()  # this connection's next reply is to be swallowed
            threading.Thread(
                target=self._pump, args=(client, server, hold, False), daemon=True
            ).start()
            threading.Thread(
                target=self._pump, args=(server, client, hold, True), daemon=True
            ).start()

    def _pump(
        self, source: socket.socket, sink: socket.socket, hold: threading.Event, replies: bool
    ) -> None:
        try:
            while data := source.recv(65536):
                if replies and hold.is_set():
                    hold.clear()
                    self.refusing = self._cut and self._refuse_after_cut
                    self.held.set()
                    if self._cut:
                        break
                    continue
                if not replies and self._take_hold(data):
                    hold.set()
                sink.sendall(data)
        except OSError:
            pass
        for sock in (source, sink):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()

    def _take_hold(self, request: bytes) -> bool:
        with self._lock:
            if self._marker is not None and self._marker in request:
                self._marker = None
                return True
            return False

    def close(self) -> None:
        self._listener.close()
        with self._lock:
            sockets, self._sockets = self._sockets, []
        for sock in sockets:
            sock.close()
