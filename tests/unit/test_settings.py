"""Settings from the environment (app/settings.py): origins, defaults, and bad values named."""

import pytest

from app.settings import Settings, SettingsError, load_settings
from tests.support import VALID


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in Settings.model_fields:
        monkeypatch.delenv(name.upper(), raising=False)
    for name, value in VALID.items():
        monkeypatch.setenv(name, value)
    return monkeypatch


def test_defaults_and_derived_urls(env: pytest.MonkeyPatch) -> None:
    settings = load_settings()
    assert settings.cors_allow_origins == ()
    assert settings.cognito_issuer == "https://cognito-idp.eu-west-3.amazonaws.com/eu-west-3_AbC123"
    assert settings.jwks_url == settings.cognito_issuer + "/.well-known/jwks.json"
    assert not settings.docs_enabled, "API docs only in dev"
    env.setenv("COGNITO_JWKS_URL", "http://127.0.0.1:1/jwks.json")
    assert load_settings().jwks_url == "http://127.0.0.1:1/jwks.json"


def test_variable_names_are_case_insensitive(env: pytest.MonkeyPatch) -> None:
    env.delenv("ENVIRONMENT")
    env.setenv("environment", "dev")
    assert load_settings().docs_enabled


@pytest.mark.parametrize(
    ("raw", "origins"),
    [
        ("https://a.example", ("https://a.example",)),
        (" https://a.example ,http://localhost:3000 ", ("https://a.example", "http://localhost:3000")),
        ("https://a.example,,", ("https://a.example",)),
        ("", ()),
    ],
)
def test_origins_are_a_comma_separated_list(
    env: pytest.MonkeyPatch, raw: str, origins: tuple[str, ...]
) -> None:
    env.setenv("CORS_ALLOW_ORIGINS", raw)
    assert load_settings().cors_allow_origins == origins


@pytest.mark.parametrize(
    "origin", ["*", "a.example", "ftp://a.example", "//a.example", "https://ok.example,*"]
)
def test_an_origin_that_is_not_explicit_http_is_refused_by_name(env: pytest.MonkeyPatch, origin: str) -> None:
    env.setenv("CORS_ALLOW_ORIGINS", origin)
    with pytest.raises(SettingsError, match=r"CORS_ALLOW_ORIGINS: .*is not an explicit http\(s\) origin"):
        load_settings()


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("ENVIRONMENT", "qa"),
        ("LOG_LEVEL", "TRACE"),
        ("DEBUG", "maybe"),
        ("COGNITO_USER_POOL_ID", "no-underscore"),
        ("S3_BUCKET_NAME", "ab"),
        ("MAX_AUDIO_BYTES", "0"),
        ("UPLOAD_URL_EXPIRES_SECONDS", "59"),
        ("UPLOADS_PER_USER_PER_HOUR", "0"),
        ("REQUEST_DEADLINE_SECONDS", "21"),
        ("HEALTH_CACHE_SECONDS", "soon"),
    ],
)
def test_a_bad_value_is_named(env: pytest.MonkeyPatch, name: str, value: str) -> None:
    env.setenv(name, value)
    with pytest.raises(SettingsError, match=rf"^Invalid configuration: {name}: "):
        load_settings()


def test_every_problem_is_named_in_one_message(env: pytest.MonkeyPatch) -> None:
    env.delenv("AWS_REGION")
    env.setenv("ENVIRONMENT", "qa")
    with pytest.raises(SettingsError) as error:
        load_settings()
    message = str(error.value)
    assert "AWS_REGION: Field required" in message and "ENVIRONMENT: " in message
    assert error.value.__cause__ is None and error.value.__suppress_context__, "no pydantic traceback"


def test_settings_are_frozen(env: pytest.MonkeyPatch) -> None:
    settings = load_settings()
    with pytest.raises(ValueError, match="frozen"):
        settings.debug = True
