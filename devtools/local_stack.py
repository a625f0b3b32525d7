"""The whole backend on this machine: Amazon's DynamoDB Local for DynamoDB (moto where Java is
missing), moto's server for the rest of AWS, the stack from template.yaml, the API.

    python -m devtools.local_stack [--lambda] [--listen ADDRESS]     run until Ctrl-C
    python -m devtools.local_stack token EMAIL [PASSWORD]

Ports come from AWS_PORT (moto, default 5005), API_PORT (API, default 8000) and DEMO_PORT (the
web client's demo page, default 5500).
"""

import argparse
import functools
import json
import os
import signal
import sys
from pathlib import Path

import boto3

from devtools import dynamodb_local
from devtools.cognito import WrongPassword, access_token
from devtools.demo_server import DemoServer, demo_origins
from devtools.dynamodb_local import DynamoDBLocal
from devtools.listen import EVERY_INTERFACE, LOOPBACK, ListenError, listen_address
from devtools.local_aws import LocalStack, provision
from devtools.moto import MotoEndpoint, port_is_free

ROOT = Path(__file__).resolve().parent.parent
# Where `token` finds the running stack; tests point it elsewhere so they never clobber yours.
STATE_FILE = Path(os.environ.get("ECHOES_LOCAL_STATE", ROOT / ".local-stack.json"))
ASSETS_PATH = "/_local/swagger-ui"
ENVIRONMENT = "dev"
DEFAULT_PASSWORD = "Echoes-Local-Passw0rd"
FAKE_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "local", "AWS_SECRET_ACCESS_KEY": "local"}


class StartError(Exception):
    """A prerequisite is missing: reported in one line, exit status 1."""


def read_env_file(path: Path) -> dict[str, str]:
    values = {}
    for line in path.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            name, _, value = line.partition("=")
            values[name] = value
    return values


def _port(name: str, default: int, address: str = LOOPBACK) -> int:
    raw = os.environ.get(name, str(default))
    if not raw.isdigit() or not 0 < int(raw) < 65536:
        raise StartError(f"{name}={raw!r} is not a port number")
    port = int(raw)
    if not port_is_free(port, address):
        where = "" if address == LOOPBACK else f" on {address} (or that address is not this machine's)"
        raise StartError(f"port {port} ({name}) is already in use{where}; stop what uses it or set {name}")
    return port


def start_dynamodb_local() -> DynamoDBLocal | None:
    """DynamoDB Local on a free port, or None (one warning line) where it cannot run."""
    missing = dynamodb_local.available()
    if missing is None:
        try:
            return DynamoDBLocal().start()
        except dynamodb_local.Unavailable as exc:
            missing = str(exc)
    print(f"warning: DynamoDB runs on moto, which does not isolate transactions: {missing}", file=sys.stderr)
    return None


def allowed_origins(configured: str, demo_port: int) -> str:
    """The configured origins, then the demo page's (devtools/demo_server.py) unless listed."""
    origins = [origin for origin in configured.split(",") if origin]
    return ",".join(origins + [origin for origin in demo_origins(demo_port) if origin not in origins])


def start_aws(
    aws_port: int, api_port: int, demo_port: int, listen: str = LOOPBACK
) -> tuple[MotoEndpoint, DynamoDBLocal | None, LocalStack]:
    config = read_env_file(ROOT / "config" / f"{ENVIRONMENT}.env")
    # A frontend served elsewhere (the browser test's page, a dev server on another port) may
    # replace the allowed origins: they reach the app, the bucket's CORS and the gateway errors.
    # The demo page's origin comes last: the gateway's own errors carry the first one only.
    config["CORS_ALLOW_ORIGINS"] = allowed_origins(
        os.environ.get("CORS_ALLOW_ORIGINS", config["CORS_ALLOW_ORIGINS"]), demo_port
    )
    endpoint = MotoEndpoint(aws_port, listen).start()
    dynamodb = start_dynamodb_local()
    os.environ.update(FAKE_CREDENTIALS)
    os.environ.update(AWS_ENDPOINT_URL=endpoint.url, AWS_DEFAULT_REGION=config["AWS_REGION"])
    stack = provision(
        ENVIRONMENT, config["CORS_ALLOW_ORIGINS"], config["AWS_REGION"], dynamodb.url if dynamodb else None
    )
    os.environ.update(config)
    os.environ.update(stack.app_env(endpoint.url, ENVIRONMENT, config["CORS_ALLOW_ORIGINS"]))
    # Swagger UI's assets from this machine, since the CDN FastAPI uses may be out of reach.
    os.environ["DOCS_ASSETS_URL"] = f"http://127.0.0.1:{api_port}{ASSETS_PATH}"
    # `listen`: where containers find moto (devtools/sam_local.py).
    STATE_FILE.write_text(
        json.dumps({"endpoint": endpoint.url, "listen": listen, **stack.__dict__}, indent=2)
    )
    return endpoint, dynamodb, stack


def _banner(base_url: str, stack: LocalStack, endpoint: MotoEndpoint, demo: DemoServer) -> str:
    dynamodb = stack.dynamodb_endpoint or f"{endpoint.url} (moto)"
    return f"""
Echoes API       {base_url}
Docs             {base_url}/docs
Health           {base_url}/health
Demo page        {demo.url}   (the web client: docs/frontend.md)
Local AWS (moto) {endpoint.url}   bucket {stack.bucket_name}
DynamoDB         {dynamodb}   table {stack.table_name}
Get a token      TOKEN=$(./scripts/local.sh token you@example.com)
Then             curl -H "Authorization: Bearer $TOKEN" {base_url}/api/v1/echoes
Ctrl-C stops everything.
"""


def _demo_config(base_url: str, stack: LocalStack, endpoint: MotoEndpoint) -> dict[str, str]:
    """Where the demo page finds the API and Cognito (moto; unsigned Cognito calls reach moto's
    us-east-1, the region config/dev.env deploys to)."""
    return {
        "api": base_url,
        "userPoolId": stack.user_pool_id,
        "clientId": stack.app_client_id,
        "cognitoEndpoint": endpoint.url,
    }


def _run_uvicorn(api_port: int) -> None:
    import uvicorn

    reload = os.environ.get("LOCAL_RELOAD", "true") == "true"
    uvicorn.run(
        "devtools.local_app:app",
        host="127.0.0.1",
        port=api_port,
        reload=reload,
        reload_dirs=[str(ROOT / "app")] if reload else None,
        log_level="info",
    )


def serve(lambda_mode: bool, listen: str = LOOPBACK) -> None:
    aws_port, api_port = _port("AWS_PORT", 5005, listen), _port("API_PORT", 8000)
    demo_port = _port("DEMO_PORT", 5500)
    endpoint, dynamodb, stack = start_aws(aws_port, api_port, demo_port, listen)
    demo = None
    try:
        if lambda_mode:
            from devtools.gateway import ApiGateway, CognitoTokens
            from devtools.lambda_proxy import serve_through_handler

            gateway = ApiGateway.from_template(
                {"Environment": ENVIRONMENT, "CorsAllowOrigins": os.environ["CORS_ALLOW_ORIGINS"]}
            )
            issuer = f"https://cognito-idp.{stack.region}.amazonaws.com/{stack.user_pool_id}"
            tokens = CognitoTokens(issuer, os.environ["COGNITO_JWKS_URL"])
            base_url = f"http://127.0.0.1:{api_port}/{gateway.stage}"
            run = functools.partial(serve_through_handler, api_port, gateway, tokens, ASSETS_PATH)
        else:
            base_url = f"http://127.0.0.1:{api_port}"
            run = functools.partial(_run_uvicorn, api_port)
        demo = DemoServer(demo_port, _demo_config(base_url, stack, endpoint)).start()
        print(_banner(base_url, stack, endpoint, demo), flush=True)
        run()
    except KeyboardInterrupt:
        pass
    finally:
        if demo is not None:
            demo.stop()
        if dynamodb is not None:
            dynamodb.stop()
        endpoint.stop()
        STATE_FILE.unlink(missing_ok=True)


def token(email: str, password: str) -> str:
    """An access token for EMAIL from the running stack, signing the user up if needed: the token
    the API accepts (scope aws.cognito.signin.user.admin; ID tokens are refused, app/auth.py)."""
    if not STATE_FILE.exists():
        raise StartError("the local stack is not running: start it with ./scripts/local.sh")
    state = json.loads(STATE_FILE.read_text())
    os.environ.update(FAKE_CREDENTIALS)
    cognito = boto3.client("cognito-idp", endpoint_url=state["endpoint"], region_name=state["region"])
    try:
        tokens = access_token(cognito, state["user_pool_id"], state["app_client_id"], email, password)
    except cognito.exceptions.InvalidPasswordException as exc:
        raise StartError(f"password refused by the pool's policy: {exc}") from None
    except WrongPassword:
        raise StartError(f"wrong password for {email}") from None
    return tokens["AccessToken"]


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="./scripts/local.sh", description=__doc__.split("\n")[0])
    parser.add_argument(
        "--lambda",
        dest="lambda_mode",
        action="store_true",
        help="serve every request through lambda_handler.handler as an API Gateway "
        "REST event under the stage prefix (/dev), like sam local start-api",
    )
    parser.add_argument(
        "--listen",
        default=LOOPBACK,
        metavar="ADDRESS",
        help="where moto listens, for `sam local` containers: `docker` (Docker's bridge gateway), "
        f"{EVERY_INTERFACE} (every interface, with a warning) or an IPv4 address (default {LOOPBACK})",
    )
    if argv[:1] == ["token"]:
        token_parser = argparse.ArgumentParser(prog="./scripts/local.sh token")
        token_parser.add_argument("email")
        token_parser.add_argument("password", nargs="?", default=DEFAULT_PASSWORD)
        args = token_parser.parse_args(argv[1:])
        try:
            print(token(args.email, args.password))
        except StartError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
        return 0
    args = parser.parse_args(argv)
    # Ctrl-C stops the stack even when it was started where SIGINT is ignored (a shell's
    # background job, nohup): Python leaves an inherited "ignore" in place.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    # kill and a closed terminal stop it the same way: left to their default, they end Python
    # without its clean-up, and DynamoDB Local (a session of its own) would run on, port held.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    signal.signal(signal.SIGHUP, signal.default_int_handler)
    try:
        serve(args.lambda_mode, listen_address(args.listen))
    except (StartError, ListenError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
