"""Every message of the portal's and the site layout's catalogues is
translated into French and Spanish, and the compiled .mo files are current."""

from __future__ import annotations

import gettext
import re
from pathlib import Path

import pytest

TONNE = Path(__file__).resolve().parents[2]
CATALOGUES = [TONNE / "locale", TONNE / "portal" / "locale"]
ENTRY = re.compile(r'^(msgid_plural|msgid|msgstr\[\d\]|msgstr) "(.*)"$')


def entries(po: Path) -> list[dict[str, str]]:
    """The .po file's entries (msgid, msgid_plural, msgstr..., flags)."""
    out: list[dict[str, str]] = []
    current: dict[str, str] = {}
    key = ""
    for line in po.read_text(encoding="utf-8").splitlines() + [""]:
        if not line.strip():
            if current:
                out.append(current)
            current, key = {}, ""
        elif line.startswith("#,"):
            current["flags"] = line
        elif line.startswith("#"):
            continue
        elif (m := ENTRY.match(line)) is not None:
            key = m.group(1)
            current[key] = m.group(2)
        elif line.startswith('"') and key:
            current[key] += line[1:-1]
    return [e for e in out if e.get("msgid")]


@pytest.mark.parametrize("root", CATALOGUES, ids=lambda p: str(p.relative_to(TONNE)))
@pytest.mark.parametrize("lang", ["fr", "es"])
def test_every_message_is_translated(root: Path, lang: str) -> None:
    po = root / lang / "LC_MESSAGES" / "django.po"
    found = entries(po)
    assert len(found) > 10
    untranslated = [
        e["msgid"] for e in found if not all(v for k, v in e.items() if k.startswith("msgstr"))
    ]
    fuzzy = [e["msgid"] for e in found if "fuzzy" in e.get("flags", "")]
    assert not untranslated, f"untranslated in {po}: {untranslated}"
    assert not fuzzy, f"fuzzy in {po}: {fuzzy}"
    placeholders = re.compile(r"%\(\w+\)s")
    for e in found:
        wanted = set(placeholders.findall(e["msgid"] + e.get("msgid_plural", "")))
        for k, v in e.items():
            if k.startswith("msgstr"):
                assert set(placeholders.findall(v)) <= wanted and (
                    k == "msgstr[0]" or set(placeholders.findall(v)) == set(placeholders.findall(e.get("msgid_plural", e["msgid"])))
                ), f"placeholders differ in {po}: {e['msgid']!r}"
    # The compiled catalogue holds every message: the .mo is up to date.
    with open(root / lang / "LC_MESSAGES" / "django.mo", "rb") as handle:
        compiled = gettext.GNUTranslations(handle)
    for e in found:
        if "msgid_plural" in e:
            assert compiled.ngettext(e["msgid"], e["msgid_plural"], 5) != e["msgid_plural"] or e["msgstr[1]"] == e["msgid_plural"]
        else:
            assert compiled.gettext(e["msgid"].replace('\\"', '"').replace("\\n", "\n")) == e["msgstr"].replace('\\"', '"').replace("\\n", "\n"), (
                f"{po} is newer than its .mo: run msgfmt"
            )


def test_templates_use_the_catalogues() -> None:
    """No template of the portal or the layout shows English text outside a
    translate tag: every text node between tags is a template variable or tag."""
    templates = list((TONNE / "portal" / "templates").rglob("*.html")) + list((TONNE / "core" / "templates").rglob("*.html"))
    allowed = re.compile(r"^[\s\W\d]*$|^(UTC|\(v \)|SHA-256|CSV|API|· Tonne)$")
    offenders = []
    for path in templates:
        text = re.sub(r"{% blocktranslate.*?{% endblocktranslate %}", " ", path.read_text(), flags=re.S)
        text = re.sub(r"{%.*?%}|{{.*?}}|<script.*?</script>|<pre>.*?</pre>|<code.*?</code>", " ", text, flags=re.S)
        for chunk in re.findall(r">([^<]+)<", text):
            if not allowed.match(chunk.strip()):
                offenders.append(f"{path.name}: {chunk.strip()!r}")
    assert not offenders, offenders
