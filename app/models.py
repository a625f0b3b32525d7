"""Request and response models, emotions and the audio formats the API accepts."""

from enum import StrEnum
from http import HTTPStatus
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator

MAX_TAGS = 10
MAX_TAG_LENGTH = 50


class Emotion(StrEnum):
    JOY = "joy"
    CALM = "calm"
    SADNESS = "sadness"
    ANGER = "anger"
    FEAR = "fear"
    SURPRISE = "surprise"
    LOVE = "love"
    NOSTALGIA = "nostalgia"
    EXCITEMENT = "excitement"
    PEACEFUL = "peaceful"
    MELANCHOLY = "melancholy"
    HOPE = "hope"


# file extension -> the canonical content type, then aliases browsers and recorders also send.
AUDIO_FORMATS: dict[str, tuple[str, ...]] = {
    "webm": ("audio/webm",),
    "wav": ("audio/wav", "audio/x-wav", "audio/wave"),
    "mp3": ("audio/mpeg", "audio/mp3"),
    "m4a": ("audio/mp4", "audio/x-m4a"),
    "ogg": ("audio/ogg",),
}


class StrictModel(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


# "WEBM", ".webm" and "webm" name the same format.
AudioExtension = Annotated[
    str,
    Field(min_length=1, max_length=10, examples=["webm"]),
    AfterValidator(lambda e: e.lower().lstrip(".")),
]


class InitUploadRequest(StrictModel):
    file_extension: AudioExtension
    content_type: str = Field(min_length=1, max_length=100, examples=["audio/webm"])
    file_size: int = Field(
        ge=1,
        description="Size in bytes of the file to upload: the presigned PUT is signed for exactly this "
        "Content-Length (browsers set it from the body)",
    )


class UploadForm(BaseModel):
    url: str
    fields: dict[str, str]


class InitUploadResponse(BaseModel):
    echo_id: str
    upload_url: str = Field(
        description="Presigned PUT of exactly file_size bytes that cannot replace an existing object; "
        "send the headers in upload_headers"
    )
    upload_headers: dict[str, str]
    upload_form: UploadForm = Field(description="Presigned POST: send fields, then the file")
    s3_key: str
    expires_in: int


class Location(StrictModel):
    lat: float = Field(ge=-90, le=90)
    lng: float = Field(ge=-180, le=180)
    address: str | None = Field(default=None, max_length=200)


class CreateEchoRequest(StrictModel):
    emotion: Emotion
    tags: list[str] = Field(default_factory=list, max_length=MAX_TAGS)
    transcript: str | None = Field(default=None, max_length=1000)
    detected_mood: str | None = Field(default=None, max_length=50)
    file_extension: AudioExtension
    duration_seconds: float | None = Field(default=None, ge=0.1, le=300)
    location: Location | None = None

    @field_validator("tags")
    @classmethod
    def _normalise_tags(cls, tags: list[str]) -> list[str]:
        normalised: list[str] = []
        for raw in tags:
            tag = raw.strip().lower()
            if not tag:
                raise ValueError("tags must not be empty")
            if len(tag) > MAX_TAG_LENGTH:
                raise ValueError(f"tags must be at most {MAX_TAG_LENGTH} characters")
            if tag not in normalised:
                normalised.append(tag)
        return normalised


class Echo(BaseModel):
    echo_id: str
    emotion: Emotion
    timestamp: str
    s3_url: str
    location: Location | None
    tags: list[str]
    transcript: str | None
    detected_mood: str | None
    duration_seconds: float | None
    file_size: int
    content_type: str
    created_at: str
    audio_url: str = Field(description="Short-lived presigned GET for playback")


class EchoPage(BaseModel):
    echoes: list[Echo]
    total_count: int
    page: int
    page_size: int
    has_more: bool
    next_cursor: str | None


class RootInfo(BaseModel):
    message: str
    version: str
    docs: str | None
    health: str


class Health(BaseModel):
    status: Literal["healthy", "degraded"]
    service: str
    version: str
    environment: str
    timestamp: str
    dependencies: dict[str, str]


class ErrorBody(BaseModel):
    """Every error the API returns has this shape."""

    error: str = Field(examples=["resource_not_found"])
    message: str
    details: object | None = None
    timestamp: str
    request_id: str


ERROR_SCHEMA_REF = f"#/components/schemas/{ErrorBody.__name__}"
# A schema reference rather than {"model": ErrorBody}: FastAPI builds a validator for every
# (route, status) given a model, paid at every cold start for documentation that only dev
# serves. app/openapi.py adds ErrorBody's schema to the document it builds (dev only).
ERROR_RESPONSES: dict[int | str, dict[str, object]] = {
    status: {
        "description": HTTPStatus(status).phrase,
        "content": {"application/json": {"schema": {"$ref": ERROR_SCHEMA_REF}}},
    }
    for status in (400, 401, 404, 409, 413, 415, 503)
}
