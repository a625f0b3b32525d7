"""The API's one error format, and the handlers that turn every failure into it."""

from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from app.deadline import DeadlineExceeded
from app.observability import count_error, logger, request_id_var


class ErrorCode(StrEnum):
    VALIDATION_ERROR = "validation_error"
    AUTHENTICATION_FAILED = "authentication_failed"
    RESOURCE_NOT_FOUND = "resource_not_found"
    METHOD_NOT_ALLOWED = "method_not_allowed"
    CONFLICT = "conflict"
    PRECONDITION_FAILED = "precondition_failed"
    QUOTA_EXCEEDED = "quota_exceeded"
    FILE_TOO_LARGE = "file_too_large"
    UNSUPPORTED_MEDIA_TYPE = "unsupported_media_type"
    RATE_LIMIT_EXCEEDED = "rate_limit_exceeded"
    SERVICE_UNAVAILABLE = "service_unavailable"
    INTERNAL_SERVER_ERROR = "internal_server_error"


STATUS_OF: dict[ErrorCode, int] = {
    ErrorCode.VALIDATION_ERROR: 400,
    ErrorCode.AUTHENTICATION_FAILED: 401,
    ErrorCode.RESOURCE_NOT_FOUND: 404,
    ErrorCode.METHOD_NOT_ALLOWED: 405,
    ErrorCode.CONFLICT: 409,
    ErrorCode.PRECONDITION_FAILED: 412,
    ErrorCode.QUOTA_EXCEEDED: 409,
    ErrorCode.FILE_TOO_LARGE: 413,
    ErrorCode.UNSUPPORTED_MEDIA_TYPE: 415,
    ErrorCode.RATE_LIMIT_EXCEEDED: 429,
    ErrorCode.SERVICE_UNAVAILABLE: 503,
    ErrorCode.INTERNAL_SERVER_ERROR: 500,
}

RETRY_AFTER_SECONDS = "5"
# DynamoDB, S3 and Cognito error codes that mean "back off and try again", not "your request is wrong".
THROTTLING_CODES = frozenset(
    {
        "ProvisionedThroughputExceededException",
        "ThrottlingException",
        "RequestLimitExceeded",
        "SlowDown",
        "InternalError",  # S3's, also per key in DeleteObjects: "please try again"
        "ServiceUnavailable",
        "InternalServerError",
        "TransactionInProgressException",
        "TooManyRequestsException",  # Cognito's throttling
        "InternalErrorException",  # Cognito's "try again"
    }
)


class KeyUnavailable(Exception):
    """The cursor-signing key could not be loaded (Secrets Manager unreachable, throttled or too
    slow): 503. Raised by app/store/cursor.py; declared here, where it is answered."""


class ApiError(Exception):
    """An error the API reports to its caller in the one error format."""

    def __init__(
        self,
        code: ErrorCode,
        message: str,
        details: Any = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.details = details
        self.headers = headers or {}

    @property
    def status_code(self) -> int:
        return STATUS_OF[self.code]


def not_found(what: str = "Echo") -> ApiError:
    return ApiError(ErrorCode.RESOURCE_NOT_FOUND, f"{what} not found")


def account_erased() -> ApiError:
    """The account behind a still-unexpired token was erased (or is being erased)."""
    return ApiError(ErrorCode.AUTHENTICATION_FAILED, "This account has been erased")


def unavailable(
    message: str = "A backing service is unavailable; try again shortly", retry_after: int | None = None
) -> ApiError:
    seconds = RETRY_AFTER_SECONDS if retry_after is None else str(retry_after)
    return ApiError(ErrorCode.SERVICE_UNAVAILABLE, message, headers={"Retry-After": seconds})


def error_body(code: ErrorCode, message: str, details: Any = None) -> dict[str, Any]:
    return {
        "error": code.value,
        "message": message,
        "details": details,
        "timestamp": datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "request_id": request_id_var.get(),
    }


def error_response(error: ApiError) -> JSONResponse:
    count_error(error.code.value)
    headers = dict(error.headers)
    if error.code is ErrorCode.AUTHENTICATION_FAILED:
        headers.setdefault("WWW-Authenticate", "Bearer")
    return JSONResponse(
        error_body(error.code, error.message, error.details),
        status_code=error.status_code,
        headers=headers,
    )


def internal_error_response() -> JSONResponse:
    return error_response(ApiError(ErrorCode.INTERNAL_SERVER_ERROR, "An unexpected error occurred"))


def _validation_details(exc: RequestValidationError) -> list[dict[str, Any]]:
    return [
        {
            "field": ".".join(str(part) for part in error["loc"]),
            "message": error["msg"],
            "type": error["type"],
        }
        for error in exc.errors()
    ]


async def _on_api_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ApiError)
    return error_response(exc)


async def _on_validation_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    return error_response(
        ApiError(ErrorCode.VALIDATION_ERROR, "Request validation failed", _validation_details(exc))
    )


_FRAMEWORK_MESSAGES = {
    404: "Resource not found",
    405: "Method not allowed",
    401: "Authentication required",
}


async def _on_http_exception(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    code = next((c for c, s in STATUS_OF.items() if s == exc.status_code), ErrorCode.VALIDATION_ERROR)
    message = _FRAMEWORK_MESSAGES.get(exc.status_code, str(exc.detail))
    # Starlette's 405 carries the Allow header.
    return error_response(ApiError(code, message, headers=dict(exc.headers or {})))


async def _on_aws_error(_: Request, exc: Exception) -> JSONResponse:
    code = exc.response.get("Error", {}).get("Code", "") if isinstance(exc, ClientError) else ""
    if isinstance(exc, BotoCoreError) or code in THROTTLING_CODES:
        logger.warning("AWS dependency unavailable", extra={"aws_error": code or repr(exc)})
        return error_response(unavailable())
    logger.exception("Unexpected AWS error")
    return internal_error_response()


async def _on_dependency_unavailable(_: Request, exc: Exception) -> JSONResponse:
    """The request's deadline ran out, or Secrets Manager failed: back off and try again."""
    logger.warning("Dependency unavailable", extra={"reason": type(exc).__name__})
    return error_response(unavailable())


def register_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(ApiError, _on_api_error)
    app.add_exception_handler(RequestValidationError, _on_validation_error)
    app.add_exception_handler(StarletteHTTPException, _on_http_exception)
    app.add_exception_handler(ClientError, _on_aws_error)
    app.add_exception_handler(BotoCoreError, _on_aws_error)
    app.add_exception_handler(DeadlineExceeded, _on_dependency_unavailable)
    app.add_exception_handler(KeyUnavailable, _on_dependency_unavailable)
