"""Token verification without PyJWT (app/jws.py, app/auth.py): every way a token is refused.

Tokens are made here byte by byte with a key of the test's own, so that each test can break
exactly one thing; tests/api/test_auth.py covers real tokens from moto's Cognito through the app.
"""

import base64
import json
import time
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from app import jws
from app.auth import CLOCK_SKEW_SECONDS, TokenVerifier
from app.errors import ApiError
from app.jwks import JwksCache, JwksUnavailable
from tests.jws_tokens import CLIENT, DROP, ISSUER, KEY, KID, b64, claims, jwk_of, token, verifier


def refusal(raw: str) -> str:
    with pytest.raises(ApiError) as refused:
        verifier().verify(raw)
    assert refused.value.status_code == 401
    reason: str = (refused.value.details or {})["reason"]
    return reason


def test_a_good_token_is_accepted() -> None:
    user = verifier().verify(token())
    assert (user.user_id, user.username, user.token_use) == ("user-1", "alice", "access")


# --- the encoding ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "segment",
    [b"QQ==", b"QQ=", b"Q", b"Q+E", b"Q/E", b"Q E", b"QR", b"QUF", b"\xc3\xa9"],
    ids=[
        "padded",
        "half-padded",
        "one-char",
        "plus",
        "slash",
        "space",
        "stray-bits",
        "stray-bits-3",
        "non-ascii",
    ],
)
def test_base64url_is_decoded_strictly(segment: bytes) -> None:
    with pytest.raises(jws.MalformedToken):
        jws.b64url_decode(segment)


def test_base64url_canonical_segments_decode() -> None:
    assert [jws.b64url_decode(s) for s in (b"", b"QQ", b"QUE", b"QUFB", b"-_8")] == [
        b"",
        b"A",
        b"AA",
        b"AAA",
        b"\xfb\xff",
    ]


def test_a_signature_segment_with_flipped_unused_bits_is_refused() -> None:
    """The last character of a 256-byte signature carries 4 unused bits: only zeros are canonical."""
    good = token()
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    mauled = good[:-1] + alphabet[alphabet.index(good[-1]) + 1]
    assert refusal(mauled) == "malformed token"


@pytest.mark.parametrize(
    "raw",
    ["", "a.b", "a.b.c.d", "not.a.jwt", f"{token()}.", "é.é.é", f"{b64(b'[1]')}.{b64(b'{}')}.", "...."],
    # Fixed ids: a token made at collection differs between pytest-xdist's workers, which refuse
    # to run when their collections differ.
    ids=[
        "empty",
        "a.b",
        "a.b.c.d",
        "not.a.jwt",
        "token-and-a-dot",
        "non-ascii",
        "header-not-an-object",
        "dots",
    ],
)
def test_what_is_not_a_compact_jws_is_malformed(raw: str) -> None:
    assert refusal(raw) == "malformed token"


def test_a_header_that_is_not_a_json_object_is_malformed() -> None:
    for header in (b"not json", b"[]", b'"RS256"', b"{"):
        raw = token()
        assert refusal(f"{b64(header)}.{raw.split('.', 1)[1]}") == "malformed token"


def test_a_payload_that_is_not_a_json_object_is_refused_after_its_signature() -> None:
    assert refusal(token(b"[1, 2]")) == "DecodeError"
    assert refusal(token(b"\xff not json")) == "DecodeError"


# --- the header -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "header",
    [
        {"kid": KID},
        {"alg": "none", "kid": KID},
        {"alg": "HS256", "kid": KID},
        {"alg": "RS512", "kid": KID},
        {"alg": "rs256", "kid": KID},
        {"alg": "Rs256", "kid": KID},
        {"alg": "RS256 ", "kid": KID},
        {"alg": " RS256", "kid": KID},
        {"alg": "RS256\u0000", "kid": KID},
        {"alg": "PS256", "kid": KID},
        {"alg": ["RS256"], "kid": KID},
        {"alg": None, "kid": KID},
    ],
    ids=[
        "missing",
        "none",
        "hs256",
        "rs512",
        "lowercase",
        "mixed-case",
        "trailing-space",
        "leading-space",
        "trailing-nul",
        "ps256",
        "list",
        "null",
    ],
)
def test_only_rs256_is_accepted(header: dict[str, Any]) -> None:
    assert refusal(token(header=header)) == "unsupported algorithm"


def test_duplicate_header_names_take_the_last_as_rfc_7515_allows() -> None:
    """RFC 7515 section 4: a parser must refuse duplicate names or take the lexically last, as
    Python's json does; the header is signed, so only the pool's own key could make one."""
    raw = b'{"alg":"none","kid":"other","alg":"RS256","kid":"%s"}' % KID.encode()
    head = b64(raw)
    body = b64(json.dumps(claims()).encode())
    signature = KEY.sign(f"{head}.{body}".encode(), padding.PKCS1v15(), hashes.SHA256())
    assert verifier().verify(f"{head}.{body}.{b64(signature)}").user_id == "user-1"
    flipped = b'{"alg":"RS256","kid":"%s","alg":"none"}' % KID.encode()
    head = b64(flipped)
    signature = KEY.sign(f"{head}.{body}".encode(), padding.PKCS1v15(), hashes.SHA256())
    assert refusal(f"{head}.{body}.{b64(signature)}") == "unsupported algorithm"


@pytest.mark.parametrize(
    "header",
    [b"[" * 100_000, b'{"a":' * 100_000, b'{"a":' + b"1" * 5_000 + b"}", b"\xff\xfe{"],
    ids=["deep-array", "deep-object", "5000-digit-int", "bad-utf"],
)
def test_a_hostile_header_is_malformed_not_an_error(header: bytes) -> None:
    """Nesting past the recursion limit, integers past Python's digit limit and undecodable
    bytes each raise in json.loads: every one must be a 401, never a 500."""
    assert refusal(f"{b64(header)}.{token().split('.', 1)[1]}") == "malformed token"


def test_critical_extensions_are_refused() -> None:
    assert (
        refusal(token(header={"alg": "RS256", "kid": KID, "crit": ["exp"], "exp": 1})) == "unsupported header"
    )
    assert refusal(token(header={"alg": "RS256", "kid": KID, "b64": False})) == "unsupported header"


def test_a_kid_that_is_missing_or_not_a_string_is_malformed() -> None:
    assert refusal(token(header={"alg": "RS256"})) == "malformed token"
    assert refusal(token(header={"alg": "RS256", "kid": 1})) == "malformed token"


def test_an_unknown_kid_is_refused() -> None:
    assert refusal(token(header={"alg": "RS256", "kid": "rotated-away"})) == "unknown signing key"


# --- the signature --------------------------------------------------------------------------------


def test_a_token_signed_by_another_key_is_refused() -> None:
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    assert refusal(token(key=other)) == "InvalidSignatureError"


def test_an_altered_payload_is_refused() -> None:
    head, _, signature = token().split(".")
    assert (
        refusal(f"{head}.{b64(json.dumps(claims(sub='someone-else')).encode())}.{signature}")
        == "InvalidSignatureError"
    )


def test_a_signature_over_another_digest_is_refused() -> None:
    assert refusal(token(digest=hashes.SHA512())) == "InvalidSignatureError"


def test_a_signature_with_the_modulus_added_or_truncated_is_refused() -> None:
    head, body, signature = token().split(".")
    value = int.from_bytes(base64.urlsafe_b64decode(signature + "=="), "big")
    plus_n = value + KEY.public_key().public_numbers().n
    for forged in (
        plus_n.to_bytes((plus_n.bit_length() + 7) // 8, "big"),
        value.to_bytes(256, "big")[1:],
        b"",
    ):
        assert refusal(f"{head}.{body}.{b64(forged)}") == "InvalidSignatureError"


def test_keys_that_cannot_verify_are_the_key_sets_fault_not_the_tokens() -> None:
    small = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    for jwk in (jwk_of(small), {**jwk_of(KEY), "n": "not base64 !"}, {**jwk_of(KEY), "e": "QQ=="}):
        with pytest.raises(jws.UnusableKey):
            jws.public_key(jwk)
        cache = JwksCache("https://jwks", lambda _, jwk=jwk: {"keys": [jwk]})
        with pytest.raises(JwksUnavailable):
            cache.key_for(KID)


@pytest.mark.parametrize(
    "entry",
    [{"use": "enc"}, {"alg": "RS512"}, {"alg": "RSA-OAEP"}, {"kty": "EC"}],
    ids=["encryption-key", "rs512-key", "oaep-key", "ec-key"],
)
def test_a_key_the_set_declares_for_another_use_verifies_nothing(entry: dict[str, Any]) -> None:
    jwks = {"keys": [jwk_of(KEY) | entry]}
    with pytest.raises(ApiError) as refused:
        TokenVerifier(ISSUER, CLIENT, JwksCache("https://jwks", lambda _: jwks)).verify(token())
    assert (refused.value.details or {})["reason"] == "unknown signing key"


# --- the claims -----------------------------------------------------------------------------------


@pytest.mark.parametrize("claim", ["exp", "iat", "iss", "sub", "token_use"])
def test_each_required_claim_is_required(claim: str) -> None:
    assert refusal(token(claims(**{claim: DROP}))) == "MissingRequiredClaimError"
    assert refusal(token(claims(**{claim: None}))) == "MissingRequiredClaimError"


def test_times_must_be_numbers() -> None:
    now = int(time.time())
    assert refusal(token(claims(iat=str(now)))) == "InvalidIssuedAtError"
    assert refusal(token(claims(iat=True))) == "InvalidIssuedAtError"
    assert refusal(token(claims(nbf=str(now)))) == "DecodeError"
    assert refusal(token(claims(nbf=None))) == "DecodeError"
    assert refusal(token(claims(exp=str(now + 600)))) == "malformed exp"
    assert refusal(token(claims(exp=True))) == "malformed exp"


@pytest.mark.parametrize(
    "value",
    [float("nan"), float("inf"), float("-inf"), 10**400, -(10**400)],
    ids=["nan", "infinity", "minus-infinity", "beyond-float", "below-float"],
)
def test_times_must_be_finite_numbers(value: float) -> None:
    """Python's json reads NaN, Infinity and integers of any size, which no NumericDate is: a NaN
    exp never passed (a token accepted, and cached, forever), a NaN or -Infinity iat or nbf was
    never ahead, and an exp beyond a float's range answered 500. PyJWT refused NaN and infinite
    iat and nbf (int() of them raises)."""
    assert refusal(token(claims(exp=value))) == "malformed exp"
    assert refusal(token(claims(iat=value))) == "InvalidIssuedAtError"
    assert refusal(token(claims(nbf=value))) == "DecodeError"


def test_iat_and_nbf_may_be_ahead_by_the_clock_skew_and_no_more() -> None:
    now = time.time()
    assert verifier().verify(
        token(claims(iat=now + CLOCK_SKEW_SECONDS - 1, nbf=now + CLOCK_SKEW_SECONDS - 1))
    )
    assert refusal(token(claims(iat=now + CLOCK_SKEW_SECONDS + 30))) == "ImmatureSignatureError"
    assert refusal(token(claims(nbf=now + CLOCK_SKEW_SECONDS + 30))) == "ImmatureSignatureError"


def test_exp_has_no_leeway(monkeypatch: pytest.MonkeyPatch) -> None:
    now = int(time.time())
    raw = token(claims(iat=now - 600, exp=now + 60))
    monkeypatch.setattr("app.auth.time.time", lambda: now + 59.999)
    assert verifier().verify(raw)
    monkeypatch.setattr("app.auth.time.time", lambda: now + 60)
    assert refusal(raw) == "token expired"


def test_another_issuer_is_refused() -> None:
    assert refusal(token(claims(iss=ISSUER + "x"))) == "InvalidIssuerError"
    assert refusal(token(claims(iss=[ISSUER]))) == "InvalidIssuerError"


def test_sub_and_jti_must_be_strings() -> None:
    assert refusal(token(claims(sub=123))) == "InvalidSubjectError"
    assert refusal(token(claims(jti=123))) == "InvalidJTIError"
    assert refusal(token(claims(sub="  "))) == "empty subject"


@pytest.mark.parametrize("username", [5, ["alice"], {"name": "alice"}, True, ""])
def test_a_username_that_is_not_a_string_names_no_user(username: object) -> None:
    """CurrentUser.username is a string or None: the erasure route refuses None (401) and passes a
    string to AdminDeleteUser, which botocore refuses for anything else (a 500)."""
    assert verifier().verify(token(claims(username=username))).username is None


def test_the_token_rule_is_applied_after_the_signature() -> None:
    assert refusal(token(claims(token_use="id"))).startswith("ID tokens are not accepted")
    assert refusal(token(claims(token_use="refresh"))) == "unexpected token_use"
    assert (
        refusal(token(claims(scope=DROP))) == "access token without the aws.cognito.signin.user.admin scope"
    )
    assert refusal(token(claims(client_id="another"))) == "token issued for another client"


@pytest.mark.parametrize(
    "scope",
    [
        "aws.cognito.signin.user.adminX",
        "xaws.cognito.signin.user.admin",
        "openid\taws.cognito.signin.user.admin",
        "openid\naws.cognito.signin.user.admin",
        "openid\u00a0aws.cognito.signin.user.admin",
        "openid\u2003aws.cognito.signin.user.admin",
        "AWS.COGNITO.SIGNIN.USER.ADMIN",
        ["aws.cognito.signin.user.admin"],
        {"aws.cognito.signin.user.admin": True},
    ],
    ids=["suffix", "prefix", "tab", "newline", "nbsp", "em-space", "upper", "list", "object"],
)
def test_the_scope_is_one_of_the_space_delimited_names_exactly(scope: object) -> None:
    assert refusal(token(claims(scope=scope))).startswith("access token without the")


def test_the_scope_among_others_is_accepted() -> None:
    scope = "openid  aws.cognito.signin.user.admin profile"  # two spaces: an empty name between
    assert verifier().verify(token(claims(scope=scope))).user_id == "user-1"
