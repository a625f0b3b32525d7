"""The echoes API: uploads, create, list, random, get and delete, all for the caller only."""

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response, status
from pydantic import BaseModel

from app.auth import AuthenticatedUser
from app.concurrency import run_blocking
from app.models import (
    ERROR_RESPONSES,
    CreateEchoRequest,
    Echo,
    EchoPage,
    Emotion,
    InitUploadRequest,
    InitUploadResponse,
)
from app.service import EchoService

router = APIRouter(prefix="/api/v1/echoes", tags=["echoes"], responses=ERROR_RESPONSES)


async def get_service(request: Request) -> EchoService:
    # async: it does no I/O, and FastAPI would otherwise run it in a worker thread.
    service: EchoService = request.app.state.echo_service
    return service


Service = Annotated[EchoService, Depends(get_service)]


def _json(model: BaseModel, status_code: int = status.HTTP_200_OK) -> Response:
    """The service already built a validated model: serialise it once, skipping FastAPI's second
    validation pass (response_model still documents it)."""
    return Response(model.model_dump_json(), status_code=status_code, media_type="application/json")


@router.post("/init-upload", response_model=InitUploadResponse)
async def init_upload(
    request: Request, body: InitUploadRequest, user: AuthenticatedUser, service: Service
) -> Response:
    return _json(await run_blocking(request, service.init_upload, user.user_id, body))


@router.post("", response_model=Echo, status_code=status.HTTP_201_CREATED)
async def create_echo(
    request: Request,
    echo_id: Annotated[str, Query(max_length=64, description="The id from init-upload")],
    body: CreateEchoRequest,
    user: AuthenticatedUser,
    service: Service,
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
) -> Response:
    """Newest first. Prefer `cursor` to `page`: it costs one page of reads wherever it points."""
    selected = emotion.value if emotion else None
    return _json(await run_blocking(request, service.list, user.user_id, selected, page, page_size, cursor))


@router.get("/random", response_model=Echo)
async def random_echo(
    request: Request, user: AuthenticatedUser, service: Service, emotion: Emotion | None = None
) -> Response:
    return _json(
        await run_blocking(request, service.random, user.user_id, emotion.value if emotion else None)
    )


@router.get("/{echo_id}", response_model=Echo)
async def get_echo(request: Request, echo_id: str, user: AuthenticatedUser, service: Service) -> Response:
    return _json(await run_blocking(request, service.get, user.user_id, echo_id))


@router.delete("/{echo_id}", status_code=status.HTTP_204_NO_CONTENT, response_class=Response)
async def delete_echo(request: Request, echo_id: str, user: AuthenticatedUser, service: Service) -> Response:
    await run_blocking(request, service.delete, user.user_id, echo_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
