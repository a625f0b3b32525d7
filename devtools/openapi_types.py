"""The web client's TypeScript types (clients/web/api-types.d.ts), generated from the API's OpenAPI
document by openapi-typescript (npm, installed by scripts/lib.sh's ensure_web_client).

    python -m devtools.openapi_types            write clients/web/api-types.d.ts
    python -m devtools.openapi_types --check    exit 1 when the checked-in file differs

The document is the one the dev API serves at /openapi.json, built in process: the app is made
with placeholder settings, and building it calls no AWS service.
"""

import json
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
WEB_CLIENT = ROOT / "clients" / "web"
TYPES_FILE = WEB_CLIENT / "api-types.d.ts"
GENERATOR = WEB_CLIENT / "node_modules" / ".bin" / "openapi-typescript"
REGENERATE = ".venv/bin/python -m devtools.openapi_types"
HEADER = (
    f"// Generated from the API's OpenAPI document by openapi-typescript: do not edit.\n"
    f"// Regenerate with `{REGENERATE}` whenever a route or model changes\n"
    f"// (tests/infra/test_web_client.py fails while this file and the API disagree).\n"
)


class GeneratorMissing(Exception):
    """openapi-typescript is not installed."""


def openapi_document() -> dict[str, Any]:
    """What GET /openapi.json answers in the dev environment."""
    from app.main import create_app
    from app.settings import Settings

    settings = Settings(
        environment="dev",
        aws_region="us-east-1",
        dynamodb_table_name="echoes-dev-echoes",
        s3_bucket_name="echoes-dev-audio",
        cognito_user_pool_id="us-east-1_placeholder",
        cognito_app_client_id="placeholder",
        app_secret_name="echoes-dev/app",
        function_timeout_seconds=30,
    )
    document: dict[str, Any] = create_app(settings).openapi()
    return document


def generate() -> str:
    """The types file's text for the API as it is now."""
    if not GENERATOR.exists():
        raise GeneratorMissing(
            f"{GENERATOR.relative_to(ROOT)} is missing: ./scripts/test.sh installs it "
            "(or: npm ci --prefix clients/web)"
        )
    with tempfile.TemporaryDirectory() as folder:
        source, target = Path(folder) / "openapi.json", Path(folder) / "api-types.d.ts"
        source.write_text(json.dumps(openapi_document(), indent=2))
        result = subprocess.run(
            [str(GENERATOR), str(source), "--output", str(target)],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        if result.returncode != 0:
            raise RuntimeError(f"openapi-typescript failed:\n{result.stdout}\n{result.stderr}")
        return HEADER + target.read_text()


def main(argv: list[str]) -> int:
    try:
        text = generate()
    except GeneratorMissing as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    if argv[:1] == ["--check"]:
        if TYPES_FILE.exists() and TYPES_FILE.read_text() == text:
            return 0
        print(f"{TYPES_FILE.relative_to(ROOT)} differs from the API: run {REGENERATE}", file=sys.stderr)
        return 1
    TYPES_FILE.write_text(text)
    print(f"wrote {TYPES_FILE.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
