"""CAD Trust's query-parameter rules (its Joi schemas), so that a CAD Trust
client gets the same 400s from this registry as from CAD Trust: unknown
parameters refused, `page`/`limit` required where CAD Trust requires them,
`columns` from an allow-list, `order`/`filter` of CAD Trust's forms.

Messages follow Joi's wording; like Joi (abortEarly) the first error is reported."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

# CAD Trust's patterns (src/utils/string-utils.js), quoted in its messages. They
# are checked by the plain parsers below, in one pass: no regular expression
# ever runs over a request's text.
FILTER_PATTERN = r"(\w+):(.+):(in|eq|not|lt|gt|lte|gte|like)"
ORDER_PATTERN = r"(\w+):(ASC|DESC)"
FILTER_OPS = ("in", "eq", "not", "lt", "gt", "lte", "gte", "like")
MAX_LIST = 200  # CAD Trust's REQUEST_CONTENT_LIMITS for columns, projectIds, marketplaceIdentifiers
MAX_TEXT = 10_000  # longer than any CAD Trust client sends; refused, never truncated


class ParamsInvalid(Exception):
    """A query CAD Trust would refuse: 400 {message, errors, success: false}."""

    def __init__(self, *errors: str) -> None:
        super().__init__(errors[0] if errors else "invalid")
        self.errors = list(errors)


@dataclass(frozen=True)
class Param:
    kind: str  # number, string, boolean, array
    minimum: float | None = None
    maximum: float | None = None
    max_length: int | None = None
    choices: tuple[str, ...] = ()  # for arrays: the allowed items; for strings: allowed values
    pattern: str | None = None  # FILTER_PATTERN or ORDER_PATTERN
    alternatives: tuple[str, ...] = ()  # string values accepted besides the pattern (units' legacy order)


@dataclass(frozen=True)
class Rules:
    params: dict[str, Param]
    required: tuple[str, ...] = ()
    # Present any of these and `required` no longer applies (CAD Trust's .when()).
    relaxed_by: tuple[str, ...] = ()
    relaxed_limit_max: float | None = None  # limit's maximum once relaxed (units: 100)
    together: tuple[str, ...] = ()  # all or none (Joi .and())
    open: bool = False  # accept unknown parameters (CAD Trust routes without a schema)
    extra: dict[str, Any] = field(default_factory=dict)


def _quoted(name: str) -> str:
    return f'"{name}"'


def _number(name: str, raw: str, spec: Param) -> float | int:
    try:
        value = float(raw)
    except ValueError:
        raise ParamsInvalid(f"{_quoted(name)} must be a number") from None
    if value != value or value in (float("inf"), float("-inf")):
        raise ParamsInvalid(f"{_quoted(name)} must be a number")
    if spec.minimum is not None and value < spec.minimum:
        raise ParamsInvalid(f"{_quoted(name)} must be greater than or equal to {spec.minimum:g}")
    if spec.maximum is not None and value > spec.maximum:
        raise ParamsInvalid(f"{_quoted(name)} must be less than or equal to {spec.maximum:g}")
    return int(value) if value.is_integer() else value


def _boolean(name: str, raw: str) -> bool:
    lowered = raw.lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    raise ParamsInvalid(f"{_quoted(name)} must be a boolean")


def _string(name: str, raw: str, spec: Param) -> str:
    if raw == "":
        raise ParamsInvalid(f"{_quoted(name)} is not allowed to be empty")
    limit = spec.max_length or MAX_TEXT
    if len(raw) > limit:
        raise ParamsInvalid(f"{_quoted(name)} length must be less than or equal to {limit} characters long")
    if spec.alternatives and raw in spec.alternatives:
        return raw
    if spec.choices and raw not in spec.choices:
        raise ParamsInvalid(f"{_quoted(name)} must be one of [{', '.join(spec.choices)}]")
    parse = {FILTER_PATTERN: _filter, ORDER_PATTERN: order_parts}.get(spec.pattern or "")
    if parse is not None and parse(raw) is None:
        raise ParamsInvalid(
            f"{_quoted(name)} with value {_quoted(raw)} fails to match the required pattern: /{spec.pattern}/"
        )
    return raw


def _array(name: str, values: Sequence[str], spec: Param) -> list[str]:
    if len(values) > MAX_LIST:
        raise ParamsInvalid(f"{_quoted(name)} must contain less than or equal to {MAX_LIST} items")
    out = []
    for i, item in enumerate(values):
        if len(item) > MAX_TEXT:
            raise ParamsInvalid(f'"{name}[{i}]" length must be less than or equal to {MAX_TEXT} characters long')
        if spec.choices and item not in spec.choices:
            raise ParamsInvalid(f'"{name}[{i}]" must be one of [{", ".join(spec.choices)}]')
        out.append(item)
    return out


def normalise(query: Mapping[str, Sequence[str]]) -> dict[str, list[str]]:
    """`name[]=a` and `name[0]=a` (how browsers' query builders send arrays) as `name`."""
    out: dict[str, list[str]] = {}
    for key, values in query.items():
        name = key
        if key.endswith("]") and "[" in key:
            head, _, index = key[:-1].rpartition("[")
            name = head if index.isdigit() or index == "" else key
        out.setdefault(name, []).extend(values)
    return out


def validate(query: Mapping[str, Sequence[str]], rules: Rules) -> dict[str, Any]:
    """The parameters converted as Joi converts them, or ParamsInvalid."""
    query = normalise(query)
    out: dict[str, Any] = {}
    present = set(query)
    relaxed = any(name in present for name in rules.relaxed_by)
    for name, spec in rules.params.items():
        if name not in query:
            if name in rules.required and not relaxed:
                raise ParamsInvalid(f"{_quoted(name)} is required")
            continue
        values = list(query[name])
        if spec.kind == "array":
            out[name] = _array(name, values, spec)
            continue
        if len(values) > 1:
            raise ParamsInvalid(f"{_quoted(name)} must be a {'number' if spec.kind == 'number' else spec.kind}")
        raw = values[0]
        if spec.kind == "number":
            if relaxed and name == "limit" and rules.relaxed_limit_max is not None:
                spec = Param("number", minimum=spec.minimum, maximum=rules.relaxed_limit_max)
            out[name] = _number(name, raw, spec)
        elif spec.kind == "boolean":
            out[name] = _boolean(name, raw)
        else:
            out[name] = _string(name, raw, spec)
    if not rules.open:
        for name in query:
            if name not in rules.params:
                raise ParamsInvalid(f"{_quoted(name)} is not allowed")
    if rules.together:
        have = [n for n in rules.together if n in out]
        if have and len(have) != len(rules.together):
            missing = [n for n in rules.together if n not in out]
            raise ParamsInvalid(f'"value" contains [{", ".join(have)}] without its required peers [{", ".join(missing)}]')
    return out


def _word(text: str) -> bool:
    return bool(text) and all(c.isalnum() or c == "_" for c in text)


def _filter(text: str) -> tuple[str, str, str] | None:
    rest, _, op = text.rpartition(":")
    field, sep, value = rest.partition(":")
    if not sep or not value or op not in FILTER_OPS or not _word(field):
        return None
    return field, value, op


def filter_parts(text: str) -> tuple[str, str, str]:
    """field, value, op of a CAD Trust filter `field:value:op` (the value may hold colons)."""
    found = _filter(text)
    if found is None:  # validate() has refused it already
        raise ParamsInvalid(f'"filter" with value "{text}" fails to match the required pattern: /{FILTER_PATTERN}/')
    return found


def order_parts(text: str) -> tuple[str, str] | None:
    field, sep, direction = text.partition(":")
    if not sep or direction not in ("ASC", "DESC") or not _word(field):
        return None
    return field, direction


# -- the rules of each CAD Trust endpoint ------------------------------------------------

PROJECT_COLUMNS = (
    # CAD Trust's allowedColumns (projects.validations.js), then the child tables it includes.
    "warehouseProjectId", "currentRegistry", "registryOfOrigin", "program", "projectName", "projectLink",
    "projectDeveloper", "sector", "projectType", "NDCLinkage", "projectStatus", "unitMetric", "methodology",
    "methodologyVersion", "validationApproach", "projectTag", "estimatedAnnualAverageEmissionReduction",
    "timeStaged", "description",
)

_FILTER = Param("string", pattern=FILTER_PATTERN)
_ORDER = Param("string", pattern=ORDER_PATTERN)
_FLAG = Param("boolean")
_TEXT = Param("string")

V1_PROJECTS = Rules(
    params={
        "page": Param("number"),
        "limit": Param("number", minimum=1, maximum=1000),
        "search": _TEXT,
        "columns": Param("array", choices=PROJECT_COLUMNS),
        "orgUid": _TEXT,
        "warehouseProjectId": _TEXT,
        "xls": _FLAG,
        "projectIds": Param("array"),
        "order": _ORDER,
        "filter": _FILTER,
        "onlyMarketplaceProjects": _FLAG,
    },
    required=("page", "limit"),
    relaxed_by=("projectIds", "warehouseProjectId", "xls"),
)

V1_UNITS = Rules(
    params={
        "page": Param("number", minimum=1),
        "limit": Param("number", minimum=1, maximum=1000),
        "search": _TEXT,
        "warehouseUnitId": _TEXT,
        "columns": Param("array"),
        "orgUid": _TEXT,
        "order": Param("string", pattern=ORDER_PATTERN, alternatives=("SERIALNUMBER", "ASC", "DESC"), max_length=100),
        "xls": _FLAG,
        "marketplaceIdentifiers": Param("array"),
        "hasMarketplaceIdentifier": _FLAG,
        "onlyTokenizedUnits": _FLAG,
        "includeProjectInfoInSearch": _FLAG,
        "filter": Param("string", pattern=FILTER_PATTERN, max_length=100),
    },
    required=("page", "limit"),
    relaxed_by=("warehouseUnitId", "onlyTokenizedUnits", "xls"),
    relaxed_limit_max=100,
    together=("page", "limit"),
)

# CAD Trust's issuances and labels routes take no schema: any parameter is ignored.
V1_OPEN = Rules(params={}, open=True)

AUDIT = Rules(
    params={
        "page": Param("number"),
        "limit": Param("number"),
        "orgUid": _TEXT,
        "order": Param("string", choices=("ASC", "DESC")),
    },
    required=("page", "limit", "orgUid"),
)

# CAD Trust's v2 line is not in its public source: v2 takes v1's parameter
# forms, with paging optional (as Tonne's v2 always answered) and no unknown parameter.
V2_LIST = Rules(
    params={
        "page": Param("number", minimum=1),
        "limit": Param("number", minimum=1, maximum=1000),
        "search": _TEXT,
        "columns": Param("array"),
        "orgUid": _TEXT,
        "order": _ORDER,
        "filter": _FILTER,
        "xls": _FLAG,
    },
    together=(),
)
