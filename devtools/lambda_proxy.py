"""An HTTP server that turns each request into an API Gateway REST proxy event under the stage
prefix and answers with what lambda_handler.handler returns: `sam local start-api` without Docker."""

import base64
from http.server import BaseHTTPRequestHandler, HTTPServer
from urllib.parse import parse_qsl, urlsplit

from devtools.events import LambdaContext, response_headers, rest_event

FORBIDDEN = b'{"message":"Forbidden"}'  # what API Gateway answers outside its stage


def serve_through_handler(port: int, stage: str, assets_path: str) -> None:
    import lambda_handler  # imported here: it reads its settings from the environment set up by now

    prefix = f"/{stage}"

    class Handler(BaseHTTPRequestHandler):
        # One request at a time on the main thread, as in a Lambda container (Mangum needs the
        # main thread's event loop); HTTP/1.0 closes each connection so no client can hog it.
        protocol_version = "HTTP/1.0"

        def _handle(self) -> None:
            url = urlsplit(self.path)
            if url.path.startswith(assets_path + "/"):
                self._asset(url.path[len(assets_path) + 1 :])
                return
            if not (url.path == prefix or url.path.startswith(prefix + "/")):
                self._reply(403, {"Content-Type": "application/json"}, FORBIDDEN)
                return
            length = int(self.headers.get("Content-Length") or 0)
            event = rest_event(
                self.command,
                url.path[len(prefix) :] or "/",
                query=dict(parse_qsl(url.query)) or None,
                headers=dict(self.headers.items()),
                body=self.rfile.read(length) if length else None,
                stage=stage,
            )
            response = lambda_handler.handler(event, LambdaContext.fresh())
            body = response.get("body") or ""
            raw = base64.b64decode(body) if response.get("isBase64Encoded") else body.encode()
            self._reply(response["statusCode"], response_headers(response), raw)

        def _asset(self, name: str) -> None:
            from swagger_ui_bundle import swagger_ui_path

            asset = swagger_ui_path / name
            if "/" in name or not asset.is_file():
                self._reply(404, {"Content-Type": "text/plain"}, b"not found")
                return
            kind = "text/css" if name.endswith(".css") else "application/javascript"
            self._reply(200, {"Content-Type": kind}, asset.read_bytes())

        def _reply(self, status: int, headers: dict[str, str], body: bytes) -> None:
            self.send_response(status)
            for name, value in headers.items():
                if name.lower() != "content-length":
                    self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_POST = do_PUT = do_DELETE = do_OPTIONS = do_PATCH = do_HEAD = _handle

    server = HTTPServer(("127.0.0.1", port), Handler)
    try:
        server.serve_forever()
    finally:
        server.server_close()
