"""The echoes API: uploads, create, list, stats, random, get, edit and delete, for the caller only."""

from typing import Annotated

from fastapi import APIRouter, Depends, Header, Query, Request, Response, status
from pydantic import BaseModel

from app.auth import AuthenticatedUser
from app.concurrency import run_blocking
from app.errors import ApiError, ErrorCode
from app.models import (
    ERROR_RESPONSES,
    CreateEchoRequest,
    Echo,
    EchoPage,
    EchoStats,
    Emotion,
    InitUploadRequest,
    InitUploadResponse,
    Selection,
    UpdateEchoRequest,
    UtcDatetime,
    iso_millis,
    normalise_tag,
)
from app.service import EchoService, etag
from app.uploads import UploadService

router = APIRouter(prefix="/api/v1/echoes", tags=["echoes"], responses=ERROR_RESPONSES)


async def get_service(request: Request) -> EchoService:
    # async: it does no I/O, and FastAPI would otherwise run it in a worker thread.
    service: EchoService = request.app.state.echo_service
    return service


Service = Annotated[EchoService, Depends(get_service)]


async def get_uploads(request: Request) -> UploadService:
    uploads: UploadService = request.app.state.upload_service
    return uploads


Uploads = Annotated[UploadService, Depends(get_uploads)]


def _json(model: BaseModel, status_code: int = status.HTTP_200_OK) -> Response:
    """The service already built a validated model: serialise it once, skipping FastAPI's second
    validation pass (response_model still documents it)."""
    return Response(model.model_dump_json(), status_code=status_code, media_type="application/json")


@router.post("/init-upload", response_model=InitUploadResponse)
async def init_upload(
    request: Request, body: InitUploadRequest, user: AuthenticatedUser, service: Uploads
) -> Response:
    return _json(await run_blocking(request, service.init_upload, user.user_id, body))


@router.post("", response_model=Echo, status_code=status.HTTP_201_CREATED)
async def create_echo(
    request: Request,
    echo_id: Annotated[str, Query(max_length=64, description="The id from init-upload")],
    body: CreateEchoRequest,
    user: AuthenticatedUser,
    service: Uploads,
) -> Response:
    """Create the echo once its audio is uploaded. Repeating the same request returns the same echo."""
    echo = await run_blocking(request, service.create, user.user_id, echo_id, body)
    return _json(echo, status.HTTP_201_CREATED)


@router.get("", response_model=EchoPage)
async def list_echoes(
    request: Request,
    user: AuthenticatedUser,
    service: Service,
    emotion: Emotion | None = None,
    page: Annotated[int, Query(ge=1, le=10_000)] = 1,
    page_size: Annotated[int, Query(ge=1, le=100)] = 20,
    cursor: Annotated[
        str | None, Query(max_length=1024, description="next_cursor of the previous page")
    ] = None,
    since: Annotated[
        UtcDatetime | None,
        Query(alias="from", description="created_at at or after (ISO 8601 with offset)"),
    ] = None,
    until: Annotated[
        UtcDatetime | None, Query(alias="to", description="created_at before (exclusive)")
    ] = None,
    tag: Annotated[
        str | None, Query(min_length=1, max_length=64, description="One tag (case-insensitive)")
    ] = None,
) -> Response:
    """Newest first. Prefer `cursor` to `page`: it costs one page of reads wherever it points,
    while `page` reads the echoes before it and may skip at most 1,000 (400 beyond).
    Filters: `emotion`, or `tag`, each combinable with `from`/`to` (emotion and tag together:
    400). With `from`/`to`/`tag`, `total_count` is null."""
    selection = Selection(
        emotion=emotion.value if emotion else None,
        tag=_tag(tag) if tag is not None else None,
        since=iso_millis(since) if since else None,
        until=iso_millis(until) if until else None,
    )
    return _json(await run_blocking(request, service.list, user.user_id, selection, page, page_size, cursor))


def _tag(raw: str) -> str:
    try:
        return normalise_tag(raw)
    except ValueError as exc:
        raise ApiError(ErrorCode.VALIDATION_ERROR, str(exc), {"field": "tag"}) from None


@router.get("/stats", response_model=EchoStats)
async def echo_stats(request: Request, user: AuthenticatedUser, service: Service) -> Response:
    """Totals per emotion and the first and last echo: three reads whatever the history."""
    return _json(await run_blocking(request, service.stats, user.user_id))


@router.get("/random", response_model=Echo)
async def random_echo(
    request: Request, user: AuthenticatedUser, service: Service, emotion: Emotion | None = None
) -> Response:
    return _json(
        await run_blocking(request, service.random, user.user_id, emotion.value if emotion else None)
    )


def _with_etag(echo: Echo) -> Response:
    response = _json(echo)
    response.headers["ETag"] = etag(echo.version)
    return response


@router.get("/{echo_id}", response_model=Echo)
async def get_echo(request: Request, echo_id: str, user: AuthenticatedUser, service: Service) -> Response:
    return _with_etag(await run_blocking(request, service.get, user.user_id, echo_id))


@router.patch("/{echo_id}", response_model=Echo)
async def update_echo(
    request: Request,
    echo_id: str,
    body: UpdateEchoRequest,
    user: AuthenticatedUser,
    service: Service,
    if_match: Annotated[
        str | None, Header(description="The ETag of the version this change was made against")
    ] = None,
) -> Response:
    """Change emotion, tags, transcript, detected_mood, location or recorded_at; fields left out
    stay, null clears transcript, detected_mood and location. With If-Match, a stale ETag is 412."""
    return _with_etag(await run_blocking(request, service.update, user.user_id, echo_id, body, if_match))


@router.delete("/{echo_id}", status_code=status.HTTP_204_NO_CONTENT, response_class=Response)
async def delete_echo(request: Request, echo_id: str, user: AuthenticatedUser, service: Service) -> Response:
    await run_blocking(request, service.delete, user.user_id, echo_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
