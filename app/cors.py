"""CORS: Starlette's CORSMiddleware, with refused preflights answered in the one error format.

Starlette refuses a preflight with a plain-text 400 naming what was not allowed ("Disallowed CORS
origin, method"); the API answers every error in one JSON format, so the refusal is re-stated in it,
with the same headers.
"""

from starlette.datastructures import Headers
from starlette.middleware.cors import CORSMiddleware
from starlette.responses import Response

from app.errors import ApiError, ErrorCode, error_response

_REFUSAL_PREFIX = "Disallowed CORS "


class CorsMiddleware(CORSMiddleware):
    def preflight_response(self, request_headers: Headers) -> Response:
        response = super().preflight_response(request_headers)
        if response.status_code != 400:
            return response
        refused = bytes(response.body).decode().removeprefix(_REFUSAL_PREFIX).split(", ")
        error = error_response(
            ApiError(ErrorCode.VALIDATION_ERROR, "CORS preflight refused", {"refused": refused})
        )
        for name, value in response.headers.items():
            if name not in ("content-type", "content-length"):
                error.headers[name] = value
        return error
