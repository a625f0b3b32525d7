"""Smoke test of a deployed Echoes API: its doors, as a browser and a new user meet them.

    smoke_test.py API_URL ORIGIN [--journey --user-pool-id ID --client-id ID [--region R] [--profile P]]

API_URL is the stage's base URL (the stack's ApiUrl output), ORIGIN an origin the API allows (the
first of CorsAllowOrigins: the one API Gateway's own responses name). It checks, printing each:
- GET /health answers 200, healthy;
- GET /api/v1/echoes without a token answers 401 in the API's error format, with CORS headers that
  let ORIGIN read it (API Gateway's UNAUTHORIZED response, not the function's);
- a CORS preflight from ORIGIN passes, and one from another origin does not;
- with --journey (never prod): a new test user, made with the AWS CLI (AdminCreateUser and
  AdminSetUserPassword, so the deployer needs those on the pool), signs in (InitiateAuth) and goes
  init-upload, PUT to S3, create, list, random, delete, then DELETE /api/v1/me, after which its
  token is refused. A user the journey could not erase is deleted with AdminDeleteUser.
Exit status 0 when everything passed, 1 at the first failure (saying what was expected).
Standard library only; the AWS CLI honours AWS_ENDPOINT_URL, and so does the sign-in here.
"""

import argparse
import io
import json
import os
import secrets
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
import wave
from dataclasses import dataclass
from typing import Any

ERROR_FIELDS = {"error", "message", "details", "timestamp", "request_id"}
FOREIGN_ORIGIN = "https://smoke-test.invalid"
ERASURE_ROUNDS = 30  # DELETE /api/v1/me answers 202 while the erasure goes on in the background


class SmokeFailure(Exception):
    """One check failed: what was expected and what came."""


@dataclass(frozen=True)
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        try:
            return json.loads(self.body)
        except ValueError:
            raise SmokeFailure(f"expected JSON, got {self.status}: {self.body[:200]!r}") from None


def call(method: str, url: str, headers: dict[str, str] | None = None, body: bytes | None = None) -> Answer:
    request = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return Answer(
                response.status, {k.lower(): v for k, v in response.headers.items()}, response.read()
            )
    except urllib.error.HTTPError as error:  # 4xx and 5xx are answers to check, not failures
        return Answer(error.code, {k.lower(): v for k, v in error.headers.items()}, error.read())


def expect(condition: bool, what: str, answer: Answer | None = None) -> None:
    if not condition:
        seen = f" (got {answer.status}: {answer.body[:300]!r})" if answer else ""
        raise SmokeFailure(what + seen)


def check(name: str) -> None:
    print(f"ok   {name}", flush=True)


def doors(api: str, origin: str) -> None:
    health = call("GET", f"{api}/health")
    expect(
        health.status == 200 and health.json().get("status") == "healthy", "GET /health: 200 healthy", health
    )
    check("GET /health: 200, healthy")

    refused = call("GET", f"{api}/api/v1/echoes", {"Origin": origin})
    expect(refused.status == 401, "GET /api/v1/echoes without a token: 401", refused)
    body = refused.json()
    expect(
        isinstance(body, dict) and set(body) == ERROR_FIELDS and body["error"] == "authentication_failed",
        f"the 401's body in the error format ({sorted(ERROR_FIELDS)}, authentication_failed)",
        refused,
    )
    expect(
        refused.headers.get("access-control-allow-origin") == origin,
        f"the 401 readable by {origin} (Access-Control-Allow-Origin: {origin}), got "
        f"{refused.headers.get('access-control-allow-origin')!r}",
    )
    check(f"GET /api/v1/echoes without a token: 401 authentication_failed, readable by {origin}")

    preflight = {
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization,content-type",
    }
    allowed = call("OPTIONS", f"{api}/api/v1/echoes", {"Origin": origin, **preflight})
    expect(
        allowed.status in (200, 204) and allowed.headers.get("access-control-allow-origin") == origin,
        f"a preflight from {origin} passes",
        allowed,
    )
    methods = allowed.headers.get("access-control-allow-methods", "")
    expect("POST" in methods, f"the preflight allows POST (Access-Control-Allow-Methods: {methods!r})")
    check(f"preflight from {origin}: {allowed.status}, allowed")
    foreign = call("OPTIONS", f"{api}/api/v1/echoes", {"Origin": FOREIGN_ORIGIN, **preflight})
    expect(
        foreign.headers.get("access-control-allow-origin") not in (FOREIGN_ORIGIN, "*"),
        f"a preflight from {FOREIGN_ORIGIN} does not pass",
        foreign,
    )
    check(f"preflight from {FOREIGN_ORIGIN}: {foreign.status}, refused")


def _aws(args: argparse.Namespace, *command: str) -> None:
    options = ["--region", args.region, *(["--profile", args.profile] if args.profile else [])]
    result = subprocess.run(
        ["aws", *options, "cognito-idp", *command], capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        raise SmokeFailure(f"aws cognito-idp {command[0]}: {result.stderr.strip()}")


def _set_password(args: argparse.Namespace, email: str, password: str) -> None:
    """The password in a file only this user may read, deleted at once, rather than on a command
    line that every process can read."""
    request = {"UserPoolId": args.user_pool_id, "Username": email, "Password": password, "Permanent": True}
    with tempfile.NamedTemporaryFile("w", suffix=".json") as request_file:  # mode 0600
        json.dump(request, request_file)
        request_file.flush()
        _aws(args, "admin-set-user-password", "--cli-input-json", f"file://{request_file.name}")


def _sign_in(args: argparse.Namespace, email: str, password: str) -> str:
    """InitiateAuth (USER_PASSWORD_AUTH), a public call of the app client: no credentials."""
    endpoint = os.environ.get("AWS_ENDPOINT_URL_COGNITO_IDP") or os.environ.get("AWS_ENDPOINT_URL")
    url = endpoint or f"https://cognito-idp.{args.region}.amazonaws.com/"
    payload = {
        "AuthFlow": "USER_PASSWORD_AUTH",
        "ClientId": args.client_id,
        "AuthParameters": {"USERNAME": email, "PASSWORD": password},
    }
    headers = {
        "Content-Type": "application/x-amz-json-1.1",
        "X-Amz-Target": "AWSCognitoIdentityProviderService.InitiateAuth",
    }
    answer = call("POST", url, headers, json.dumps(payload).encode())
    expect(answer.status == 200, "the test user signs in (InitiateAuth)", answer)
    token: str = answer.json()["AuthenticationResult"]["AccessToken"]
    return token


def _wav() -> bytes:
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(8000)
        out.writeframes(b"\0\0" * 1600)  # 0.2 s of silence
    return buffer.getvalue()


def _erase(api: str, auth: dict[str, str]) -> None:
    for _ in range(ERASURE_ROUNDS):
        erased = call("DELETE", f"{api}/api/v1/me", auth)
        if erased.status == 204:
            return
        expect(erased.status == 202, "DELETE /api/v1/me: 204, or 202 while it goes on", erased)
        time.sleep(1)
    raise SmokeFailure(f"DELETE /api/v1/me still unfinished after {ERASURE_ROUNDS} rounds")


def journey(api: str, origin: str, args: argparse.Namespace) -> None:
    email = f"smoke-{uuid.uuid4().hex[:16]}@example.com"
    password = f"Sm0ke-{secrets.token_urlsafe(18)}"  # upper, lower and a digit, as the pool asks
    _aws(
        args,
        "admin-create-user",
        "--user-pool-id",
        args.user_pool_id,
        "--username",
        email,
        "--message-action",
        "SUPPRESS",
        "--user-attributes",
        f"Name=email,Value={email}",
        "Name=email_verified,Value=true",
    )
    erased = False
    try:
        _set_password(args, email, password)
        token = _sign_in(args, email, password)
        check(f"test user {email} signed in")
        auth = {"Authorization": f"Bearer {token}", "Origin": origin}
        as_json = {**auth, "Content-Type": "application/json"}
        audio = _wav()
        init = call(
            "POST",
            f"{api}/api/v1/echoes/init-upload",
            as_json,
            json.dumps(
                {"file_extension": "wav", "content_type": "audio/wav", "file_size": len(audio)}
            ).encode(),
        )
        expect(init.status == 200, "POST /api/v1/echoes/init-upload: 200", init)
        upload = init.json()
        put = call("PUT", upload["upload_url"], upload.get("upload_headers", {}), audio)
        expect(put.status == 200, "PUT of the audio to its upload URL: 200", put)
        created = call(
            "POST",
            f"{api}/api/v1/echoes?echo_id={upload['echo_id']}",
            as_json,
            json.dumps({"emotion": "calm", "tags": ["smoke-test"], "file_extension": "wav"}).encode(),
        )
        expect(created.status == 201, "POST /api/v1/echoes: 201", created)
        echo_id = created.json()["echo_id"]
        listed = call("GET", f"{api}/api/v1/echoes", auth)
        expect(
            listed.status == 200 and [e["echo_id"] for e in listed.json()["echoes"]] == [echo_id],
            "GET /api/v1/echoes: 200, the one echo",
            listed,
        )
        picked = call("GET", f"{api}/api/v1/echoes/random", auth)
        expect(
            picked.status == 200 and picked.json()["echo_id"] == echo_id, "GET /api/v1/echoes/random", picked
        )
        deleted = call("DELETE", f"{api}/api/v1/echoes/{echo_id}", auth)
        expect(deleted.status == 204, "DELETE /api/v1/echoes/{id}: 204", deleted)
        check("init-upload, PUT, create, list, random, delete")
        _erase(api, auth)
        erased = True
        after = call("GET", f"{api}/api/v1/echoes", auth)
        expect(after.status == 401, "the erased user's token is refused", after)
        check("DELETE /api/v1/me: the test user is erased, its token refused")
    finally:
        if not erased:
            try:
                _aws(args, "admin-delete-user", "--user-pool-id", args.user_pool_id, "--username", email)
                print(f"deleted the test user {email}", file=sys.stderr)
            except SmokeFailure:  # erased by DELETE /api/v1/me before it failed, or the call failed
                print(f"the test user {email} may be left in the pool", file=sys.stderr)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="smoke_test.py", description=__doc__.split("\n")[0])
    parser.add_argument("api_url")
    parser.add_argument("origin")
    parser.add_argument("--journey", action="store_true")
    parser.add_argument("--user-pool-id")
    parser.add_argument("--client-id")
    parser.add_argument("--region", default=os.environ.get("AWS_REGION", "us-east-1"))
    parser.add_argument("--profile")
    args = parser.parse_args(argv)
    if args.journey and not (args.user_pool_id and args.client_id):
        parser.error("--journey needs --user-pool-id and --client-id")
    api = args.api_url.rstrip("/")
    try:
        doors(api, args.origin)
        if args.journey:
            journey(api, args.origin, args)
    except SmokeFailure as failure:
        print(f"FAIL {failure}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
