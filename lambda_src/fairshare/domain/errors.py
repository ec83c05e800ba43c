"""Domain exceptions. The API layer maps each class to one HTTP status, in one place."""

from __future__ import annotations


class FairshareError(Exception):
    """Base of every error the platform reports to a caller; `code` is stable and machine-readable."""

    code = "internal_error"

    def __init_subclass__(cls, code: str = "", **kwargs: object) -> None:
        super().__init_subclass__(**kwargs)
        if code:
            cls.code = code

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class ValidationFailed(FairshareError, code="validation_error"): ...


class PayloadTooLarge(FairshareError, code="payload_too_large"): ...


class Unauthorized(FairshareError, code="unauthorized"): ...


class Forbidden(FairshareError, code="forbidden"): ...


class NotFound(FairshareError, code="not_found"): ...


class Conflict(FairshareError, code="conflict"): ...


class QueueFull(FairshareError, code="queue_full"): ...


class BudgetExceeded(FairshareError, code="budget_exceeded"): ...


class DependencyUnavailable(FairshareError, code="dependency_unavailable"): ...
