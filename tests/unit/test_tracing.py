"""The AWS-call subsegments' bookkeeping (app/tracing.py) on a recorder that keeps what it is given:
each subsegment begun is ended, whether the call answered or failed, and an unsampled request
begins none. tests/integration/test_tracing.py checks what reaches the X-Ray daemon."""

from types import SimpleNamespace
from typing import Any

import pytest

from app.tracing import AwsCallSubsegments


class Recorder:
    def __init__(self) -> None:
        self.open: list[SimpleNamespace] = []
        self.ended: list[SimpleNamespace] = []

    def begin_subsegment(self, name: str, namespace: str) -> SimpleNamespace:
        subsegment = SimpleNamespace(name=name, namespace=namespace, http={}, aws={}, exceptions=[])
        subsegment.put_http_meta = lambda key, value: subsegment.http.update({key: value})
        subsegment.set_aws = subsegment.aws.update
        subsegment.add_exception = lambda exception, *_, **__: subsegment.exceptions.append(exception)
        self.open.append(subsegment)
        return subsegment

    def end_subsegment(self) -> None:
        self.ended.append(self.open.pop())


MODEL = SimpleNamespace(name="Query", service_model=SimpleNamespace(endpoint_prefix="dynamodb"))


def _trace(monkeypatch: pytest.MonkeyPatch, sampled: str) -> None:
    monkeypatch.setenv(
        "_X_AMZN_TRACE_ID",
        f"Root=1-67891233-abcdef012345678912345678;Parent=53995c3f42cd8ad8;Sampled={sampled}",
    )


def test_an_answered_call_ends_its_subsegment_with_the_operation_and_status(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _trace(monkeypatch, "1")
    recorder, context = Recorder(), {"client_region": "eu-west-1"}
    calls = AwsCallSubsegments(recorder)
    calls.begin(model=MODEL, context=context)
    response: dict[str, Any] = {"ResponseMetadata": {"RequestId": "R1"}}
    calls.end(http_response=SimpleNamespace(status_code=200), parsed=response, model=MODEL, context=context)
    (ended,) = recorder.ended
    assert (ended.name, ended.namespace, ended.http) == ("dynamodb", "aws", {"status": 200})
    assert ended.aws == {"operation": "Query", "region": "eu-west-1", "request_id": "R1"}
    assert recorder.open == [] and context == {"client_region": "eu-west-1"}


def test_a_failed_call_ends_its_subsegment_with_the_exception(monkeypatch: pytest.MonkeyPatch) -> None:
    _trace(monkeypatch, "1")
    recorder, context = Recorder(), {}
    calls = AwsCallSubsegments(recorder)
    calls.begin(model=MODEL, context=context)
    timeout = TimeoutError("read timeout")
    calls.failed(exception=timeout, context=context)
    assert [s.exceptions for s in recorder.ended] == [[timeout]] and recorder.open == []


def test_an_unsampled_request_begins_no_subsegment(monkeypatch: pytest.MonkeyPatch) -> None:
    _trace(monkeypatch, "0")
    recorder, context = Recorder(), {}
    calls = AwsCallSubsegments(recorder)
    calls.begin(model=MODEL, context=context)
    calls.failed(exception=TimeoutError(), context=context)
    assert recorder.open == recorder.ended == []
