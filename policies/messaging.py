"""SQS and SNS policies beyond encryption and public access."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from pulumi_policy import Severity

from . import _tokens as T
from ._iam import PolicyDocumentError, parse, principal_is_public
from ._meta import stack_policy
from ._model import Resource, Stack
from ._values import is_set


def _dead_letter_inputs(stack: Stack) -> list[tuple[Resource, str]]:
    """Inputs through which a queue receives what another service could not deliver or process: a function's
    dead-letter config or async on-failure destination, an EventBridge target's or SNS subscription's DLQ."""
    return ([(fn, "deadLetterConfig") for fn in stack.of_type(T.LAMBDA_FUNCTION)]
            + [(c, "destinationConfig") for c in stack.of_type(T.LAMBDA_EVENT_INVOKE_CONFIG)]
            + [(t, "deadLetterConfig") for t in stack.of_type(T.EVENT_TARGET)]
            + [(sub, "redrivePolicy") for sub in stack.of_type(T.SNS_TOPIC_SUBSCRIPTION)])


@stack_policy(
    name="sqs-dead-letter-queue",
    description="SQS queues must have a dead-letter queue (or be one).",
    severity=Severity.MEDIUM,
    category="resilience",
    controls=("AwsSolutions-SQS3",),
    remediation="Set `redrive_policy` with `deadLetterTargetArn` (and `maxReceiveCount`) on the source queue.",
)
def sqs_dead_letter_queue(stack: Stack, cfg: Mapping[str, Any]) -> Iterator[tuple[str, str | None]]:
    queues = stack.of_type(T.SQS_QUEUE)
    for queue in queues:
        if is_set(queue.get("redrivePolicy")):
            continue
        is_dlq = any(
            queue.urn in other.prop_deps.get("redrivePolicy", set())
            or (isinstance(other.get("redrivePolicy"), str) and isinstance(queue.get("arn"), str)
                and queue.get("arn") in other.get("redrivePolicy"))
            for other in queues if other is not queue
        ) or any(queue.urn in holder.prop_deps.get(key, set()) for holder, key in _dead_letter_inputs(stack))
        if not is_dlq:
            yield f"The SQS queue {queue.label} has no redrivePolicy and is no other queue's dead-letter queue.", \
                queue.urn


def _denies_insecure_transport(document: Any) -> bool | None:
    try:
        statements = parse(document)
    except PolicyDocumentError:
        return False
    if statements is None:
        return None
    for st in statements:
        if st.effect != "Deny" or not principal_is_public(st.principal):
            continue
        bool_cond = st.conditions.get("Bool")
        if isinstance(bool_cond, dict) and str(bool_cond.get("aws:SecureTransport")).lower() == "false":
            return True
    return False


@stack_policy(
    name="sqs-ssl-only",
    description="SQS queue policies must deny requests that do not use TLS.",
    severity=Severity.MEDIUM,
    category="exposure",
    controls=("AwsSolutions-SQS4",),
    remediation="Attach a queue policy with a Deny of sqs:* for Principal '*' when aws:SecureTransport is false.",
    preview_note="Queue policies built from outputs are unknown at preview and count as compliant until update.",
)
def sqs_ssl_only(stack: Stack, cfg: Mapping[str, Any]) -> Iterator[tuple[str, str | None]]:
    for queue in stack.of_type(T.SQS_QUEUE):
        documents = [queue.get("policy")] if queue.get("policy") is not None else []
        documents += [p.get("policy") for p in stack.referrers(queue, [T.SQS_QUEUE_POLICY], "queueUrl",
                                                                ["url", "id"])]
        verdicts = [_denies_insecure_transport(d) for d in documents]
        if None in verdicts or True in verdicts:
            continue
        yield f"The SQS queue {queue.label} has no policy denying non-TLS (aws:SecureTransport=false) access.", \
            queue.urn
