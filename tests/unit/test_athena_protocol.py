"""Athena's wire protocol through botocore's model (fairshare.services.athena_protocol)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from fairshare.services.athena_protocol import (
    AthenaApiError,
    error_body,
    invalid_request,
    operation_for,
    parse_input,
    serialize_output,
    service_model,
)


def test_the_model_is_botocores_athena_json_1_1() -> None:
    model = service_model()
    assert (model.protocol, model.metadata["jsonVersion"], model.metadata["targetPrefix"]) == (
        "json",
        "1.1",
        "AmazonAthena",
    )


@pytest.mark.parametrize(
    "target", [None, "", "AmazonAthena.", "AmazonAthena.Nope", "DynamoDB_20120810.GetItem"]
)
def test_a_target_that_names_no_athena_operation_is_unknown_operation(target: str | None) -> None:
    with pytest.raises(AthenaApiError) as excinfo:
        operation_for(target)
    assert (excinfo.value.type, excinfo.value.status) == ("UnknownOperationException", 400)


def test_input_is_typed_by_the_model() -> None:
    params = parse_input(
        operation_for("AmazonAthena.ListQueryExecutions"), json.dumps({"MaxResults": 5, "WorkGroup": "wg"})
    )
    assert params == {"MaxResults": 5, "WorkGroup": "wg"}


@pytest.mark.parametrize(
    ("body", "kind"),
    [
        ('{"MaxResults": "5"}', "InvalidRequestException"),
        ('{"Surprise": 1}', "InvalidRequestException"),
        ("nope", "SerializationException"),
        ('"a string"', "SerializationException"),
    ],
)
def test_input_the_model_refuses_is_answered_in_athenas_shape(body: str, kind: str) -> None:
    with pytest.raises(AthenaApiError) as excinfo:
        parse_input(operation_for("AmazonAthena.ListQueryExecutions"), body)
    assert excinfo.value.type == kind and excinfo.value.message


def test_output_keeps_the_models_members_and_writes_timestamps_as_epoch_seconds() -> None:
    reply = {
        "QueryExecution": {
            "QueryExecutionId": "q1",
            "Status": {"State": "QUEUED", "SubmissionDateTime": datetime(2026, 1, 1, tzinfo=UTC)},
            "NotInTheModel": "dropped",
        }
    }
    body = json.loads(serialize_output(operation_for("AmazonAthena.GetQueryExecution"), reply))
    assert body == {
        "QueryExecution": {
            "QueryExecutionId": "q1",
            "Status": {"State": "QUEUED", "SubmissionDateTime": 1767225600},
        }
    }


def test_an_error_carries_only_the_members_its_shape_declares() -> None:
    assert json.loads(error_body(invalid_request("bad"))) == {
        "__type": "InvalidRequestException",
        "Message": "bad",
        "AthenaErrorCode": "INVALID_INPUT",
    }
    throttled = AthenaApiError(
        "TooManyRequestsException", "full", Reason="CONCURRENT_QUERY_LIMIT_EXCEEDED", X=1
    )
    assert json.loads(error_body(throttled)) == {
        "__type": "TooManyRequestsException",
        "Message": "full",
        "Reason": "CONCURRENT_QUERY_LIMIT_EXCEEDED",
    }
    assert json.loads(
        error_body(AthenaApiError("UnrecognizedClientException", "who", status=403, Reason="x"))
    ) == {
        "__type": "UnrecognizedClientException",
        "Message": "who",
    }
