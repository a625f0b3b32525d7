"""The fakes of tests/unit/fakes.py keep their stores' interface: every method a fake offers the
services exists on the real store with the same parameters, so that a store's change of signature
fails here rather than leaving the service tests to pass against an interface that is gone. (Their
behaviour is the one tests/api proves on DynamoDB Local and moto.)"""

import inspect

import pytest

from app.store.audio import AudioStore
from app.store.echoes import EchoStore
from app.store.limits import UploadLimit
from app.store.uploads import PendingUploads
from tests.unit.fakes import FakeAudioStore, FakeEchoStore, FakePendingUploads, FakeUploadLimit, Faults

# What the tests use to arrange state or look at it: not part of any store's interface.
TEST_HELPERS = {"put", "ledger_item", "upload", "fail"}


def _offered(fake: type) -> list[str]:
    """The fake's public methods but the test helpers and Faults' own."""
    return [
        name
        for name, _ in inspect.getmembers(fake, inspect.isfunction)
        if not name.startswith("_") and name not in TEST_HELPERS and not hasattr(Faults, name)
    ]


@pytest.mark.parametrize(
    ("fake", "real"),
    [
        (FakeEchoStore, EchoStore),
        (FakePendingUploads, PendingUploads),
        (FakeAudioStore, AudioStore),
        (FakeUploadLimit, UploadLimit),
    ],
)
def test_each_fake_method_has_the_real_stores_signature(fake: type, real: type) -> None:
    offered = _offered(fake)
    assert offered, fake
    for name in offered:
        assert hasattr(real, name), f"{real.__name__} has no {name}: the fake offers what the store does not"
        expected = list(inspect.signature(getattr(real, name)).parameters)
        assert list(inspect.signature(getattr(fake, name)).parameters) == expected, name
