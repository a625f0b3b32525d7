"""Token verification: real tokens from moto's Cognito are accepted, everything else refused."""

import base64
import http.server
import ipaddress
import json
import ssl
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi.testclient import TestClient

from app.auth import CLOCK_SKEW_SECONDS, CurrentUser, TokenVerifier, VerifiedTokens
from app.errors import ApiError
from app.jwks import MIN_REFETCH_SECONDS, TRUSTED_ROOTS, JwksCache, JwksUnavailable, _opener, fetch_json
from app.main import create_app
from app.settings import Settings
from tests.support import User, access_claims, moto_jwks, pool_signed_token

LIST = "/api/v1/echoes"


def _assert_refused(response, reason: str | None = None) -> None:
    assert response.status_code == 401, response.text
    assert response.headers["WWW-Authenticate"] == "Bearer"
    body = response.json()
    assert body["error"] == "authentication_failed"
    if reason:
        assert body["details"]["reason"] == reason


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_access_token_from_cognito_is_accepted(client: TestClient, alice: User) -> None:
    response = client.get(LIST, headers=alice.headers)
    assert response.status_code == 200
    assert response.json()["total_count"] == 0


def test_id_token_from_cognito_is_refused_as_the_gateway_refuses_it(client: TestClient, alice: User) -> None:
    """The authorizer has AuthorizationScopes, so API Gateway lets no ID token through: neither does the app."""
    _assert_refused(client.get(LIST, headers=_bearer(alice.id_token)))
    assert "ID tokens are not accepted" in client.get(LIST, headers=_bearer(alice.id_token)).text


def test_access_token_without_the_scope_is_refused(client: TestClient, settings: Settings) -> None:
    for scope in (None, "openid email", "aws.cognito.signin.user.admin.extra"):
        claims = access_claims(settings.cognito_issuer, settings.cognito_app_client_id, scope=scope)
        if scope is None:
            del claims["scope"]
        _assert_refused(
            client.get(LIST, headers=_bearer(pool_signed_token(claims))),
            "access token without the aws.cognito.signin.user.admin scope",
        )


def test_access_token_with_the_scope_among_others_is_accepted(client: TestClient, settings: Settings) -> None:
    claims = access_claims(
        settings.cognito_issuer, settings.cognito_app_client_id, scope="openid aws.cognito.signin.user.admin"
    )
    assert client.get(LIST, headers=_bearer(pool_signed_token(claims))).status_code == 200


def test_token_with_a_future_nbf_is_refused(client: TestClient, settings: Settings) -> None:
    now = int(time.time())
    claims = access_claims(settings.cognito_issuer, settings.cognito_app_client_id, nbf=now + 60)
    _assert_refused(client.get(LIST, headers=_bearer(pool_signed_token(claims))), "ImmatureSignatureError")


def test_iat_and_nbf_a_few_seconds_ahead_are_accepted(client: TestClient, settings: Settings) -> None:
    """Cognito's clock may run ahead of the container's: CLOCK_SKEW_SECONDS of leeway."""
    ahead = int(time.time()) + CLOCK_SKEW_SECONDS - 2
    claims = access_claims(settings.cognito_issuer, settings.cognito_app_client_id, iat=ahead, nbf=ahead)
    assert client.get(LIST, headers=_bearer(pool_signed_token(claims))).status_code == 200
    beyond = int(time.time()) + CLOCK_SKEW_SECONDS + 30
    claims = access_claims(settings.cognito_issuer, settings.cognito_app_client_id, iat=beyond)
    _assert_refused(client.get(LIST, headers=_bearer(pool_signed_token(claims))), "ImmatureSignatureError")


def test_no_leeway_beyond_exp(client: TestClient, settings: Settings) -> None:
    now = int(time.time())
    claims = access_claims(
        settings.cognito_issuer, settings.cognito_app_client_id, iat=now - 600, exp=now - 1
    )
    _assert_refused(client.get(LIST, headers=_bearer(pool_signed_token(claims))), "token expired")


def test_a_signature_with_the_modulus_added_is_refused(client: TestClient, settings: Settings) -> None:
    """s + n is congruent to s mod n: a lax verifier (python-rsa) accepts it, making tokens malleable."""
    claims = access_claims(settings.cognito_issuer, settings.cognito_app_client_id)
    token = pool_signed_token(claims)
    assert client.get(LIST, headers=_bearer(token)).status_code == 200
    head, body, signature = token.split(".")
    modulus = int.from_bytes(_b64(moto_jwks("")["keys"][0]["n"]), "big")
    forged = int.from_bytes(_b64(signature), "big") + modulus
    raw = forged.to_bytes((forged.bit_length() + 7) // 8, "big")
    mauled = f"{head}.{body}.{base64.urlsafe_b64encode(raw).rstrip(b'=').decode()}"
    _assert_refused(client.get(LIST, headers=_bearer(mauled)), "InvalidSignatureError")


def test_a_verified_token_is_cached_until_its_exp_and_no_longer(
    settings: Settings, alice: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    verifier = TokenVerifier(
        settings.cognito_issuer, settings.cognito_app_client_id, JwksCache("x", moto_jwks)
    )
    checks: list[str] = []
    real = verifier._verified_claims
    monkeypatch.setattr(verifier, "_verified_claims", lambda token: checks.append(token) or real(token))
    first = verifier.verify(alice.access_token)
    assert verifier.verify(alice.access_token) == first
    assert len(checks) == 1, "the second call must come from the cache"
    exp = jwt.decode(alice.access_token, options={"verify_signature": False})["exp"]
    monkeypatch.setattr("app.auth.time.time", lambda: exp)
    with pytest.raises(ApiError):
        verifier.verify(alice.access_token)  # expired: re-verified, and refused
    assert len(checks) == 2


def test_the_token_cache_is_bounded() -> None:
    cache = VerifiedTokens(capacity=3)
    user = CurrentUser("u", None, "access")
    far = time.time() + 600
    cache.put("expired", user, time.time() - 1)
    for n in range(4):
        cache.put(f"t{n}", user, far)
    assert cache.get("expired") is None and cache.get("t0") is None
    assert [cache.get(f"t{n}") for n in (1, 2, 3)] == [user, user, user]


def test_a_cache_read_during_an_eviction_changes_nothing_under_it() -> None:
    """Under uvicorn, tokens are verified in threadpool workers: a read of an expired entry could
    run while another worker's put walks the entries to evict (the GIL switches between bytecodes),
    and removing it then failed that put with 'dictionary changed size during iteration' (a 500).
    The read is made here at the walk's own comparison, the interleaving threads would give."""
    cache = VerifiedTokens(capacity=2)
    user = CurrentUser("u", None, "access")

    class ReadDuringWalk(float):
        def __le__(self, other: object) -> bool:
            assert cache.get("expired") is None
            return super().__le__(other)

    cache.put("expired", user, time.time() - 1)
    cache.put("current", user, ReadDuringWalk(time.time() + 600))
    cache.put("new", user, time.time() + 600)  # full: the walk meets both entries
    assert cache.get("new") == user and cache.get("expired") is None


def _b64(value: str) -> bytes:
    return base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Basic YWxpY2U6c2VjcmV0"}, {"Authorization": "Bearer"}],
    ids=["missing", "basic", "empty-bearer"],
)
def test_missing_or_non_bearer_credentials_are_refused(client: TestClient, headers: dict) -> None:
    _assert_refused(client.get(LIST, headers=headers))


@pytest.mark.parametrize("authorization", ["bearer {token}", "BEARER {token}", "Bearer  {token}"])
def test_the_scheme_is_case_insensitive_and_spaces_after_it_are_skipped(
    client: TestClient, alice: User, authorization: str
) -> None:
    """RFC 7235 section 2.1: the auth-scheme is case-insensitive; FastAPI's parser strips the
    spaces before the credentials. Either way the whole token is still verified."""
    response = client.get(LIST, headers={"Authorization": authorization.format(token=alice.access_token)})
    assert response.status_code == 200, response.text


@pytest.mark.parametrize(
    "authorization",
    [
        "Bearer {token} x",
        "Bearer {token},",
        "Bearer\t{token}",
        "Bearer {token}.",
        "Bearer .{token}",
        "Bearer {token}{token}",
    ],
    ids=["trailing-word", "trailing-comma", "tab", "fourth-segment", "leading-dot", "twice"],
)
def test_a_mangled_authorization_header_is_refused(
    client: TestClient, alice: User, authorization: str
) -> None:
    _assert_refused(
        client.get(LIST, headers={"Authorization": authorization.format(token=alice.access_token)})
    )


@pytest.mark.parametrize(
    "token",
    [
        "A" * 1_000_000 + ".A.A",
        "." * 1_000_000,
        base64.urlsafe_b64encode(b"[" * 750_000).rstrip(b"=").decode() + ".e30.AA",
    ],
    ids=["1MB-segment", "1MB-dots", "1MB-deep-header"],
)
def test_a_megabyte_token_is_refused_in_the_error_format(client: TestClient, token: str) -> None:
    """API Gateway caps request headers at 10 KB; the local server and a direct invocation do
    not: a huge token costs linear scans and a 401, never a 500 (nor a RecursionError)."""
    _assert_refused(client.get(LIST, headers=_bearer(token)), "malformed token")


def test_every_echoes_route_requires_a_token(client: TestClient) -> None:
    echo = "/api/v1/echoes/00000000-0000-4000-8000-000000000000"
    for method, path in [
        ("POST", "/api/v1/echoes/init-upload"),
        ("POST", f"{LIST}?echo_id=00000000-0000-4000-8000-000000000000"),
        ("GET", LIST),
        ("GET", f"{LIST}/random"),
        ("GET", echo),
        ("DELETE", echo),
    ]:
        _assert_refused(client.request(method, path, json={}))


def test_malformed_token_is_refused(client: TestClient) -> None:
    _assert_refused(client.get(LIST, headers=_bearer("not.a.jwt")), "malformed token")


def test_token_signed_by_another_key_is_refused(client: TestClient, settings: Settings) -> None:
    forger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    claims = access_claims(settings.cognito_issuer, settings.cognito_app_client_id)
    kid = moto_jwks("")["keys"][0]["kid"]
    forged = jwt.encode(claims, forger, algorithm="RS256", headers={"kid": kid})
    _assert_refused(client.get(LIST, headers=_bearer(forged)), "InvalidSignatureError")


def test_expired_token_is_refused(client: TestClient, settings: Settings) -> None:
    claims = access_claims(
        settings.cognito_issuer, settings.cognito_app_client_id, iat=1_000_000, exp=1_000_600
    )
    _assert_refused(client.get(LIST, headers=_bearer(pool_signed_token(claims))), "token expired")


def test_token_of_another_issuer_is_refused(client: TestClient, settings: Settings) -> None:
    other_pool = settings.cognito_issuer.rsplit("/", 1)[0] + "/us-east-1_SomeOtherPool"
    claims = access_claims(other_pool, settings.cognito_app_client_id)
    _assert_refused(client.get(LIST, headers=_bearer(pool_signed_token(claims))), "InvalidIssuerError")


def test_access_token_for_another_client_is_refused(client: TestClient, settings: Settings) -> None:
    claims = access_claims(settings.cognito_issuer, "another-app-client")
    _assert_refused(
        client.get(LIST, headers=_bearer(pool_signed_token(claims))),
        "token issued for another client",
    )


@pytest.mark.parametrize("token_use", ["refresh", "", None])
def test_unexpected_token_use_is_refused(client: TestClient, settings: Settings, token_use) -> None:
    claims = access_claims(settings.cognito_issuer, settings.cognito_app_client_id, token_use=token_use)
    if token_use is None:
        del claims["token_use"]
    _assert_refused(client.get(LIST, headers=_bearer(pool_signed_token(claims))))


def test_alg_none_token_is_refused(client: TestClient, settings: Settings) -> None:
    def part(data: dict) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()

    claims = access_claims(settings.cognito_issuer, settings.cognito_app_client_id)
    unsigned = f"{part({'alg': 'none', 'kid': 'dummy'})}.{part(claims)}."
    _assert_refused(client.get(LIST, headers=_bearer(unsigned)), "unsupported algorithm")


def test_hs256_token_keyed_with_the_public_key_is_refused(client: TestClient, settings: Settings) -> None:
    """The classic algorithm-confusion attack: HMAC keyed with the RSA public key."""
    public_n = moto_jwks("")["keys"][0]["n"].encode()
    claims = access_claims(settings.cognito_issuer, settings.cognito_app_client_id)
    token = jwt.encode(claims, public_n * 2, algorithm="HS256", headers={"kid": "dummy"})
    _assert_refused(client.get(LIST, headers=_bearer(token)), "unsupported algorithm")


def test_unknown_kid_is_refused(client: TestClient, settings: Settings) -> None:
    claims = access_claims(settings.cognito_issuer, settings.cognito_app_client_id)
    token = pool_signed_token(claims, kid="rotated-away")
    _assert_refused(client.get(LIST, headers=_bearer(token)), "unknown signing key")


def test_jwks_is_fetched_once_and_refetched_for_unknown_kid_at_most_once_a_minute(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    fetches: list[str] = []
    clock = [1000.0]
    monkeypatch.setattr("app.jwks.time.monotonic", lambda: clock[0])

    def fetch(url: str) -> dict:
        fetches.append(url)
        return moto_jwks(url)

    cache = JwksCache("https://example/jwks.json", fetch)
    kid = moto_jwks("")["keys"][0]["kid"]
    assert cache.key_for(kid) is not None
    assert cache.key_for(kid) is not None
    assert len(fetches) == 1
    assert cache.key_for("unknown") is None
    assert len(fetches) == 1, "an unknown kid right after a fetch must not refetch"
    clock[0] += MIN_REFETCH_SECONDS
    assert cache.key_for("unknown") is None
    assert cache.key_for("unknown") is None
    assert len(fetches) == 2, "one refetch per minute at most"


def test_concurrent_unknown_kids_share_one_refetch() -> None:
    """Tokens with random kids arriving together (uvicorn verifies in threadpool workers) each saw
    the set stale and fetched it in turn under the lock, each fetch up to JWKS_TIMEOUT_SECONDS."""
    fetches: list[str] = []
    inside, release = threading.Event(), threading.Event()

    def slow_fetch(url: str) -> dict:
        fetches.append(url)
        inside.set()
        release.wait(timeout=10)
        return moto_jwks(url)

    cache = JwksCache("https://example/jwks.json", slow_fetch)
    first = threading.Thread(target=cache.key_for, args=("random-1",))
    first.start()
    assert inside.wait(timeout=10)
    second = threading.Thread(target=cache.key_for, args=("random-2",))
    second.start()
    second.join(timeout=0.2)  # let it reach the lock the first fetch holds
    release.set()
    first.join(timeout=10)
    second.join(timeout=10)
    assert len(fetches) == 1


def test_a_key_rotated_away_while_it_was_built_is_not_kept(monkeypatch: pytest.MonkeyPatch) -> None:
    """Under uvicorn, another worker's refresh can replace the set while this one builds a key
    from the old set: storing it then put a kid the new set no longer holds into the new cache,
    where it verified tokens until some later refresh. The refresh runs here inside the build,
    where a thread switch would run it."""
    from app import jws

    sets = [moto_jwks(""), {"keys": []}]
    cache = JwksCache("https://example/jwks.json", lambda _: sets.pop(0))
    kid = moto_jwks("")["keys"][0]["kid"]
    real = jws.public_key

    def built_during_a_refresh(jwk: dict) -> rsa.RSAPublicKey:
        cache.refresh()
        return real(jwk)

    monkeypatch.setattr(jws, "public_key", built_during_a_refresh)
    assert cache.key_for(kid) is not None  # this token's key was in the set it looked in
    assert cache.key_for(kid) is None, "the rotated-away key must not be trusted afterwards"


def test_a_kid_reused_for_another_key_is_rebuilt() -> None:
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    first = moto_jwks("")["keys"][0]
    numbers = other.public_key().public_numbers()
    n = base64.urlsafe_b64encode(numbers.n.to_bytes(256, "big")).rstrip(b"=").decode()
    sets = [{"keys": [first]}, {"keys": [first | {"n": n}]}]
    cache = JwksCache("https://example/jwks.json", lambda _: sets.pop(0))
    old = cache.key_for(first["kid"])
    cache.refresh()
    new = cache.key_for(first["kid"])
    assert old is not None and new is not None
    assert new.public_numbers().n == numbers.n


def test_unreachable_jwks_answers_503_not_401(settings: Settings, alice: User) -> None:
    def unreachable(url: str) -> dict:
        raise OSError("connection refused")

    client = TestClient(create_app(settings, fetch_jwks=unreachable), raise_server_exceptions=False)
    response = client.get(LIST, headers=alice.headers)
    assert response.status_code == 503
    assert response.json()["error"] == "service_unavailable"
    assert "Retry-After" in response.headers


def test_an_unusable_key_in_the_jwks_answers_503_not_500(settings: Settings, alice: User) -> None:
    def broken(url: str) -> dict:
        keys = moto_jwks(url)["keys"]
        return {"keys": [{**key, "n": "not base64 !"} for key in keys]}

    client = TestClient(create_app(settings, fetch_jwks=broken), raise_server_exceptions=False)
    response = client.get(LIST, headers=alice.headers)
    assert response.status_code == 503, response.text


def test_a_pkcs1_signature_over_another_digest_is_refused(client: TestClient, settings: Settings) -> None:
    """A real signature by the pool's key, but over SHA-512: RS256 means SHA-256 and nothing else."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding

    from tests.support import _moto_key

    private = jwt.PyJWK(_moto_key("jwks-private.json.gz")).key

    def part(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

    claims = access_claims(settings.cognito_issuer, settings.cognito_app_client_id)
    signing_input = (
        f"{part(json.dumps({'alg': 'RS256', 'kid': 'dummy'}).encode())}.{part(json.dumps(claims).encode())}"
    )
    signature = private.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA512())
    _assert_refused(
        client.get(LIST, headers=_bearer(f"{signing_input}.{part(signature)}")), "InvalidSignatureError"
    )


@pytest.fixture
def self_signed_jwks(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """A JWKS served over HTTPS by a certificate that no Amazon root signed: the URL and the cert."""
    import datetime

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.x509.oid import NameOID

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "cognito-idp.us-east-1.amazonaws.com")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    body = json.dumps(moto_jwks("")).encode()

    class Jwks(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Jwks)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_file, key_file)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"https://127.0.0.1:{server.server_address[1]}/pool/.well-known/jwks.json", cert_file
    server.shutdown()
    server.server_close()


def test_jwks_over_https_is_trusted_only_from_amazon_roots(
    self_signed_jwks: tuple[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    url, cert_file = self_signed_jwks
    monkeypatch.setenv("SSL_CERT_FILE", str(cert_file))  # the machine's own store now trusts it
    default_trust = urllib.request.build_opener(
        urllib.request.HTTPSHandler(context=ssl.create_default_context())
    )
    with default_trust.open(url, timeout=5) as response:  # and so would a client trusting that store
        assert json.load(response) == moto_jwks("")
    _opener.cache_clear()
    with pytest.raises(urllib.error.URLError) as refused:
        fetch_json(url)
    assert isinstance(refused.value.reason, ssl.SSLCertVerificationError)
    with pytest.raises(JwksUnavailable):
        JwksCache(url).refresh()


def test_the_trusted_roots_are_amazon_trust_services() -> None:
    roots = ssl.create_default_context(cafile=TRUSTED_ROOTS).get_ca_certs()
    names = sorted(dict(part[0] for part in root["subject"])["commonName"] for root in roots)
    assert names == [
        "Amazon Root CA 1",
        "Amazon Root CA 2",
        "Amazon Root CA 3",
        "Amazon Root CA 4",
        "Starfield Services Root Certificate Authority - G2",
    ]
