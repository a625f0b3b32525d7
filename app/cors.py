"""The CORS policy: which browser origins may call the API, and the headers that say so.

Echoes needs only the narrow case of CORS (a fixed list of origins, no credentials, no wildcard),
so the policy is plain data that RequestContextMiddleware applies in the same ASGI layer as the
request id: Starlette's CORSMiddleware, as a layer of its own, cost 9 us of every warm request
(README, Performance). It behaves as Starlette's does: the origin is echoed only when listed,
`Vary: Origin` always, and a preflight asking for anything not allowed is refused with 400.
"""

from collections.abc import Iterable

Header = tuple[bytes, bytes]
VARY_ORIGIN: Header = (b"vary", b"Origin")
# Request headers a browser may always send (CORS-safelisted).
SAFELISTED_HEADERS = ("accept", "accept-language", "content-language", "content-type")


class CorsPolicy:
    def __init__(
        self,
        allow_origins: Iterable[str],
        allow_methods: Iterable[str],
        allow_headers: Iterable[str],
        expose_headers: Iterable[str],
        max_age_seconds: int,
    ) -> None:
        self._origins = frozenset(allow_origins)
        self._methods = tuple(allow_methods)
        self._header_names = frozenset(name.lower() for name in (*SAFELISTED_HEADERS, *allow_headers))
        self._exposed: Header = (b"access-control-expose-headers", ", ".join(expose_headers).encode())
        self._preflight: tuple[Header, ...] = (
            (b"access-control-allow-methods", ", ".join(self._methods).encode()),
            (b"access-control-allow-headers", ", ".join(sorted(self._header_names)).encode()),
            (b"access-control-max-age", str(max_age_seconds).encode()),
        )

    def response_headers(self, origin: str | None) -> list[Header]:
        """What every response to a request from `origin` carries (none: not a browser request)."""
        if origin is not None and origin in self._origins:
            return [(b"access-control-allow-origin", origin.encode()), self._exposed, VARY_ORIGIN]
        return [VARY_ORIGIN]

    def preflight_refusals(self, origin: str, method: str, requested_headers: str | None) -> list[str]:
        """What a preflight asks for that is not allowed; empty when everything is."""
        refused = []
        if origin not in self._origins:
            refused.append("origin")
        if method not in self._methods:
            refused.append("method")
        if requested_headers and any(
            name.strip().lower() not in self._header_names for name in requested_headers.split(",")
        ):
            refused.append("headers")
        return refused

    def preflight_headers(self, origin: str) -> list[Header]:
        return [*self.response_headers(origin), *self._preflight]
