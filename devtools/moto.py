"""moto's real HTTP server as the local AWS endpoint (DynamoDB, S3, Cognito, Secrets Manager)."""

import logging
import os
import socket
import urllib.request

from moto.server import ThreadedMotoServer


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def port_is_free(port: int, address: str = "127.0.0.1") -> bool:
    """Free to listen on at ADDRESS, as the servers do (SO_REUSEADDR): a port left in TIME_WAIT by
    closed connections counts as free, one that something listens on does not."""
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((address, port))
        except OSError:
            return False
        return True


class MotoEndpoint:
    """moto's HTTP server in a thread of this process. Servers in one process share moto's state
    (its backends are module-level), so starting one resets it: a new endpoint is an empty account."""

    def __init__(self, port: int | None = None, listen: str = "127.0.0.1") -> None:
        """LISTEN: the address the server binds (0.0.0.0: every interface); URL names one this
        machine reaches it at."""
        self.port = port or free_port()
        self.listen = listen
        self.url = f"http://{'127.0.0.1' if listen == '0.0.0.0' else listen}:{self.port}"
        self._server = ThreadedMotoServer(ip_address=listen, port=self.port, verbose=False)

    def start(self) -> "MotoEndpoint":
        if not os.environ.get("MOTO_LOG_REQUESTS"):
            logging.getLogger("werkzeug").setLevel(logging.WARNING)
        self._server.start()
        self.reset()
        return self

    def stop(self) -> None:
        self._server.stop()

    def reset(self) -> None:
        """Forget every resource: each test starts from an empty account."""
        request = urllib.request.Request(f"{self.url}/moto-api/reset", method="POST")
        urllib.request.urlopen(request, timeout=5).close()
