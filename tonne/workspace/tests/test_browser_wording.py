"""The registry's words, in a real browser, in French and Spanish, at desktop
and phone width: the project form in sections with required fields marked,
sectors as checkboxes, countries by their ISO names (CAD Trust's spellings
kept as the values), every error of the form at once with focus on the first,
a refusal in the reader's language beside its field; the administrator's
menu on one line with no two items of one name; a rejection without a reason
refused at that very button, with focus on the reason."""

from __future__ import annotations

from typing import Any

import pytest

from tonne import testing
from tonne.access.testing import give_totp
from tonne.browser import follow, screenshot, sign_in
from tonne.methodologies import selectors as methodology_catalogue
from tonne.projects import services as projects
from tonne.projects.models import Project

pytestmark = [pytest.mark.browser]


def speak(page: Any, language: str) -> None:
    page.context.add_cookies([{"name": "django_language", "value": language, "url": page.base_url}])


def focused(page: Any) -> str:
    return page.evaluate("document.activeElement ? (document.activeElement.id || document.activeElement.name) : ''")


def fits(page: Any, width: int = 360) -> None:
    scroll = page.evaluate("document.documentElement.scrollWidth")
    widest = page.evaluate(
        "[...document.querySelectorAll('body *')].filter(e => e.getBoundingClientRect().right > 361)"
        ".slice(-4).map(e => e.tagName + '#' + e.id + '.' + e.className + ':' + Math.round(e.getBoundingClientRect().right))"
    )
    assert scroll <= width, f"{page.url} is {scroll}px wide on a {width}px screen: {widest}"


@pytest.mark.parametrize("language", ["fr", "es"])
def test_the_project_form_speaks_the_readers_language(page: Any, phone_page: Any, registry: Any, language: str) -> None:
    for m in methodology_catalogue.every():
        projects.add_methodology(actor=registry.admin, code=m.code, name=m.title, version=m.version)
    sign_in(page, registry.developer.username, testing.PASSWORD)
    speak(page, language)
    page.goto(page.base_url + "/workspace/projects/new/")
    words = {
        "fr": {"host": "Partie hôte", "ci": "Côte d'Ivoire", "ag": "Antigua-et-Barbuda", "gq": "Guinée Équatoriale",
               "sector": "Boisement et reboisement", "computed": "calculée par le registre",
               "required": "Ce champ est obligatoire.", "scope": "Le champ sectoriel du MDP est un nombre de 1 à 15."},
        "es": {"host": "Parte anfitriona", "ci": "Costa de Marfíl", "ag": "Antigua y Barbuda", "gq": "Guinea Ecuatorial",
               "sector": "Forestación y reforestación", "computed": "calculada por el registro",
               "required": "Este campo es obligatorio.", "scope": "El ámbito sectorial del MDL es un número de 1 a 15."},
    }[language]

    # Sectors and types are checkboxes, in the reader's language; the value stays CAD Trust's.
    sector = page.locator("input[type=checkbox][name=sectors][value='Afforestation and reforestation']")
    assert sector.count() == 1
    assert words["sector"] in page.locator("label", has=sector).inner_text()
    assert page.locator("input[type=checkbox][name=types]").count() > 20
    # The host Party by its ISO name; CAD Trust's countries by their ISO names, typos gone, Eswatini once.
    assert words["host"] in page.locator("label[for=id_host_party]").inner_text()
    assert page.locator("#id_host_party option[value=CI]").text_content() == words["ci"]
    location = page.locator("select[name='locations-0-country']")
    assert location.locator("option[value='Antigua and Barduba']").text_content() == words["ag"]
    assert location.locator("option[value='Equatorial New Guinea']").text_content() == words["gq"]
    names = location.locator("option").all_text_contents()
    assert "Antigua and Barduba" not in names and "Equatorial New Guinea" not in names and "Swaziland" not in names
    assert len(names) == len(set(names))
    # Every methodology of the list, those the registry computes marked.
    methodologies = page.locator("select[name='methodologies-0-code'] option").all_text_contents()
    for m in methodology_catalogue.every():
        assert any(t.startswith(m.code) and words["computed"] in t for t in methodologies), (m.code, methodologies)
    # Required fields are marked; the optional child records are folded away.
    assert page.locator("label.required, legend.required").count() >= 4
    assert page.locator("details.children-block[open]").count() == 0
    screenshot(page, f"wording-project-form-{language}")

    # An empty submit: every missing field at once, beside its field, focus on the first.
    follow(page, page.locator("form.project-form button[type=submit]:not(.visually-hidden)").last)
    errors = page.locator(".field.has-error")
    assert errors.count() >= 4
    assert words["required"] in errors.first.inner_text()
    assert focused(page) == "id_name"
    screenshot(page, f"wording-project-form-errors-{language}")

    # A refusal of the service, beside its field, in the reader's words (no internal name).
    page.fill("#id_name", "Forêt de Taï")
    sector.check()
    page.locator("input[type=checkbox][name=types][value=Afforestation]").check()
    # The scopes are a list now; a hostile page adds one the registry does not have.
    page.evaluate("""() => { const o = new Option('99', '99'); document.querySelector('#id_sectoral_scope').add(o); }""")
    page.select_option("#id_sectoral_scope", "99")
    page.select_option("#id_host_party", "CI")
    follow(page, page.locator("form.project-form button[type=submit]:not(.visually-hidden)").last)
    assert not Project.objects.exists()
    scope = page.locator(".field.has-error", has=page.locator("#id_sectoral_scope"))
    assert words["scope"] in scope.inner_text()
    assert "sectoral_scope" not in page.locator("main").inner_text()
    assert focused(page) == "id_sectoral_scope"

    sign_in(phone_page, registry.developer.username, testing.PASSWORD)
    speak(phone_page, language)
    phone_page.goto(phone_page.base_url + "/workspace/projects/new/")
    fits(phone_page)
    screenshot(phone_page, f"wording-project-form-phone-{language}")


def test_the_administrators_menu_and_a_rejection_without_reason(page: Any, phone_page: Any, registry: Any) -> None:
    project = projects.register_project(actor=registry.developer, data=testing.project_fields(), vvb=str(registry.vvb_org.uid))
    projects.change_project_status(actor=registry.developer, project=project, status="submitted")
    secret = give_totp(registry.admin)
    sign_in(page, registry.admin.username, testing.PASSWORD, totp_secret=secret)
    page.goto(page.base_url + f"/workspace/projects/{project.project_id}/")

    # One line of menu, no two items of one name; the registry-wide pages grouped.
    nav = page.locator(".site-nav > ul")
    items = nav.locator(":scope > li")
    tops = {round(items.nth(i).bounding_box()["y"]) for i in range(items.count())}
    assert len(tops) == 1, f"the menu wraps: {tops}"
    names = [n.strip() for n in nav.locator("a, summary").all_text_contents()]
    assert len(names) == len(set(names)), names
    nav.locator("summary").get_by_text("Registry", exact=True).click()
    assert nav.get_by_role("link", name="Article 6").is_visible()
    screenshot(page, "wording-admin-menu")

    # Reject without a reason: refused at that button, focus on the reason; the project unchanged.
    reject = page.locator("form.action-form", has=page.locator("input[name=status][value=rejected]"))
    page.evaluate("document.querySelectorAll('textarea[required]').forEach(t => t.removeAttribute('required'))")
    page.once("dialog", lambda dialog: dialog.accept())
    follow(page, reject.get_by_role("button"))
    reject = page.locator("form.action-form", has=page.locator("input[name=status][value=rejected]"))
    assert reject.locator(".refusal").count() == 1
    assert "REASON_REQUIRED" in reject.locator(".refusal").inner_text()
    assert focused(page) == "reason-rejected"
    project.refresh_from_db()
    assert project.status == "submitted"
    screenshot(page, "wording-reject-without-reason")

    # A destructive action asks first: dismissing the question sends nothing.
    page.once("dialog", lambda dialog: dialog.dismiss())
    page.fill("#reason-rejected", "Incomplete design document.")
    reject.get_by_role("button").click()
    project.refresh_from_db()
    assert project.status == "submitted"

    phone_page.context.add_cookies(page.context.cookies())  # the same session (a TOTP code is good once)
    speak(phone_page, "es")
    phone_page.goto(phone_page.base_url + f"/workspace/projects/{project.project_id}/")
    fits(phone_page)
    screenshot(phone_page, "wording-admin-phone-es")
