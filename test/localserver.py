"""The base of the tests' local servers (webhook receivers, HTTP targets, TCP peers): each
listens on 127.0.0.1, serves from daemon threads, is a context manager, and stops without
hanging."""

from __future__ import annotations

import threading
from http.server import ThreadingHTTPServer
from types import TracebackType
from typing import Self

POLL_SECONDS = 0.05
"""How often a serving loop looks whether it should stop."""


class LocalServer:
    """A server a test starts and stops, or uses as a context manager."""

    def start(self) -> Self:
        """Start serving."""
        raise NotImplementedError

    def stop(self) -> None:
        """Stop serving and release what still waits; never hangs."""
        raise NotImplementedError

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


class ServingThread:
    """An HTTP server served by a daemon thread until `close`."""

    def __init__(self, server: ThreadingHTTPServer, name: str) -> None:
        self.server = server
        self._thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": POLL_SECONDS},
            name=name,
            daemon=True,
        )
        self._thread.start()

    def close(self) -> None:
        """Stop accepting and close the listening socket; handlers in flight carry on."""
        self.server.shutdown()
        self.server.server_close()
        self._thread.join(timeout=5)
