"""The shape every methodology shares: its parameters (each with a source),
the measurement kinds it reads and how they are aggregated per vintage, and
its calculation. Arithmetic is Decimal throughout; the result per vintage is
rounded DOWN to whole tonnes (never up: a fraction of a tonne is not issued)."""

from __future__ import annotations

import hashlib
import inspect
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import ROUND_FLOOR, Decimal, InvalidOperation
from typing import Any, Literal

Aggregate = Literal["sum", "last"]


class MethodologyError(ValueError):
    """Inputs or parameters a methodology cannot compute from, with a stable code."""

    def __init__(self, code: str, message: str, *, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.details = details or {}


@dataclass(frozen=True)
class Parameter:
    name: str
    value: Decimal
    unit: str
    source: str
    description: str = ""


@dataclass(frozen=True)
class Input:
    """A measurement kind read from the project's data sources. `sum` adds
    every reading of the vintage (metered energy, fuel saved); `last` takes the
    latest reading (an area mapped by remote sensing)."""

    kind: str
    unit: str
    aggregate: Aggregate
    description: str = ""
    required: bool = True


@dataclass(frozen=True)
class VintageResult:
    vintage: int
    exact: Decimal  # before rounding, tCO2e
    uncertainty_deduction: Decimal
    quantity: int  # whole tonnes, rounded down
    steps: tuple[tuple[str, str], ...] = ()


Calculation = Callable[[int, Mapping[str, Decimal], Mapping[str, Decimal], Mapping[str, Decimal]], VintageResult]


@dataclass(frozen=True)
class Methodology:
    code: str
    version: str
    title: str
    kind: Literal["reduction", "removal"]
    reference: str
    inputs: tuple[Input, ...]
    parameters: tuple[Parameter, ...]
    # (vintage, inputs, parameters, project facts) -> result
    calculate: Calculation
    project_facts: tuple[str, ...] = field(default=())

    @property
    def key(self) -> str:
        return f"{self.code}@{self.version}"

    def parameter_values(self, overrides: Mapping[str, object] | None = None) -> dict[str, Decimal]:
        """Default parameter values, with project-specific overrides (e.g. the
        host country's grid emission factor) checked against the declared names."""
        values = {p.name: p.value for p in self.parameters}
        for name, raw in (overrides or {}).items():
            if name not in values:
                raise MethodologyError("PARAMETER_UNKNOWN", f"{self.key} has no parameter {name!r}.")
            values[name] = to_decimal(raw, name)
        return values

    def code_version(self) -> str:
        """SHA-256 of the calculation's source: a recomputation says whether
        the same code produced the stored result."""
        source = inspect.getsource(inspect.getmodule(self.calculate))  # type: ignore[arg-type]
        return hashlib.sha256(f"{self.key}\n{source}".encode()).hexdigest()

    def compute(
        self,
        inputs_by_vintage: Mapping[int, Mapping[str, Decimal]],
        parameters: Mapping[str, Decimal],
        facts: Mapping[str, Decimal] | None = None,
    ) -> list[VintageResult]:
        facts = facts or {}
        for name in self.project_facts:
            if name not in facts:
                raise MethodologyError("PROJECT_FACT_MISSING", f"{self.key} needs the project's {name}.")
        results = []
        for vintage in sorted(inputs_by_vintage):
            values = inputs_by_vintage[vintage]
            for spec in self.inputs:
                if spec.required and spec.kind not in values:
                    raise MethodologyError(
                        "INPUT_MISSING", f"{self.key}: vintage {vintage} has no {spec.kind} readings."
                    )
            results.append(self.calculate(vintage, values, parameters, facts))
        return results


def to_decimal(raw: object, name: str) -> Decimal:
    if isinstance(raw, float):
        raise MethodologyError("PARAMETER_INVALID", f"{name} must be given as a decimal string, not a float.")
    try:
        value = Decimal(str(raw))
    except InvalidOperation:
        raise MethodologyError("PARAMETER_INVALID", f"{name} must be a decimal number.") from None
    if not value.is_finite():
        raise MethodologyError("PARAMETER_INVALID", f"{name} must be a finite number.")
    return value


def whole_tonnes(value: Decimal) -> int:
    """Round down to whole tonnes; nothing negative is credited."""
    if value <= 0:
        return 0
    return int(value.to_integral_value(rounding=ROUND_FLOOR))


def fmt(value: Decimal) -> str:
    return format(value.normalize(), "f") if value == value.to_integral_value() else format(value, "f")


def deducted(
    vintage: int,
    gross: Decimal,
    deduction_rate: Decimal,
    steps: tuple[tuple[str, str], ...],
    *,
    result: str = "ER, rounded down (tCO2e)",
    shown: Callable[[Decimal], str] = fmt,
    after: tuple[tuple[str, str], ...] = (),
) -> VintageResult:
    """What every methodology ends with: the uncertainty deduction taken from
    `gross`, the rest rounded down to whole tonnes, and those two steps shown."""
    deduction = gross * deduction_rate
    exact = gross - deduction
    quantity = whole_tonnes(exact)
    return VintageResult(
        vintage=vintage,
        exact=exact,
        uncertainty_deduction=deduction,
        quantity=quantity,
        steps=(*steps, ("uncertainty deduction (tCO2)", shown(deduction)), (result, str(quantity)), *after),
    )
