"""Registry errors: every refused request carries a stable code.

The API renders them as RFC 9457 problem documents; the CLI prints the code
and message; the web UI shows the message. Codes never change meaning.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
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


class Refusals(ValidationFailed):
    """Several rules refused at once, so a form is corrected in one go. It
    reads as its first refusal (code, field, message, status) for those who
    know one; `errors` holds them all, in the order the rules were checked."""

    def __init__(self, errors: Sequence[RegistryError]) -> None:
        first = errors[0]
        super().__init__(first.code, first.message, field=first.field, details=first.details, status=first.status)
        self.errors = list(errors)

    def as_problem(self) -> dict[str, Any]:
        problem = super().as_problem()
        problem["errors"] = [{"code": e.code, "field": e.field, "detail": e.message} for e in self.errors]
        return problem


class RuleChecks:
    """Run a service's pure checks one after another and refuse once with
    every rule broken (each check still raises its own ValidationFailed)::

        checks = RuleChecks()
        with checks.rule():
            check_a(...)
        with checks.rule():
            check_b(...)
        checks.done()  # one refusal as it was, several as Refusals
    """

    def __init__(self) -> None:
        self.errors: list[RegistryError] = []

    @contextmanager
    def rule(self) -> Iterator[None]:
        try:
            yield
        except Refusals as exc:
            self.errors.extend(exc.errors)
        except ValidationFailed as exc:
            self.errors.append(exc)

    def done(self) -> None:
        if len(self.errors) == 1:
            raise self.errors[0]
        if self.errors:
            raise Refusals(self.errors)


def each_refusal(exc: RegistryError) -> list[RegistryError]:
    """Every refusal an error carries: its own, or each of several."""
    return list(exc.errors) if isinstance(exc, Refusals) else [exc]
