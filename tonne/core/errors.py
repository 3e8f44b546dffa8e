"""Registry errors: every refused request carries a stable code.

The API renders them as RFC 9457 problem documents; the CLI prints the code
and message; the web UI shows the message. Codes never change meaning.
"""

from __future__ import annotations

from typing import Any


class RegistryError(Exception):
    """A request the registry refuses, with a stable code."""

    status = 422
    title = "Request refused"

    def __init__(
        self,
        code: str,
        message: str,
        *,
        field: str | None = None,
        details: dict[str, Any] | None = None,
        status: int | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.field = field
        self.details = details or {}
        if status is not None:
            self.status = status

    def as_problem(self) -> dict[str, Any]:
        problem: dict[str, Any] = {
            "type": f"https://tonne.registry/problems/{self.code.lower().replace('_', '-')}",
            "title": self.title,
            "status": self.status,
            "code": self.code,
            "detail": self.message,
        }
        if self.field:
            problem["field"] = self.field
        if self.details:
            problem["details"] = self.details
        return problem

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"


class ValidationFailed(RegistryError):
    status = 422
    title = "Validation failed"


class NotFound(RegistryError):
    status = 404
    title = "Not found"


class PermissionDenied(RegistryError):
    status = 403
    title = "Permission denied"


class Conflict(RegistryError):
    status = 409
    title = "Conflict"


class NotAuthenticated(RegistryError):
    status = 401
    title = "Authentication required"
