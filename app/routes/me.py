"""The caller's account: erase it, export it."""

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response, status

from app.account import AccountService
from app.auth import SignedInUser
from app.concurrency import run_blocking
from app.errors import ApiError, ErrorCode
from app.models import ERROR_RESPONSES, ErasureProgress, ExportPage

router = APIRouter(prefix="/api/v1/me", tags=["account"], responses=ERROR_RESPONSES)


async def get_service(request: Request) -> AccountService:
    service: AccountService = request.app.state.account_service
    return service


Service = Annotated[AccountService, Depends(get_service)]


@router.delete(
    "",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    responses={202: {"model": ErasureProgress, "description": "Erasure under way: repeat"}},
)
async def erase_account(request: Request, user: SignedInUser, service: Service) -> Response:
    """Erase every echo, every version of its audio, the counters, slots, tag items, pending
    uploads and the Cognito user. 204 when complete; 202 with progress while it goes on (in
    Lambda it continues by itself): repeat the request to see progress or continue it. Afterwards
    the old token is refused (401). A token revoked by a sign-out is refused here (Cognito is
    asked), though data routes accept it until it expires."""
    if not user.username:
        raise ApiError(ErrorCode.AUTHENTICATION_FAILED, "The token names no Cognito user")
    # In Lambda, Mangum puts the context in the scope: it knows how long the invocation has left.
    context = request.scope.get("aws.context")
    time_left = context.get_remaining_time_in_millis() / 1000 if context is not None else None
    progress = await run_blocking(request, service.erase, user.user_id, user.username, time_left)
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
