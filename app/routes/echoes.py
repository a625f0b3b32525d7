"""The echoes API: uploads, create, list, random, get and delete, all for the caller only."""

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response, status

from app.auth import AuthenticatedUser
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


def get_service(request: Request) -> EchoService:
    return request.app.state.echo_service


Service = Annotated[EchoService, Depends(get_service)]


@router.post("/init-upload", response_model=InitUploadResponse)
def init_upload(body: InitUploadRequest, user: AuthenticatedUser, service: Service) -> InitUploadResponse:
    return service.init_upload(user.user_id, body)


@router.post("", response_model=Echo, status_code=status.HTTP_201_CREATED)
def create_echo(
    echo_id: Annotated[str, Query(max_length=64, description="The id from init-upload")],
    body: CreateEchoRequest,
    user: AuthenticatedUser,
    service: Service,
) -> Echo:
    """Create the echo once its audio is uploaded. Repeating the same request returns the same echo."""
    return service.create(user.user_id, echo_id, body).echo


@router.get("", response_model=EchoPage)
def list_echoes(
    user: AuthenticatedUser,
    service: Service,
    emotion: Emotion | None = None,
    page: Annotated[int, Query(ge=1, le=10_000)] = 1,
    page_size: Annotated[int, Query(ge=1, le=100)] = 20,
    cursor: Annotated[str | None, Query(max_length=1024, description="next_cursor of the previous page")] = None,
) -> EchoPage:
    """Newest first. Prefer `cursor` to `page`: it costs one page of reads wherever it points."""
    return service.list(user.user_id, emotion.value if emotion else None, page, page_size, cursor)


@router.get("/random", response_model=Echo)
def random_echo(user: AuthenticatedUser, service: Service, emotion: Emotion | None = None) -> Echo:
    return service.random(user.user_id, emotion.value if emotion else None)


@router.get("/{echo_id}", response_model=Echo)
def get_echo(echo_id: str, user: AuthenticatedUser, service: Service) -> Echo:
    return service.get(user.user_id, echo_id)


@router.delete("/{echo_id}", status_code=status.HTTP_204_NO_CONTENT, response_class=Response)
def delete_echo(echo_id: str, user: AuthenticatedUser, service: Service) -> Response:
    service.delete(user.user_id, echo_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
