"""Finding double counting: overlapping serial ranges and projects registered twice.

Pure functions over plain tuples, so the same code runs on a sample in a
test and on millions of rows streamed from the database."""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

# Rows of registries that publish the current blocks of issued units (not
# events): all their rows are issued units, whatever their status.
BLOCK_REGISTRIES = {"verra", "cadt"}
USED = {"retirement", "cancellation"}
MAX_ACTIVE = 10_000  # ranges open at once in one series: more means a broken file, not real data


@dataclass(frozen=True)
class Range:
    pk: int
    registry: str
    kind: str
    series: str
    start: int
    end: int
    project_id: str
    label: str


@dataclass(frozen=True)
class Overlap:
    kind: str  # serial_overlap | retired_twice
    a: Range
    b: Range
    quantity: int


# Layers that mirror other registries' records (CAD Trust, Berkeley's database): units
# shown there are not units moved there.
MIRRORS = {"cadt", "vrod"}
# The registry that issued a series' units (the rest name their registry: "verra:VCU", "acr:ACR-…").
_SERIES_HOME = {"kyoto": "cdm", "gs": "gold-standard"}
MOVED = "moved_uncancelled"


def home_registry(series: str) -> str:
    """The registry whose serials a series counts: units of the series elsewhere came from there."""
    prefix = series.split(":", 1)[0]
    return _SERIES_HOME.get(prefix, prefix)


def classify(a: Range, b: Range) -> str | None:
    """Which finding two overlapping ranges are, or None when the overlap is the units' normal life.

    Units of one registry's series found in another registry have moved
    there: properly when the origin cancelled them (no finding), improperly
    while the origin still holds them live ("moved_uncancelled", checked
    afterwards against every cancellation of the origin in that stretch)."""
    if a.registry != b.registry and a.registry not in MIRRORS and b.registry not in MIRRORS:
        home = home_registry(a.series)
        if home in (a.registry, b.registry):
            origin = a if a.registry == home else b
            if origin.kind == "cancellation":
                return None  # cancelled at the origin: the way units move between registries
            if origin.kind not in USED:
                return MOVED
    if a.registry == b.registry and {a.kind, b.kind} == {"issuance", "holding"}:
        return None  # an issuance and a block of it still held (e.g. Puro's transactions and its bundles)
    if a.kind in USED and b.kind in USED:
        return "retired_twice"
    if a.registry == b.registry and a.registry not in BLOCK_REGISTRIES and (a.kind in USED) != (b.kind in USED):
        return None  # an issuance and the retirement of some of its units, in the registry that issued them
    return "serial_overlap"


def overlaps(ranges: Iterable[Range]) -> Iterator[Overlap]:
    """Every overlapping pair, from ranges sorted by (series, start): one sweep, bounded memory."""
    active: list[Range] = []
    series = None
    for r in ranges:
        if r.series != series:
            series, active = r.series, []
        active = [a for a in active if a.end >= r.start]
        for a in active:
            kind = classify(a, r)
            if kind:
                yield Overlap(kind, a, r, min(a.end, r.end) - max(a.start, r.start) + 1)
        if len(active) < MAX_ACTIVE:
            active.append(r)


def uncovered(lo: int, hi: int, covers: Iterable[tuple[int, int]]) -> list[tuple[int, int]]:
    """The stretches of [lo, hi] that no (start, end) in covers contains."""
    gaps: list[tuple[int, int]] = []
    at = lo
    for start, end in sorted(covers):
        if end < at:
            continue
        if start > hi:
            break
        if start > at:
            gaps.append((at, start - 1))
        at = max(at, end + 1)
        if at > hi:
            return gaps
    if at <= hi:
        gaps.append((at, hi))
    return gaps


@dataclass(frozen=True)
class VintageMove:
    """One vintage of a project issued in two registries, and what the origin did with it."""

    vintage: int
    origin_issued: Any
    origin_cancelled: Any
    destination_issued: Any

    @property
    def uncancelled(self) -> Any:
        """Units issued again at the destination that the origin never cancelled."""
        return max(min(self.destination_issued, self.origin_issued) - self.origin_cancelled, 0)


def origin_of(first_a: Any, first_b: Any) -> int | None:
    """Which side issued a vintage first (0 or 1); None when the dates cannot tell."""
    if first_a is None or first_b is None or first_a == first_b:
        return None
    return 0 if first_a < first_b else 1


# -- projects -----------------------------------------------------------------------

_ALIASES = {
    "cotedivoire": "CI", "ivorycoast": "CI", "usa": "US", "unitedstates": "US", "uk": "GB", "vietnam": "VN",
    "laos": "LA", "laopdr": "LA", "bolivia": "BO", "tanzania": "TZ", "drc": "CD", "democraticrepublicofthecongo": "CD",
    "congodemocraticrepublicofthe": "CD", "republicofthecongo": "CG", "congo": "CG", "southkorea": "KR",
    "korearepublicof": "KR", "republicofkorea": "KR", "russia": "RU", "iran": "IR", "turkey": "TR", "turkiye": "TR",
    "moldova": "MD", "syria": "SY", "venezuela": "VE", "taiwan": "TW", "palestine": "PS", "swaziland": "SZ",
    "eswatini": "SZ", "capeverde": "CV", "macedonia": "MK", "northmacedonia": "MK", "burma": "MM",
}


def _plain(text: str) -> str:
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z]", "", text.lower())


@functools.lru_cache(maxsize=4096)
def country_code(name: str) -> str:
    """ISO 3166 alpha-2 for a country as registries write it (name, ISO2, ISO3, upper case)."""
    import pycountry  # a large table: loaded on the first lookup only

    name = (name or "").strip()
    if not name:
        return ""
    plain = _plain(name)
    if plain in _ALIASES:
        return _ALIASES[plain]
    try:
        return str(pycountry.countries.lookup(name).alpha_2)
    except LookupError:
        pass
    for c in pycountry.countries:
        names = [c.name, getattr(c, "official_name", ""), getattr(c, "common_name", "")]
        if plain in {_plain(n) for n in names if n}:
            return str(c.alpha_2)
    return ""


_STOP = {"project", "projects", "the", "of", "and", "in", "for", "programme", "program", "ltd", "limited", "pvt",
         "private", "co", "inc", "llc", "sa", "de", "grouped", "bundled", "activity", "poa", "cpa", "vpa"}


def name_key(name: str) -> str:
    """A project name for comparison: registry ids, punctuation and filler words removed."""
    text = unicodedata.normalize("NFKD", name or "").encode("ascii", "ignore").decode().lower()
    text = re.sub(r"\b(gs|vcs|cdm|acr|car|vpa|cpa)\s*-?\s*\d+\b", " ", text)
    text = re.sub(r"(?<=[a-z])-(?=[a-z])", "", text)  # "eco-region" is "ecoregion"
    words = [w for w in re.findall(r"[a-z0-9]+", text) if w not in _STOP]
    return " ".join(words)


@dataclass(frozen=True)
class Candidate:
    pk: int
    registry: str
    project_id: str
    name: str
    country: str
    methodology: str
    developer: str


def similar_projects(projects: list[Candidate], *, threshold: float = 90.0) -> Iterator[tuple[Candidate, Candidate, float, dict[str, Any]]]:
    """Pairs of projects in different registries of one country whose names
    agree, scored with methodology and developer as further evidence."""
    from rapidfuzz import fuzz, process  # compiled matcher: loaded only when projects are compared

    by_country: dict[str, list[Candidate]] = {}
    for p in projects:
        by_country.setdefault(p.country, []).append(p)
    for country, group in by_country.items():
        if not country or len(group) < 2:
            continue
        registries = sorted({p.registry for p in group})
        keys = [name_key(p.name) for p in group]
        numbers = [frozenset(re.findall(r"\d+", k)) for k in keys]
        for i, reg in enumerate(registries):
            left = [j for j, p in enumerate(group) if p.registry == reg and keys[j]]
            right = [j for j, p in enumerate(group) if p.registry in registries[i + 1:] and keys[j]]
            if not left or not right:
                continue
            choices = {j: keys[j] for j in right}
            for li in left:
                for _choice, name_score, ri in process.extract(keys[li], choices, scorer=fuzz.token_sort_ratio,
                                                               score_cutoff=threshold, limit=None):
                    a, b = group[li], group[ri]
                    if numbers[li] and numbers[ri] and numbers[li] != numbers[ri]:
                        continue  # "A-Gas 1-2024" is not "A-Gas 1-2021": numbers in names name different projects
                    evidence: dict[str, Any] = {"country": country, "names": [a.name, b.name], "name_score": name_score}
                    score = name_score / 100 * 0.8
                    if a.methodology and b.methodology and fuzz.token_set_ratio(a.methodology, b.methodology) >= 85:
                        score += 0.1
                        evidence["methodology"] = [a.methodology, b.methodology]
                    if a.developer and b.developer and fuzz.token_set_ratio(a.developer, b.developer) >= 85:
                        score += 0.1
                        evidence["developer"] = [a.developer, b.developer]
                    yield a, b, round(min(score, 1.0), 3), evidence
