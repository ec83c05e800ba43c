"""Athena's wire protocol (AWS JSON 1.1), read and written with botocore's own service model.

Nothing here knows the platform: a request body is parsed and validated against the operation's input
shape, a reply is serialized against its output shape, and an error is rendered as Athena renders it
(`__type`, `Message`, and `AthenaErrorCode` or `Reason` where Athena's shape has one).
"""

from __future__ import annotations

import json
from functools import cache
from typing import Any

from botocore.loaders import create_loader
from botocore.model import ListShape, MapShape, OperationModel, ServiceModel, Shape, StructureShape
from botocore.parsers import JSONParser
from botocore.serialize import JSONSerializer
from botocore.validate import ParamValidator

CONTENT_TYPE = "application/x-amz-json-1.1"
TARGET_HEADER = "x-amz-target"


class AthenaApiError(Exception):
    """An error answered in Athena's shape; `fields` are the shape's extra members (AthenaErrorCode...)."""

    def __init__(self, type_: str, message: str, status: int = 400, **fields: Any) -> None:
        super().__init__(f"{type_}: {message}")
        self.type = type_
        self.message = message
        self.status = status
        self.fields = fields


def invalid_request(message: str, code: str = "INVALID_INPUT") -> AthenaApiError:
    return AthenaApiError("InvalidRequestException", message, AthenaErrorCode=code)


@cache
def service_model() -> ServiceModel:
    """Athena's model as the installed botocore ships it (the Lambda runtime's botocore)."""
    return ServiceModel(create_loader().load_service_model("athena", "service-2"), "athena")


def target_prefix() -> str:
    return str(service_model().metadata["targetPrefix"])


def operation_for(target: str | None) -> OperationModel:
    """The operation an `X-Amz-Target` header names, or Athena's answer for an unknown one."""
    prefix = f"{target_prefix()}."
    if not target or not target.startswith(prefix):
        raise AthenaApiError("UnknownOperationException", f"X-Amz-Target must be {prefix}<Operation>")
    name = target[len(prefix) :]
    if name not in service_model().operation_names:
        raise AthenaApiError("UnknownOperationException", f"Athena has no operation {name!r}")
    return service_model().operation_model(name)


def parse_input(operation: OperationModel, body: str | None) -> dict[str, Any]:
    """The request's parameters, typed by the input shape (timestamps, blobs) and validated against it."""
    shape = operation.input_shape
    text = body or "{}"
    try:
        document = json.loads(text)
    except ValueError:
        raise AthenaApiError("SerializationException", "the request body is not valid JSON") from None
    if not isinstance(document, dict):
        raise AthenaApiError("SerializationException", "the request body must be a JSON object")
    if shape is None:
        return {}
    unknown = sorted(set(document) - set(shape.members))
    if unknown:
        raise invalid_request(f"{operation.name} has no parameter {', '.join(unknown)}")
    try:
        parsed = JSONParser().parse({"body": text.encode("utf-8"), "headers": {}, "status_code": 200}, shape)
    except (AttributeError, TypeError, ValueError, KeyError) as exc:
        # a member of the wrong JSON type where the shape expects a structure, list, map or timestamp
        raise AthenaApiError("SerializationException", f"the request does not match {shape.name}") from exc
    parsed.pop("ResponseMetadata", None)
    report = ParamValidator().validate(parsed, shape)
    if report.has_errors():
        raise invalid_request(report.generate_report().replace("\n", " "))
    return dict(parsed)


def serialize_output(operation: OperationModel, reply: dict[str, Any]) -> str:
    """The reply as Athena sends it: the output shape's members only, timestamps as epoch seconds."""
    shape = operation.output_shape
    if shape is None:
        return "{}"
    body: dict[str, Any] = {}
    JSONSerializer()._serialize(body, _known(reply, shape), shape)
    return json.dumps(body, separators=(",", ":"))


def _known(value: Any, shape: Shape) -> Any:
    """The value without members the shape does not declare (and without None), at every depth."""
    if isinstance(shape, StructureShape) and isinstance(value, dict):
        return {
            name: _known(member, shape.members[name])
            for name, member in value.items()
            if name in shape.members and member is not None
        }
    if isinstance(shape, ListShape) and isinstance(value, list):
        return [_known(item, shape.member) for item in value]
    if isinstance(shape, MapShape) and isinstance(value, dict):
        return {key: _known(item, shape.value) for key, item in value.items()}
    return value


def error_body(error: AthenaApiError) -> str:
    """`{"__type": ..., "Message": ...}` plus the members Athena's shape of that error declares."""
    body: dict[str, Any] = {"__type": error.type, "Message": error.message}
    declared = _error_members(error.type)
    body.update({k: v for k, v in error.fields.items() if k in declared and v is not None})
    return json.dumps(body, separators=(",", ":"))


def _error_members(type_: str) -> frozenset[str]:
    model = service_model()
    if type_ not in model.shape_names:
        return frozenset()
    shape = model.shape_for(type_)
    return frozenset(shape.members) if isinstance(shape, StructureShape) else frozenset()
