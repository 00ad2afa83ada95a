from __future__ import annotations

import pytest
from botocore.exceptions import (
    ClientError,
    ConnectionClosedError,
    EndpointConnectionError,
    NoCredentialsError,
    ParamValidationError,
)

from reconciler.kernel.aws import translate_error
from reconciler.kernel.errors import (
    AwsError,
    ConflictError,
    EndpointUnreachableError,
    ReconcilerError,
    TableNotFoundError,
    ThrottledError,
)


def client_error(code: str, **extra: object) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": "m"}, **extra}, "UpdateItem")  # type: ignore[arg-type]


def test_a_failed_condition_is_a_conflict_carrying_the_old_item():
    item = {"attendeeCount": {"N": "3"}}
    error = translate_error(
        "UpdateItem", client_error("ConditionalCheckFailedException", Item=item)
    )
    assert isinstance(error, ConflictError)
    assert error.current == item


@pytest.mark.parametrize("code", ["ProvisionedThroughputExceededException", "ThrottlingException"])
def test_throttling_is_its_own_error(code: str):
    assert isinstance(translate_error("Query", client_error(code)), ThrottledError)


def test_other_service_errors_keep_operation_and_code_for_metrics():
    error = translate_error("Query", client_error("ResourceNotFoundException"))
    assert isinstance(error, AwsError)
    assert (error.operation, error.code) == ("Query", "ResourceNotFoundException")


def test_a_missing_table_is_named_and_still_counted_under_its_aws_code():
    error = translate_error("Query", client_error("ResourceNotFoundException"), "registrations")
    assert isinstance(error, TableNotFoundError)
    assert (error.operation, error.code) == ("Query", "ResourceNotFoundException")
    assert str(error).startswith("table registrations not found in this account and region")


def test_an_unreachable_endpoint_is_reported_as_such():
    error = translate_error("Query", EndpointConnectionError(endpoint_url="http://127.0.0.1:9"))
    assert isinstance(error, EndpointUnreachableError)


def test_a_connection_closed_mid_request_is_an_unreachable_endpoint():
    error = translate_error("GetItem", ConnectionClosedError(endpoint_url="http://x"))
    assert isinstance(error, EndpointUnreachableError)


def test_every_other_botocore_error_becomes_ours_so_callers_can_isolate_it():
    error = translate_error("GetItem", NoCredentialsError())
    assert isinstance(error, AwsError)
    assert error.code == "NoCredentialsError"


def test_parameter_validation_errors_never_repeat_the_values():
    exc = ParamValidationError(
        report="Invalid type for parameter Item.email, value: ada@example.com"
    )
    error = translate_error("PutItem", exc)
    assert isinstance(error, ReconcilerError)
    assert "ada@example.com" not in str(error)


def test_errors_that_are_not_botocore_pass_through_unchanged():
    original = ValueError("x")
    assert translate_error("Query", original) is original
