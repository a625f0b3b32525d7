"""Runtime configuration, read once from environment variables.

`Settings` is a pydantic model validated from the environment by `load_settings` (variable names in
any case, as pydantic-settings' `case_sensitive=False` read them), not a pydantic-settings
`BaseSettings`: its import (python-dotenv, argparse for its CLI source, its cloud secret sources)
cost every cold start more than reading a few variables is worth (docs/performance.md).
"""

import os
from functools import lru_cache
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

MIB = 1024 * 1024


class SettingsError(RuntimeError):
    """Raised at start-up when a setting is missing or invalid; the message names the variable."""


class Settings(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    environment: Literal["dev", "staging", "prod"]
    debug: bool = False
    # X-Ray subsegments per route and AWS call (app/tracing.py); the template sets it per environment.
    tracing_enabled: bool = False
    # The counters item is written with by_created's keys, and a list's first page reads it in its
    # Query (app/store/records.py, counters_index_keys). Off until every running version reads
    # such items: code before it fails on them (docs/deployment.md, Counters in the list index).
    counters_in_list_index: bool = False
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    cors_allow_origins: tuple[str, ...] = ()  # a comma-separated list in the environment
    aws_region: str = Field(min_length=1)
    dynamodb_table_name: str = Field(min_length=3, max_length=255)
    s3_bucket_name: str = Field(min_length=3, max_length=63)
    cognito_user_pool_id: str = Field(pattern=r"^[\w-]+_[0-9a-zA-Z]+$")
    cognito_app_client_id: str = Field(min_length=1)
    # moto serves the JWKS locally while its tokens carry the real AWS issuer, so this can be overridden.
    cognito_jwks_url: str | None = None
    app_secret_name: str = Field(min_length=1)
    max_audio_bytes: int = Field(default=10 * MIB, gt=0, le=5 * 1024 * MIB)
    upload_url_expires_seconds: int = Field(default=900, ge=60, le=3600)
    audio_url_expires_seconds: int = Field(default=3600, ge=60, le=43200)
    pending_upload_ttl_seconds: int = Field(default=86400, ge=3600)
    # Per-user limits, checked from the counters create already reads.
    max_echoes_per_user: int = Field(default=10_000, ge=1)
    max_audio_bytes_per_user: int = Field(default=2 * 1024 * MIB, ge=1)
    max_pending_uploads_per_user: int = Field(default=20, ge=1, le=1000)
    # The function's Timeout: the template passes its FunctionTimeoutSeconds parameter, and the
    # local stack that parameter's default (devtools/local_aws.py). Erasure passes fit inside it.
    function_timeout_seconds: float = Field(ge=3, le=900)
    # DELETE /api/v1/me works this long, then answers 202. It must leave room under the function
    # timeout for the last round, the continuation and a late call (app/erasure.py checks it at
    # start); API Gateway gives up at 29 s anyway.
    erasure_budget_seconds: float = Field(default=3.0, gt=0, le=25)
    # How long the erased account's marker refuses old tokens: longer than any token lives, and
    # than the last sweep after the erasure (app/sweep.py: a URL's hour and 15 minutes in flight).
    erased_marker_ttl_seconds: int = Field(default=2 * 86400, ge=2 * 3600)
    # Set by Lambda itself: in the erasure function, passes that do not finish invoke it again.
    aws_lambda_function_name: str | None = None
    # The API's: the erasure function DELETE /api/v1/me invokes (template.yaml); unset, the passes
    # run in the API's own process (the local stack, the tests).
    erasure_function_name: str | None = None
    # The erasure function's: the queue of its sweeps after an erasure (app/sweep.py); unset, none.
    erasure_sweep_queue_url: str | None = None
    export_page_size: int = Field(default=500, ge=1, le=1000)
    health_cache_seconds: float = Field(default=30.0, ge=0)
    # Upload URLs one user may ask for per clock hour (app/store/limits.py); 429 beyond.
    uploads_per_user_per_hour: int = Field(default=60, ge=1)
    # Each request's time budget: AWS attempts and store retries stop when it is spent (503 +
    # Retry-After). With app/aws.py's read timeout it bounds a request well under API Gateway's 29 s.
    request_deadline_seconds: float = Field(default=3.0, gt=0, le=20)
    # Where /docs loads swagger-ui-bundle.js and swagger-ui.css from; None means FastAPI's CDN.
    docs_assets_url: str | None = None

    @field_validator("cors_allow_origins", mode="before")
    @classmethod
    def _split_origins(cls, value: object) -> object:
        if isinstance(value, str):
            return tuple(origin.strip() for origin in value.split(",") if origin.strip())
        return value

    @field_validator("cors_allow_origins")
    @classmethod
    def _no_wildcard_origin(cls, origins: tuple[str, ...]) -> tuple[str, ...]:
        for origin in origins:
            if origin == "*" or not origin.startswith(("https://", "http://")):
                raise ValueError(f"{origin!r} is not an explicit http(s) origin")
        return origins

    @property
    def cognito_issuer(self) -> str:
        return f"https://cognito-idp.{self.aws_region}.amazonaws.com/{self.cognito_user_pool_id}"

    @property
    def jwks_url(self) -> str:
        return self.cognito_jwks_url or f"{self.cognito_issuer}/.well-known/jwks.json"

    @property
    def docs_enabled(self) -> bool:
        return self.environment == "dev"


def load_settings() -> Settings:
    """Read settings from the environment, turning pydantic's report into one readable line."""
    try:
        return Settings.model_validate({name.lower(): value for name, value in os.environ.items()})
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in error['loc']).upper()}: {error['msg']}"
            for error in exc.errors()
        )
        raise SettingsError(f"Invalid configuration: {problems}") from None


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return load_settings()
