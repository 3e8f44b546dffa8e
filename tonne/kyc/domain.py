"""Pure rules of sanctions screening: reading the list formats and matching
names loosely (accents, case, punctuation, word order, small misspellings)."""

from __future__ import annotations

import csv
import io
import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass, field

from defusedxml import DefusedXmlException, ElementTree
from rapidfuzz import fuzz

from tonne.core.errors import ValidationFailed

# Words that say what kind of company it is, not which one.
LEGAL_FORMS = frozenset(
    "sa sas sarl sarlu ltd limited llc inc corp corporation co company gmbh ag plc bv nv srl spa oy ab "
    "the of and et de du des la le".split()
)


@dataclass
class ListedName:
    reference: str
    kind: str  # person or entity
    name: str
    aliases: list[str] = field(default_factory=list)


def normalise(name: str) -> str:
    text = unicodedata.normalize("NFKD", name or "")
    text = "".join(ch for ch in text if not unicodedata.combining(ch)).casefold()
    words = re.findall(r"[a-z0-9]+", re.sub(r"\b([a-z])\.(?=[a-z]\.)", r"\1", text))
    kept = [w for w in words if w not in LEGAL_FORMS] or words
    return " ".join(kept)


def similarity(a: str, b: str) -> int:
    """0..100: how alike two normalised names are, whatever the word order."""
    if not a or not b:
        return 0
    score = max(fuzz.token_sort_ratio(a, b), fuzz.ratio(a, b))
    if len(set(a.split()) & set(b.split())) >= 2:
        # Two shared words or more: a missing middle name or initial does not hide a match.
        score = max(score, fuzz.token_set_ratio(a, b))
    return int(round(score))


def best_match(subject: str, names: list[str]) -> int:
    wanted = normalise(subject)
    return max((similarity(wanted, n) for n in names), default=0)


def _text(node: object, tag: str) -> str:
    child = node.find(tag)  # type: ignore[attr-defined]
    return (child.text or "").strip() if child is not None and child.text else ""


def parse_un_xml(data: bytes) -> Iterator[ListedName]:
    """The UN Security Council consolidated list (CONSOLIDATED_LIST XML)."""
    try:
        root = ElementTree.fromstring(data)
    except DefusedXmlException:
        raise ValidationFailed("SANCTIONS_LIST_UNREADABLE", "The XML file uses entities or DTDs; refused.",
                               field="file") from None
    except ElementTree.ParseError as exc:
        raise ValidationFailed("SANCTIONS_LIST_UNREADABLE", f"Not a readable XML file: {exc}", field="file") from None
    if root.tag != "CONSOLIDATED_LIST":
        raise ValidationFailed("SANCTIONS_LIST_UNREADABLE", "Not a UN consolidated list (root CONSOLIDATED_LIST).", field="file")
    for person in root.iter("INDIVIDUAL"):
        parts = [_text(person, t) for t in ("FIRST_NAME", "SECOND_NAME", "THIRD_NAME", "FOURTH_NAME")]
        name = " ".join(p for p in parts if p)
        aliases = [(a.findtext("ALIAS_NAME") or "").strip() for a in person.iter("INDIVIDUAL_ALIAS")]
        yield ListedName(_text(person, "REFERENCE_NUMBER") or _text(person, "DATAID"), "person", name, [a for a in aliases if a])
    for entity in root.iter("ENTITY"):
        aliases = [(a.findtext("ALIAS_NAME") or "").strip() for a in entity.iter("ENTITY_ALIAS")]
        yield ListedName(_text(entity, "REFERENCE_NUMBER") or _text(entity, "DATAID"), "entity",
                         _text(entity, "FIRST_NAME"), [a for a in aliases if a])


def parse_opensanctions_csv(data: bytes) -> Iterator[ListedName]:
    """OpenSanctions 'targets.simple.csv': id, schema, name, aliases (';'-separated), …"""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ValidationFailed("SANCTIONS_LIST_UNREADABLE", "The CSV file is not UTF-8.", field="file") from None
    reader = csv.DictReader(io.StringIO(text))
    if not reader.fieldnames or not {"id", "name"} <= set(reader.fieldnames):
        raise ValidationFailed("SANCTIONS_LIST_UNREADABLE", "Expected OpenSanctions columns id, schema, name, aliases.",
                               field="file")
    for row in reader:
        aliases = [a.strip() for a in (row.get("aliases") or "").split(";") if a.strip()]
        kind = "person" if (row.get("schema") or "") == "Person" else "entity"
        yield ListedName(row["id"], kind, row.get("name") or "", aliases)


# -- bounded screening ---------------------------------------------------------------------------

MAX_CANDIDATES = 5_000  # names scored per subject at most, however long the lists are


def blocking_keys(normalised: str) -> set[str]:
    """The keys a name is filed under: each word, and each word's first three
    letters (a misspelt ending still meets its listed name)."""
    return {k for w in normalised.split() for k in (w, "~" + w[:3])}


class NameIndex:
    """The listed names filed by blocking key, so that screening a subject
    scores only the listed names that share a key with it (the rarest keys
    first, at most MAX_CANDIDATES) instead of the whole list."""

    def __init__(self, names: list[str]) -> None:
        self.names = names
        self.blocks: dict[str, list[int]] = {}
        for index, name in enumerate(names):
            for key in blocking_keys(name):
                self.blocks.setdefault(key, []).append(index)

    def candidates(self, wanted: str, limit: int | None = None) -> list[int]:
        limit = limit or MAX_CANDIDATES
        blocks = sorted((self.blocks.get(k, []) for k in blocking_keys(wanted)), key=len)
        found: dict[int, None] = {}
        for block in blocks:
            if len(found) + len(block) > limit and found:
                break  # the commonest keys (e.g. "mohammed") add nothing a rarer key has not found
            found.update(dict.fromkeys(block[:limit]))
        return list(found)[:limit]
