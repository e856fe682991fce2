"""Reading template.yaml: the parsed document, and the table's definition for the local bootstrap."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

from cfnlint.decode import cfn_yaml

from .config import TEMPLATE, StackError, rel


@functools.lru_cache(maxsize=None)
def load_template(path: str = str(TEMPLATE)) -> dict[str, Any]:
    """The template as plain JSON types (short-form intrinsics become `{"Ref": ..}`/`{"Fn::..": ..}`)."""
    try:
        return plain(cfn_yaml.load(path))
    except Exception as exc:  # cfn-lint raises its own decode errors
        raise StackError(f"cannot parse {rel(Path(path))}: {exc}") from None


def plain(node: Any) -> Any:
    """cfn-lint's decoder returns dict/str subclasses; convert to plain JSON types."""
    if isinstance(node, dict):
        return {str(k): plain(v) for k, v in node.items()}
    if isinstance(node, list):
        return [plain(v) for v in node]
    if isinstance(node, str):
        return str(node)
    return node


def contains_intrinsic(node: Any) -> bool:
    if isinstance(node, dict):
        if any(k.startswith("Fn::") for k in node):
            return True
        if len(node) == 1 and next(iter(node)) in ("Ref", "Condition"):
            return True
        return any(contains_intrinsic(v) for v in node.values())
    if isinstance(node, list):
        return any(contains_intrinsic(v) for v in node)
    return False


def table_spec_from_template(table_name: str) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """CreateTable kwargs and the TTL spec, from the template's `Table` resource.

    Only what DynamoDB Local understands is used (keys, indexes, billing, the stream);
    PITR, SSE, Tags and the (intrinsic) TableName are deliberately ignored.
    """
    resource = (load_template().get("Resources") or {}).get("Table") or {}
    if resource.get("Type") != "AWS::DynamoDB::Table":
        raise StackError(f"{rel(TEMPLATE)} has no AWS::DynamoDB::Table resource named Table")
    props = resource.get("Properties") or {}

    spec: dict[str, Any] = {"TableName": table_name}
    for key in ("AttributeDefinitions", "KeySchema", "BillingMode", "ProvisionedThroughput"):
        if key in props:
            spec[key] = props[key]
    for key in ("GlobalSecondaryIndexes", "LocalSecondaryIndexes"):
        if props.get(key):
            # Index-level extras (contributor insights, warm throughput...) are CFN-only.
            allowed = ("IndexName", "KeySchema", "Projection", "ProvisionedThroughput")
            spec[key] = [{k: v for k, v in index.items() if k in allowed} for index in props[key]]
    stream = props.get("StreamSpecification")
    if stream:
        spec["StreamSpecification"] = {"StreamEnabled": True, "StreamViewType": stream["StreamViewType"]}
    if contains_intrinsic(spec):
        raise StackError(f"{rel(TEMPLATE)}: Table key/index properties must be literal values")
    ttl = props.get("TimeToLiveSpecification")
    if ttl is not None and contains_intrinsic(ttl):
        raise StackError(f"{rel(TEMPLATE)}: Table TimeToLiveSpecification must be literal")
    return spec, ttl
