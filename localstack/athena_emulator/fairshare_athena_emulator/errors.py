"""Athena's API errors as its JSON 1.1 protocol sends them: `__type`, `Message` and the shape's members."""

from __future__ import annotations

from typing import Any


class AthenaApiError(Exception):
    """An error answer of the Athena API: HTTP status, error code and the members of its error shape."""

    def __init__(self, code: str, message: str, status: int = 400, **fields: Any) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status
        self.fields = fields

    def body(self) -> dict[str, Any]:
        return {"__type": self.code, "Message": self.message, **self.fields}


def invalid_request(message: str, athena_error_code: str | None = None) -> AthenaApiError:
    fields: dict[str, Any] = {"AthenaErrorCode": athena_error_code} if athena_error_code else {}
    return AthenaApiError("InvalidRequestException", message, **fields)


def too_many_requests(pool: str, quota: int) -> AthenaApiError:
    return AthenaApiError(
        "TooManyRequestsException",
        f"You have exceeded the limit for the number of queries you can run concurrently "
        f"({pool} active query limit {quota}). Reduce the number of concurrent queries submitted "
        f"by this account. Contact customer support to request a concurrent query limit increase.",
        Reason="CONCURRENT_QUERY_LIMIT_EXCEEDED",
    )


def resource_not_found(message: str, resource_name: str | None = None) -> AthenaApiError:
    fields: dict[str, Any] = {"ResourceName": resource_name} if resource_name else {}
    return AthenaApiError("ResourceNotFoundException", message, **fields)
