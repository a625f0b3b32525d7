"""The caller's account: erase it, export it."""

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response, status

from app.account import CHAIN_KEY, AccountService, report_refused_continuation
from app.auth import AuthenticatedUser, BearerCredentials, CurrentUser, SignedInUser, get_signed_in_user
from app.concurrency import run_blocking
from app.errors import ApiError, ErrorCode
from app.models import ERROR_RESPONSES, ErasureProgress, ExportPage

router = APIRouter(prefix="/api/v1/me", tags=["account"], responses=ERROR_RESPONSES)


async def get_service(request: Request) -> AccountService:
    service: AccountService = request.app.state.account_service
    return service


Service = Annotated[AccountService, Depends(get_service)]


async def _watch_continuation(request: Request) -> AsyncIterator[None]:
    """Declared before the caller's token: sees a continued pass refused before its pass starts
    (once started, the pass accounts for its own chain)."""
    try:
        yield
    except Exception as error:
        if not getattr(request.state, "erasure_pass_started", False):
            report_refused_continuation(request.scope.get("aws.event"), error)
        raise


async def _eraser(request: Request, credentials: BearerCredentials, user: AuthenticatedUser) -> CurrentUser:
    """The caller, whose token Cognito confirms not revoked before the erasure starts. A continued
    pass (the function replaying the first pass's request) does not ask again: by then the token
    may name a Cognito user the erasure itself has deleted."""
    if CHAIN_KEY in (request.scope.get("aws.event") or {}):
        return user
    return await get_signed_in_user(request, credentials, user)


@router.delete(
    "",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    responses={202: {"model": ErasureProgress, "description": "Erasure under way: repeat"}},
)
async def erase_account(
    request: Request,
    _: Annotated[None, Depends(_watch_continuation)],
    user: Annotated[CurrentUser, Depends(_eraser)],
    service: Service,
) -> Response:
    """Erase every echo, every version of its audio, the counters, slots, tag items, pending
    uploads and the Cognito user. 204 when complete; 202 with progress when the pass ran out of
    time: repeat the request to continue. Afterwards the old token is refused (401). A token
    revoked by a sign-out is refused here (Cognito is asked), though data routes accept it until
    it expires."""
    if not user.username:
        raise ApiError(ErrorCode.AUTHENTICATION_FAILED, "The token names no Cognito user")
    # In Lambda, Mangum puts the API Gateway event in the scope (the continuation replays it) and
    # the context, which knows how long the invocation has left before the function's timeout.
    event = request.scope.get("aws.event")
    context = request.scope.get("aws.context")
    time_left = context.get_remaining_time_in_millis() / 1000 if context is not None else None
    request.state.erasure_pass_started = True
    progress = await run_blocking(request, service.erase, user.user_id, user.username, event, time_left)
    if progress is None:
        return Response(status_code=status.HTTP_204_NO_CONTENT)
    return Response(
        progress.model_dump_json(), status_code=status.HTTP_202_ACCEPTED, media_type="application/json"
    )


@router.get("/export", response_model=ExportPage)
async def export_account(
    request: Request,
    user: SignedInUser,
    service: Service,
    cursor: Annotated[str | None, Query(max_length=1024, description="next_cursor of the last page")] = None,
) -> Response:
    """Everything the caller has, as JSON pages (each well under Lambda's 6 MB response limit):
    follow next_cursor until it is null. Audio URLs are fresh, short-lived presigned GETs. A token
    revoked by a sign-out is refused (Cognito is asked)."""
    page = await run_blocking(request, service.export, user.user_id, cursor)
    return Response(page.model_dump_json(), media_type="application/json")
