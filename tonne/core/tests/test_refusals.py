"""Every refusal code raised anywhere in Tonne has the reader's words in French
and Spanish, and a refusal reaches the reader in their language: on the
workspace's pages and in the API's problem documents."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest
from django.utils import translation

from tonne.core import refusals
from tonne.core.errors import NotFound, ValidationFailed
from tonne.core.refusal_details import DETAILED
from tonne.core.refusal_messages import MESSAGES

ROOT = Path(__file__).resolve().parents[2]
CODE = re.compile(r"^[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+$")
ERROR_CLASSES = {
    "RegistryError", "ValidationFailed", "NotFound", "PermissionDenied", "Conflict", "NotAuthenticated",
    "ImportRejected", "LedgerRolledBack", "MethodologyError",
}
CODE_NAMES = re.compile(r"^(code|codes|\w+_code)$")


def _literals(node: ast.AST) -> list[str]:
    return [n.value for n in ast.walk(node) if isinstance(n, ast.Constant) and isinstance(n.value, str) and CODE.match(n.value)]


def raised_codes() -> dict[str, str]:
    """Code -> where it is raised: the first argument of an error's constructor,
    the code of an API `problem`, a `code=`/`codes=` argument, a parameter's
    default code, a variable named code."""
    found: dict[str, str] = {}
    for path in sorted(ROOT.rglob("*.py")):
        if "tests" in path.parts or "migrations" in path.parts:
            continue
        where = str(path.relative_to(ROOT.parent))
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            hits: list[str] = []
            if isinstance(node, ast.Call):
                name = node.func.id if isinstance(node.func, ast.Name) else getattr(node.func, "attr", "")
                if name in ERROR_CLASSES and node.args:
                    hits += _literals(node.args[0])
                if name in ("problem", "get_or_404") and len(node.args) > 1:
                    hits += _literals(node.args[1])
                for keyword in node.keywords:
                    if keyword.arg and CODE_NAMES.match(keyword.arg):
                        hits += _literals(keyword.value)
            elif isinstance(node, ast.FunctionDef):
                positional = node.args.posonlyargs + node.args.args
                arguments = positional + node.args.kwonlyargs
                defaults = [None] * (len(positional) - len(node.args.defaults)) + list(node.args.defaults)
                defaults += list(node.args.kw_defaults)
                for argument, default in zip(arguments, defaults, strict=True):
                    if default is not None and CODE_NAMES.match(argument.arg):
                        hits += _literals(default)
            elif isinstance(node, ast.Assign):
                if any(isinstance(t, ast.Name) and CODE_NAMES.match(t.id) for t in node.targets):
                    hits += _literals(node.value)
            for code in hits:
                found.setdefault(code, f"{where}:{getattr(node, 'lineno', 0)}")
    return found


def test_the_walk_finds_the_codes_raised() -> None:
    codes = raised_codes()
    # Raised directly, through a parameter's default, through a variable, through a tuple of codes.
    for code in ("ACCOUNT_CHECK_DIGITS", "JURISDICTION_INVALID", "ITMO_ALREADY_IN_REGISTRY", "ALERT_DECIDED", "REQUEST_INVALID"):
        assert code in codes
    assert len(codes) > 250


def test_every_code_raised_has_french_and_spanish_words() -> None:
    missing = {code: where for code, where in raised_codes().items() if code not in MESSAGES}
    assert missing == {}, f"codes without the reader's words: {missing}"
    every = [*MESSAGES.items(), *((code, t) for code in DETAILED for t in refusals.templates(code))]
    with translation.override("en"):
        english_of = {id(message): str(message) for _, message in every}
    for language in ("fr", "es"):
        with translation.override(language):
            for code, message in every:
                english, translated = english_of[id(message)], str(message)
                assert translated != english, (language, code, english)
                assert sorted(re.findall(r"%\(\w+\)s", translated)) == sorted(re.findall(r"%\(\w+\)s", english))


def test_every_detailed_message_has_a_plain_one() -> None:
    assert set(DETAILED) <= set(MESSAGES)


def test_a_refusal_speaks_the_readers_language_with_its_figures() -> None:
    exc = ValidationFailed(
        "INSUFFICIENT_UNITS", "Account CI-1 holds 68,361 matching units that may move; 70,000 requested.",
        field="quantity", details={"available": 68361, "requested": 70000},
    )
    with translation.override("fr"):
        assert refusals.text(exc) == "Le compte détient 68\xa0361 unités correspondantes pouvant être déplacées ; 70\xa0000 demandées."
    with translation.override("es"):
        assert refusals.text(exc).startswith("La cuenta tiene 68\xa0361 unidades")
    with translation.override("en"):
        assert refusals.text(exc) == exc.message  # the service's own, more precise words


def test_a_refusal_names_the_field_by_its_label_never_its_internal_name() -> None:
    exc = ValidationFailed("SECTORAL_SCOPE_INVALID", "sectoral_scope must be a CDM sectoral scope from 1 to 15.",
                           field="sectoral_scope")
    with translation.override("en"):
        assert refusals.text(exc, label="CDM sectoral scope") == "CDM sectoral scope must be a CDM sectoral scope from 1 to 15."
        assert "sectoral_scope" not in refusals.text(exc)
    required = ValidationFailed("FIELD_REQUIRED", "unit_class is required.", field="unit_class")
    with translation.override("es"):
        assert refusals.text(required, label="Clase de unidades") == "Clase de unidades: este campo es obligatorio."
    with translation.override("fr"):
        assert refusals.text(required) == "unit_class : ce champ est obligatoire."  # no label known: the name, still in French


def test_an_unknown_code_keeps_the_services_message() -> None:
    with translation.override("fr"):
        assert refusals.text(NotFound("NO_SUCH_CODE_EVER", "No such thing.")) == "No such thing."


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("language", "expected", "title"),
    [("fr", "La transaction TX-404 n'existe pas ou ne vous est pas visible.", "Introuvable"),
     ("es", "La transacción TX-404 no existe o no le es visible.", "No encontrado"),
     ("en", "Transaction TX-404 does not exist or is not yours to see.", "Not found")],
)
def test_the_api_answers_in_the_language_asked(client, language: str, expected: str, title: str) -> None:
    from tonne import testing

    registry = testing.build_registry()
    client.force_login(registry.developer)
    answer = client.get("/api/v1/transactions/TX-404", HTTP_ACCEPT_LANGUAGE=language)
    assert answer.status_code == 404
    body = answer.json()
    assert body["code"] == "TRANSACTION_NOT_FOUND"
    assert body["detail"] == expected
    assert body["title"] == title
    unknown = client.get("/api/v1/no-such-endpoint", HTTP_ACCEPT_LANGUAGE=language).json()
    assert unknown["title"] == title and unknown["code"] == "NOT_FOUND"
