"""The web client's demo page for the local stack (dev only: nothing here ships in the function).

Serves clients/web (the client module, the sign-in module, the Cognito library npm installed in
node_modules, the demo) from its own origin, as a frontend's dev server would, and
/demo/config.json: where the running stack's API and Cognito are. That origin must be one the
API and the bucket allow (devtools/local_stack.py adds it).
"""

import functools
import json
import threading
from http import HTTPStatus
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

WEB_CLIENT = Path(__file__).resolve().parent.parent / "clients" / "web"
DEMO_PATH = "/demo/"


def demo_origins(port: int) -> list[str]:
    """The origins a browser may give the demo: both names of the loopback address."""
    return [f"http://127.0.0.1:{port}", f"http://localhost:{port}"]


class _Handler(SimpleHTTPRequestHandler):
    config = b"{}"

    def log_message(self, *_: Any) -> None:
        pass  # the API's log is the one worth reading

    def end_headers(self) -> None:
        self.send_header("Cache-Control", "no-store")  # edits to the demo show at the next reload
        super().end_headers()

    def do_GET(self) -> None:
        path = self.path.split("?", 1)[0]
        if path == "/":
            self.send_response(HTTPStatus.FOUND)
            self.send_header("Location", DEMO_PATH)
            self.end_headers()
        elif path == f"{DEMO_PATH}config.json":
            self.send_response(HTTPStatus.OK)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(self.config)))
            self.end_headers()
            self.wfile.write(self.config)
        else:
            super().do_GET()


class DemoServer:
    def __init__(self, port: int, config: dict[str, str]) -> None:
        handler = type("DemoHandler", (_Handler,), {"config": json.dumps(config).encode()})
        self._server = ThreadingHTTPServer(
            ("127.0.0.1", port), functools.partial(handler, directory=str(WEB_CLIENT))
        )
        self.url = f"{demo_origins(port)[0]}{DEMO_PATH}"

    def start(self) -> "DemoServer":
        threading.Thread(target=self._server.serve_forever, name="demo-server", daemon=True).start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
