"""Domain errors. Logic raises these; core.http maps each to the API.md envelope."""

from __future__ import annotations

from typing import Any


class AppError(Exception):
    status = 500
    code = "internal_error"
    default_message = "Internal server error"

    def __init__(
        self,
        message: str | None = None,
        *,
        details: list[dict[str, Any]] | None = None,
        code: str | None = None,
        headers: dict[str, str] | None = None,
        keep_writes: bool = False,
    ):
        super().__init__(message or self.default_message)
        # True when what the request wrote must stay (a failed login is recorded, then refused).
        self.keep_writes = keep_writes
        self.message = message or self.default_message
        self.details = details or []
        self.headers = headers or {}
        if code:
            self.code = code


class BadRequest(AppError):
    status, code, default_message = 400, "bad_request", "Bad request"


class Unauthorized(AppError):
    status, code, default_message = 401, "unauthorized", "Authentication required"


class InsufficientBalance(AppError):
    """The room's master cannot pay for an AI call (core.balances): refused before any provider call."""

    status, code, default_message = 402, "insufficient_balance", "Not enough AI tokens for this request"


class Forbidden(AppError):
    status, code, default_message = 403, "forbidden", "Not allowed"


class NotFound(AppError):
    status, code, default_message = 404, "not_found", "Not found"


class MethodNotAllowed(AppError):
    status, code, default_message = 405, "method_not_allowed", "Method not allowed"


class Conflict(AppError):
    status, code, default_message = 409, "conflict", "Conflict"


class PayloadTooLarge(AppError):
    status, code, default_message = 413, "payload_too_large", "Payload too large"


class UnsupportedMediaType(AppError):
    status, code, default_message = 415, "unsupported_media_type", "Send application/json"


class ValidationFailed(AppError):
    status, code, default_message = 422, "validation_error", "Validation failed"


class RateLimited(AppError):
    status, code, default_message = 429, "rate_limited", "Too many requests"

    def __init__(self, retry_after_s: int, message: str | None = None, *, keep_writes: bool = False):
        super().__init__(message, headers={"Retry-After": str(max(1, int(retry_after_s)))}, keep_writes=keep_writes)


class Unavailable(AppError):
    status, code, default_message = 503, "unavailable", "Service temporarily unavailable"

    def __init__(self, retry_after_s: int = 5, message: str | None = None):
        super().__init__(message, headers={"Retry-After": str(max(1, int(retry_after_s)))})


class FeatureDisabled(AppError):
    """A feature an operator switched off with a feature flag (core.flags): no deploy, no retry soon."""

    status, code, default_message = 503, "feature_disabled", "This feature is switched off"
