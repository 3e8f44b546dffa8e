"""A refusal that names things (an account, a quantity, a period, serials, a
report) names them in French and Spanish too: the services pass them as the
error's details, and every code's templates use them."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest
from django.utils import formats, translation

from tonne.core import refusals
from tonne.core.errors import ValidationFailed
from tonne.core.refusal_details import DETAILED
from tonne.core.tests.test_refusals import ERROR_CLASSES

ROOT = Path(__file__).resolve().parents[2]
# Words of an English sentence that neither French nor Spanish uses.
ENGLISH = re.compile(r"\b(the|is|are|has|have|was|were|not|does|already|must|this|of|in|at|and|cannot|needs?)\b")
# Apps whose every refusal naming a thing passes it.
PARAMETERISED_APPS = ("units", "controls", "mrv", "projects", "organisations", "kyc", "article6", "linkage", "cadt", "ledger",
                      "access", "audit", "api", "core")


def _sample(name: str, index: int) -> object:
    """A value for a placeholder: an amount to group, or a text no language translates."""
    if name in {"status", "target", "account_type", "movement", "role", "scope", "needed", "field"}:
        return f"Zq{index}"
    if name in {"vintage", "first_year", "last_year", "report", "item", "other_item", "first_missing_serial"}:
        return 2000 + index
    if name in {"limit", "given", "available", "requested", "moved", "quantity", "claimed", "estimated", "verified",
                "buffer", "sop", "omge", "shares", "minimum", "count", "days", "years", "length"}:
        return 1_234_500 + index
    return f"XZ-{index}-ZX"


def _every_template() -> list[tuple[str, int]]:
    return [(code, n) for code in sorted(DETAILED) for n in range(len(refusals.templates(code)))]


@pytest.mark.parametrize("language", ["fr", "es"])
@pytest.mark.parametrize(("code", "n"), _every_template())
def test_each_template_carries_its_values_in_the_readers_words(code: str, n: int, language: str) -> None:
    template = refusals.templates(code)[n]
    names = sorted(refusals.placeholders(template))
    details = {name: _sample(name, i) for i, name in enumerate(names) if name != "field"}
    exc = ValidationFailed(code, "English words the reader never sees.", field="Zqf" if "field" in names else None,
                           details=details)
    # The first template the values satisfy is this one or a more specific one: drop the others' values.
    with translation.override(language):
        said = refusals.text(exc)
        for value in details.values():
            shown = formats.number_format(value, force_grouping=True) if isinstance(value, int) and value > 9999 else str(value)
            assert shown in said, (code, said)
        if len(names) > 1:
            assert "\xa0" in said or not any(isinstance(v, int) and v > 9999 for v in details.values())
    with translation.override("en"):
        english = str(template)
    assert said != english
    assert not ENGLISH.search(re.sub(r"XZ-\d+-ZX|Zq\w+", "", said)), (code, language, said)


def _raise_sites(app: str):  # noqa: ANN202
    for path in sorted((ROOT / app).rglob("*.py")):
        if "tests" in path.parts or "migrations" in path.parts:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Call) or len(node.args) < 2:
                continue
            name = node.func.id if isinstance(node.func, ast.Name) else getattr(node.func, "attr", "")
            message = node.args[1]
            if name in ERROR_CLASSES and isinstance(node.args[0], ast.Constant) and isinstance(message, ast.JoinedStr):
                values = [v.value for v in message.values if isinstance(v, ast.FormattedValue)]
                if all(isinstance(v, ast.Name) and v.id == "exc" for v in values):
                    continue  # only a library's own words: the code's plain message says it
                yield f"{path.relative_to(ROOT)}:{node.lineno}", node.args[0].value, node


@pytest.mark.parametrize("app", PARAMETERISED_APPS)
def test_every_refusal_naming_a_thing_passes_what_a_template_needs(app: str) -> None:
    """Statically: where the English message is built from values and the code
    has templates, the call passes (as details, or as its field) the values of one."""
    unmet = []
    for where, code, node in _raise_sites(app):
        templates = refusals.templates(code)
        if not templates:
            continue
        given = {k.arg for k in node.keywords if k.arg == "field"} | ({"field"} if code.startswith("KYC_FIELD") else set())
        details = next((k.value for k in node.keywords if k.arg == "details"), None)
        if details is not None and not isinstance(details, ast.Dict):
            continue  # built elsewhere (a variable): the rendering test covers its codes
        given |= {k.value for k in (details.keys if details is not None else []) if isinstance(k, ast.Constant)}
        if not any(refusals.placeholders(t) <= given for t in templates):
            unmet.append(f"{where} {code}")
    assert unmet == []
