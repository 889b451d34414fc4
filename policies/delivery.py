"""EventBridge deliveries to encrypted SNS topics and SQS queues: policies that would refuse them silently.

A rule whose target refuses a delivery (topic or queue policy, or the key policy of the target's KMS key) fails
without an error anywhere but the rule's FailedInvocations metric. What EventBridge needs is documented in the
EventBridge guide ("Troubleshooting Amazon EventBridge": encrypted SNS and SQS targets; "Using resource-based
policies": "You can't use Condition blocks in Amazon SNS topic policies for EventBridge"), the SNS and SQS guides
("Key management": KMS permissions for AWS services). On delivery SNS and SQS call KMS for EventBridge with their own
encryption context (the topic or queue ARN) and without aws:SourceAccount / aws:SourceArn.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from pulumi_policy import Severity

from . import _tokens as T
from ._iam import PolicyDocumentError, Statement, action_matches, parse
from ._meta import stack_policy
from ._model import Resource, Stack
from ._values import as_list, is_set

EVENTS = "events.amazonaws.com"
# Condition keys present in the KMS requests SNS and SQS make for EventBridge's deliveries.
_SUPPLIED_ON_DELIVERY = ("kms:encryptioncontext:",)
_KEY_ACTIONS = ("kms:GenerateDataKey", "kms:Decrypt")
_SEND = {T.SNS_TOPIC: "sns:Publish", T.SQS_QUEUE: "sqs:SendMessage"}
_SINK_POLICIES = {T.SNS_TOPIC: (T.SNS_TOPIC_POLICY, "arn"), T.SQS_QUEUE: (T.SQS_QUEUE_POLICY, "queueUrl")}

Finding = tuple[str, str | None]


def _names_events(principal: Any) -> bool:
    if principal == "*":
        return True
    if isinstance(principal, Mapping):
        return EVENTS in as_list(principal.get("Service"))
    return False


def _condition_keys(st: Statement) -> set[str]:
    return {str(key).lower() for clauses in st.conditions.values() if isinstance(clauses, Mapping) for key in clauses}


def _grants(st: Statement, action: str) -> bool:
    return st.allows and _names_events(st.principal) and any(action_matches(a, action) for a in st.actions)


def _statements(document: Any) -> list[Statement] | None:
    """Statements of a document; None when unknown at preview or not a policy (other policies report that)."""
    try:
        return parse(document)
    except PolicyDocumentError:
        return None


def _documents(stack: Stack, sink: Resource, inline: str, policy_type: str, link: str) -> list[Any]:
    """The policy documents that apply to ``sink``: its own input and any policy resource attached to it."""
    documents = [sink.get(inline)] if is_set(sink.get(inline)) else []
    documents += [p.get("policy") for p in stack.referrers(sink, [policy_type], link, ["arn", "id", "url"])]
    return documents


def _sink_findings(stack: Stack, rule: str, sink: Resource) -> Iterator[Finding]:
    policy_type, link = _SINK_POLICIES[sink.type]
    action = _SEND[sink.type]
    documents = _documents(stack, sink, "policy", policy_type, link)
    if not documents:
        yield (f"The {sink.label}, delivered to by {rule}, has no resource policy letting {EVENTS} call {action}; "
               "EventBridge's deliveries are refused and show only in the rule's FailedInvocations metric.", sink.urn)
        return
    parsed = [_statements(d) for d in documents]
    if any(p is None for p in parsed):
        return  # unknown at preview: decided at update
    granting = [st for statements in parsed for st in statements or [] if _grants(st, action)]
    if not granting:
        yield (f"No resource policy of the {sink.label}, delivered to by {rule}, lets {EVENTS} call {action}; "
               "EventBridge's deliveries are refused silently.", sink.urn)
    elif sink.type == T.SNS_TOPIC and all(st.conditions for st in granting):
        yield (f"The topic policy of the {sink.label} lets {EVENTS} publish only under a Condition; the EventBridge "
               "guide allows no Condition block there, so rule deliveries can be refused silently.", sink.urn)


def _key_policy_documents(stack: Stack, key: Resource) -> list[Any]:
    documents = [key.get("policy")] if is_set(key.get("policy")) else []
    documents += [p.get("policy") for p in stack.referrers(key, [T.KMS_KEY_POLICY], "keyId", ["id", "arn", "keyId"])]
    return documents


def _usable_on_delivery(st: Statement) -> bool:
    keys = _condition_keys(st)
    return all(k.startswith(_SUPPLIED_ON_DELIVERY) for k in keys)


def _key_findings(stack: Stack, rule: str, sink: Resource) -> Iterator[Finding]:
    key_ref = sink.get("kmsMasterKeyId")
    if not is_set(key_ref):
        return  # not encrypted with KMS: nothing for EventBridge to be refused (encryption policies judge that)
    if isinstance(key_ref, str) and key_ref.startswith("alias/aws/"):
        yield (f"The {sink.label}, delivered to by {rule}, is encrypted with the AWS managed key {key_ref}, whose "
               f"policy cannot admit {EVENTS}; use a customer managed key.", sink.urn)
        return
    keys = stack.targets_of(sink, "kmsMasterKeyId", [T.KMS_KEY], ["arn", "keyId", "id"])
    for key in keys:
        documents = _key_policy_documents(stack, key)
        parsed = [_statements(d) for d in documents]
        if any(p is None for p in parsed):
            continue  # unknown at preview: decided at update
        statements = [st for p in parsed for st in p or []]
        usable = {a: [st for st in statements if _grants(st, a) and _usable_on_delivery(st)] for a in _KEY_ACTIONS}
        missing = [a for a, sts in usable.items() if not sts]
        if not missing:
            continue
        conditioned = [st for st in statements if any(_grants(st, a) for a in missing)]
        why = ("only under conditions SNS/SQS do not supply when they call KMS for EventBridge ("
               + ", ".join(sorted({k for st in conditioned for k in _condition_keys(st)
                                   if not k.startswith(_SUPPLIED_ON_DELIVERY)})) + ")") if conditioned else "not at all"
        yield (f"The key policy of the {key.label}, which encrypts the {sink.label} (delivered to by {rule}), "
               f"grants {EVENTS} {' and '.join(missing)} {why}; every delivery fails and shows only in the rule's "
               "FailedInvocations metric.", key.urn)


@stack_policy(
    name="eventbridge-target-delivery",
    description="EventBridge rules targeting SNS topics or SQS queues must be admitted by the target's resource "
    "policy and by the key policy of its KMS key, with no condition EventBridge deliveries cannot meet.",
    severity=Severity.HIGH,
    category="operations",
    controls=("EventBridgeTargetDelivery",),
    remediation="Topic/queue policy: allow `events.amazonaws.com` `sns:Publish` (no Condition) or `sqs:SendMessage` "
    "(aws:SourceArn of the rule is fine). Key policy: allow `events.amazonaws.com` `kms:GenerateDataKey*` and "
    "`kms:Decrypt` with no condition or only `kms:EncryptionContext:*` (e.g. aws:sns:topicArn); aws:SourceAccount "
    "and aws:SourceArn are not supplied on delivery. Alarm on the rule's FailedInvocations.",
    guarantee=True,
    preview_note="Policies built from resource outputs (topic and queue ARNs) are unknown at preview; those are "
    "decided at update.",
)
def eventbridge_target_delivery(stack: Stack, cfg: Mapping[str, Any]) -> Iterator[Finding]:
    for target in stack.of_type(T.EVENT_TARGET):
        rules = stack.targets_of(target, "rule", [T.EVENT_RULE], ["name", "id"])
        rule = f"rule {rules[0].label}" if rules else f"target {target.label}"
        sinks = stack.targets_of(target, "arn", list(_SEND), ["arn"])
        sinks += [s for s in stack.targets_of(target, "deadLetterConfig", [T.SQS_QUEUE], ["arn"]) if s not in sinks]
        for sink in sinks:
            yield from _sink_findings(stack, rule, sink)
            yield from _key_findings(stack, rule, sink)
        if is_set(target.get("roleArn")) and sinks:
            yield (f"The target {target.label} sets roleArn for an SNS/SQS target; the EventBridge guide warns that "
                   "deliveries to KMS-encrypted topics and queues may then fail. Use the resource policy only.",
                   target.urn)
