"""An HTTP server that stands in for API Gateway as template.yaml declares it (devtools/gateway.py):
it answers gateway errors itself (unknown route, refused token, payload too large, timeout) from
the template's GatewayResponses, and turns every other request into a REST proxy event for
lambda_handler.handler. `sam local start-api` without Docker, and closer to the deployed gateway."""

import base64
import time
from http.server import BaseHTTPRequestHandler, HTTPServer
from urllib.parse import parse_qsl, urlsplit

from devtools.events import LambdaContext, response_headers, rest_event
from devtools.gateway import (
    INTEGRATION_TIMEOUT_SECONDS,
    PAYLOAD_LIMIT_BYTES,
    Answer,
    ApiGateway,
    CognitoTokens,
    new_request_id,
)

FORBIDDEN = b'{"message":"Forbidden"}'  # what API Gateway answers outside its stage
CHUNK = 1 << 16


def serve_through_handler(port: int, gateway: ApiGateway, tokens: CognitoTokens, assets_path: str) -> None:
    import lambda_handler  # imported here: it reads its settings from the environment set up by now

    prefix = f"/{gateway.stage}"

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
            self._reply_answer(self._through_gateway(url.path[len(prefix) :] or "/", url.query))

        def _through_gateway(self, path: str, query: str) -> Answer:
            request_id = new_request_id()
            headers = dict(self.headers.items())
            length = int(self.headers.get("Content-Length") or 0)
            if length > PAYLOAD_LIMIT_BYTES:
                self._discard(length)  # read it, or the client sees a reset instead of the 413
                return gateway.error("REQUEST_TOO_LARGE", headers, request_id)
            body = self.rfile.read(length) if length else None
            matched = gateway.route(self.command, path)
            if matched is None:
                return gateway.error("MISSING_AUTHENTICATION_TOKEN", headers, request_id)
            route, parameters = matched
            claims = None
            if route.authorized:
                claims = tokens.claims(self.headers.get("Authorization"))
                if claims is None or not gateway.accepts(claims):
                    return gateway.error("UNAUTHORIZED", headers, request_id)
            event = rest_event(
                self.command,
                path,
                query=dict(parse_qsl(query)) or None,
                headers=headers,
                body=body,
                stage=gateway.stage,
                resource=route.resource,
                path_parameters=parameters,
                claims=claims,
                request_id=request_id,
            )
            started = time.monotonic()
            response = lambda_handler.handler(event, LambdaContext.fresh())
            if time.monotonic() - started > INTEGRATION_TIMEOUT_SECONDS:
                # The handler cannot be interrupted here; API Gateway would have answered at 29 s.
                return gateway.error("INTEGRATION_TIMEOUT", headers, request_id)
            raw = response.get("body") or ""
            data = base64.b64decode(raw) if response.get("isBase64Encoded") else raw.encode()
            return Answer(response["statusCode"], response_headers(response), data)

        def _discard(self, length: int) -> None:
            while length > 0:
                chunk = self.rfile.read(min(CHUNK, length))
                if not chunk:
                    break
                length -= len(chunk)

        def _asset(self, name: str) -> None:
            from swagger_ui_bundle import swagger_ui_path

            asset = swagger_ui_path / name
            if "/" in name or not asset.is_file():
                self._reply(404, {"Content-Type": "text/plain"}, b"not found")
                return
            kind = "text/css" if name.endswith(".css") else "application/javascript"
            self._reply(200, {"Content-Type": kind}, asset.read_bytes())

        def _reply_answer(self, answer: Answer) -> None:
            self._reply(answer.status, answer.headers, answer.body)

        def _reply(self, status: int, headers: dict[str, str], body: bytes) -> None:
            self.send_response(status)
            for name, value in headers.items():
                if name.lower() != "content-length":
                    self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        do_GET = do_POST = do_PUT = do_DELETE = do_OPTIONS = do_PATCH = do_HEAD = _handle

    server = HTTPServer(("127.0.0.1", port), Handler)
    try:
        server.serve_forever()
    finally:
        server.server_close()
