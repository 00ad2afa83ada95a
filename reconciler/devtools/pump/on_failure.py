"""The local mapping's on-failure destination: an SQS queue, as the deployed mapping has.

Every batch the pump gives up on (an injected drop or spent retries) becomes the message Lambda
sends, so ``reconciler replay`` can be tried against a local queue exactly as against AWS's.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from reconciler.handler.replay import on_failure_message
from reconciler.kernel.aws import aws_call
from reconciler.kernel.logs import get_logger

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient


class SqsOnFailure:
    """Sends Lambda's on-failure message for each dropped batch to one queue."""

    def __init__(
        self,
        sqs: SQSClient,
        queue_url: str,
        *,
        stream_arn: str,
        function_arn: str,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._sqs = sqs
        self._queue_url = queue_url
        self._stream_arn = stream_arn
        self._function_arn = function_arn
        self._clock = clock
        self._log = get_logger(__name__)

    def __call__(self, records: list[dict[str, Any]], shard_id: str, invocations: int) -> None:
        message = on_failure_message(
            records,
            shard_id=shard_id,
            stream_arn=self._stream_arn,
            function_arn=self._function_arn,
            invoke_count=invocations,
            now=self._clock(),
        )
        with aws_call("SendMessage"):
            self._sqs.send_message(QueueUrl=self._queue_url, MessageBody=json.dumps(message))
        info = message["DDBStreamBatchInfo"]
        self._log.info(
            "pump_on_failure_sent",
            shard_id=shard_id,
            start_sequence_number=info["startSequenceNumber"],
            end_sequence_number=info["endSequenceNumber"],
            records=len(records),
        )
