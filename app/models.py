"""Request and response models, emotions and the audio formats the API accepts."""

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from http import HTTPStatus
from typing import Annotated, Literal

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field, field_validator

MAX_TAGS = 10
MAX_TAG_LENGTH = 32
# How far in the future a recorded_at may be: the recording device's clock may run a little ahead.
RECORDED_AT_SKEW = timedelta(minutes=5)


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

    @classmethod
    def _missing_(cls, value: object) -> "Emotion | None":
        """Any case is accepted ("Joy" is joy); the value is always lower-case."""
        folded = value.lower() if isinstance(value, str) else None
        return next((member for member in cls if member.value == folded), None)


# file extension -> the canonical content type, then aliases browsers and recorders also send.
AUDIO_FORMATS: dict[str, tuple[str, ...]] = {
    "webm": ("audio/webm",),
    "wav": ("audio/wav", "audio/x-wav", "audio/wave"),
    "mp3": ("audio/mpeg", "audio/mp3"),
    "m4a": ("audio/mp4", "audio/x-m4a"),
    "ogg": ("audio/ogg",),
}


# RFC 9110 section 8.3.1: type "/" subtype *( OWS ";" OWS [ name "=" ( token / quoted-string ) ] ),
# ASCII only (obs-text left out): no CR, LF or NUL can reach a signed header or a header we return.
_TOKEN = r"[!#$%&'*+.^_`|~0-9A-Za-z-]+"
_QUOTED_STRING = r'"(?:[\t !#-\[\]-~]|\\[\t -~])*"'
_MEDIA_TYPE = re.compile(rf"{_TOKEN}/{_TOKEN}(?:[ \t]*;[ \t]*(?:{_TOKEN}=(?:{_TOKEN}|{_QUOTED_STRING}))?)*")


def _media_type(value: str) -> str:
    """A media type as RFC 9110 defines it, lower-cased (the one form signed into the upload URL
    and returned in upload_headers). Spacing is kept: the client sends this value byte for byte in
    the PUT, and S3 compares it with the signed one."""
    if _MEDIA_TYPE.fullmatch(value) is None:
        raise ValueError("must be a media type such as audio/webm or audio/webm;codecs=opus (ASCII)")
    return value.lower()


MediaType = Annotated[
    str, Field(min_length=1, max_length=100, examples=["audio/webm"]), AfterValidator(_media_type)
]


def _in_utc_range(moment: datetime) -> datetime:
    """Every datetime is stored and compared in UTC: an offset can carry one past year 1 or 9999
    once converted (0001-01-01T00:00:00+05:00), which would fail later as an OverflowError."""
    try:
        moment.astimezone(UTC)
    except OverflowError:
        raise ValueError("out of range once converted to UTC") from None
    return moment


UtcDatetime = Annotated[AwareDatetime, AfterValidator(_in_utc_range)]


@dataclass(frozen=True)
class Selection:
    """Which echoes a listing wants. The supported combinations are the ones a key condition can
    serve: emotion (its index) or tag (its items), each with optional created_at bounds
    (since inclusive, until exclusive, both in the stored timestamp format)."""

    emotion: str | None = None
    tag: str | None = None
    since: str | None = None
    until: str | None = None


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
    content_type: MediaType
    file_size: int | None = Field(
        default=None,
        ge=1,
        description="Size in bytes of the file to upload, if known: over the limit, refused at once "
        "(413). The limit is enforced at create either way",
    )


class InitUploadResponse(BaseModel):
    echo_id: str
    upload_url: str = Field(
        description="Presigned PUT for the audio, signed for host and Content-Type only: send the "
        "headers in upload_headers (Content-Type, exactly as given)"
    )
    upload_headers: dict[str, str]
    s3_key: str = Field(description="Where the echo's audio is kept once created (not the upload's key)")
    expires_in: int


class Location(StrictModel):
    lat: float = Field(ge=-90, le=90)
    lng: float = Field(ge=-180, le=180)
    address: str | None = Field(default=None, max_length=200)


def iso_millis(moment: datetime) -> str:
    """The one timestamp format stored and compared: UTC, milliseconds, 'Z' (sorts as text)."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def normalise_tag(raw: str) -> str:
    """Tags are compared trimmed and case-folded, so 'Rain ' and 'rain' are one tag."""
    tag = raw.strip().casefold()
    if not tag:
        raise ValueError("tags must not be empty")
    if len(tag) > MAX_TAG_LENGTH:
        raise ValueError(f"tags must be at most {MAX_TAG_LENGTH} characters")
    return tag


def _normalise_tags(tags: list[str]) -> list[str]:
    normalised: list[str] = []
    for tag in map(normalise_tag, tags):
        if tag not in normalised:
            normalised.append(tag)
    return normalised


def _not_in_future(moment: datetime) -> datetime:
    if moment - datetime.now(UTC) > RECORDED_AT_SKEW:
        raise ValueError("recorded_at must not be in the future")
    return moment


Tags = Annotated[list[str], Field(max_length=MAX_TAGS), AfterValidator(_normalise_tags)]
RecordedAt = Annotated[
    UtcDatetime,
    Field(description="When the sound was recorded (ISO 8601 with offset); defaults to created_at"),
    AfterValidator(_not_in_future),
]
Transcript = Annotated[str, Field(max_length=1000)]
DetectedMood = Annotated[str, Field(max_length=50)]


class CreateEchoRequest(StrictModel):
    emotion: Emotion
    tags: Tags = Field(default_factory=list)
    transcript: Transcript | None = None
    detected_mood: DetectedMood | None = None
    file_extension: AudioExtension
    duration_seconds: float | None = Field(default=None, ge=0.1, le=300)
    location: Location | None = None
    recorded_at: RecordedAt | None = None


class UpdateEchoRequest(StrictModel):
    """PATCH body: a field left out is unchanged; null clears a nullable field."""

    emotion: Emotion | None = None
    tags: Tags | None = None
    transcript: Transcript | None = None
    detected_mood: DetectedMood | None = None
    location: Location | None = None
    recorded_at: RecordedAt | None = None

    @field_validator("emotion", "tags", "recorded_at", mode="before")
    @classmethod
    def _not_null(cls, value: object) -> object:
        if value is None:
            raise ValueError("this field cannot be cleared")
        return value


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
    recorded_at: str = Field(description="When the sound was recorded; created_at unless given")
    version: int = Field(description="Increases with every change; the ETag is derived from it")
    audio_url: str = Field(description="Short-lived presigned GET for playback")


class EchoPage(BaseModel):
    echoes: list[Echo]
    total_count: int | None = Field(
        description="Echoes matching the emotion filter (all when none); null with from/to/tag, "
        "which no counter keeps"
    )
    page: int
    page_size: int
    has_more: bool
    next_cursor: str | None


class EchoStats(BaseModel):
    total_count: int
    by_emotion: dict[Emotion, int] = Field(description="Every emotion, zeros included")
    first_echo_at: str | None = Field(description="created_at of the oldest echo; null when none")
    last_echo_at: str | None = Field(description="created_at of the newest echo; null when none")


class ErasureProgress(BaseModel):
    status: Literal["erasing"]
    phase: Literal["audio", "records", "user"] = Field(description="Where this pass stopped")
    audio_versions_deleted: int = Field(description="Audio object versions deleted by this pass")
    items_deleted: int = Field(description="Records deleted by this pass")
    continuing: bool = Field(description="True when the function carries on by itself (in Lambda)")
    message: str


class ExportPage(BaseModel):
    """One page of the caller's data; follow next_cursor until it is null."""

    user_id: str
    exported_at: str
    stats: EchoStats | None = Field(description="On the first page only")
    echoes: list[Echo]
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
    for status in (400, 401, 404, 409, 412, 413, 415, 503)
}
