"""Server-rendered SVG: bar charts for the dashboard and the project map.
No script, no external file: each drawing has a title and a description for
screen readers, and the numbers are also in a table beside it."""

from __future__ import annotations

import functools
import json
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.utils.formats import number_format
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

# Colours with at least 3:1 contrast against white (WCAG 1.4.11 graphics).
SERIES_COLOURS = ("#0b6e4f", "#b3541e", "#5b4b9a", "#1f5f8b")


def _num(value: float) -> str:
    return number_format(value, force_grouping=True)


def bar_chart(
    ident: str,
    title: str,
    desc: str,
    categories: Sequence[str],
    series: Sequence[tuple[str, Sequence[float]]],
) -> SafeString:
    """Horizontal grouped bars: one group per category, one bar per series."""
    n_series = max(1, len(series))
    bar_h, gap, label_w, width, right = 14, 10, 210, 640, 90
    group_h = n_series * bar_h + gap
    legend_h = 26 if n_series > 1 else 0
    height = legend_h + max(1, len(categories)) * group_h + 10
    peak = max([v for _, values in series for v in values] + [1])
    plot_w = width - label_w - right
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" viewBox="0 0 {width} {height}" role="img" '
        f'aria-labelledby="{ident}-title {ident}-desc" preserveAspectRatio="xMinYMin meet">',
        f'<title id="{ident}-title">{escape(title)}</title><desc id="{ident}-desc">{escape(desc)}</desc>',
    ]
    if n_series > 1:
        x = label_w
        for k, (name, _) in enumerate(series):
            colour = SERIES_COLOURS[k % len(SERIES_COLOURS)]
            parts.append(f'<rect x="{x}" y="6" width="12" height="12" fill="{colour}"/>')
            parts.append(f'<text x="{x + 16}" y="16" class="legend">{escape(name)}</text>')
            x += 24 + 8 * len(name)
    for i, category in enumerate(categories):
        y0 = legend_h + i * group_h
        label = category if len(category) <= 30 else category[:29] + "…"
        parts.append(
            f'<text x="{label_w - 8}" y="{y0 + n_series * bar_h / 2 + 4:.1f}" text-anchor="end" class="label">'
            f"<title>{escape(category)}</title>{escape(label)}</text>"
        )
        for k, (_, values) in enumerate(series):
            value = values[i] if i < len(values) else 0
            w = plot_w * value / peak if peak else 0
            y = y0 + k * bar_h
            colour = SERIES_COLOURS[k % len(SERIES_COLOURS)]
            parts.append(f'<rect x="{label_w}" y="{y}" width="{max(w, 0.5):.1f}" height="{bar_h - 2}" fill="{colour}"/>')
            parts.append(f'<text x="{label_w + w + 4:.1f}" y="{y + bar_h - 4}" class="value">{_num(value)}</text>')
    parts.append(f'<line x1="{label_w}" y1="{legend_h}" x2="{label_w}" y2="{height - 6}" stroke="#4d5c55"/>')
    parts.append("</svg>")
    return mark_safe("".join(parts))  # noqa: S308 (every text escaped above)


# -- maps ------------------------------------------------------------------------------------


@dataclass
class Shape:
    kind: str  # point | line | polygon
    coords: list[list[tuple[float, float]]]  # rings / lines of (lon, lat); a point is one ring of one pair


_PAIR = re.compile(r"^\s*(-?\d+(?:\.\d+)?)\s*[, ]\s*(-?\d+(?:\.\d+)?)\s*$")


def parse_gis(text: str) -> list[Shape]:
    """A location's `gis` field: GeoJSON (geometry, Feature, FeatureCollection)
    or "lat,lon" coordinates. Anything else yields nothing (no map)."""
    text = (text or "").strip()
    if not text:
        return []
    match = _PAIR.match(text)
    if match:
        lat, lon = float(match.group(1)), float(match.group(2))
        if -90 <= lat <= 90 and -180 <= lon <= 180:
            return [Shape("point", [[(lon, lat)]])]
        return []
    try:
        data = json.loads(text)
    except ValueError:
        return []
    return _geojson(data)


def _pairs(values: Any) -> list[tuple[float, float]]:
    out = []
    for v in values or []:
        if isinstance(v, list | tuple) and len(v) >= 2 and all(isinstance(c, int | float) for c in v[:2]):
            lon, lat = float(v[0]), float(v[1])
            if -180 <= lon <= 180 and -90 <= lat <= 90:
                out.append((lon, lat))
    return out


def _geojson(data: Any) -> list[Shape]:
    if not isinstance(data, dict):
        return []
    kind = data.get("type")
    coords = data.get("coordinates")
    if kind == "FeatureCollection":
        return [s for f in data.get("features") or [] for s in _geojson(f)]
    if kind == "Feature":
        return _geojson(data.get("geometry"))
    if kind == "GeometryCollection":
        return [s for g in data.get("geometries") or [] for s in _geojson(g)]
    if kind == "Point":
        pts = _pairs([coords])
        return [Shape("point", [pts])] if pts else []
    if kind == "MultiPoint":
        return [Shape("point", [[p]]) for p in _pairs(coords)]
    if kind == "LineString":
        return [Shape("line", [_pairs(coords)])]
    if kind == "MultiLineString":
        return [Shape("line", [_pairs(line)]) for line in coords or []]
    if kind == "Polygon":
        return [Shape("polygon", [_pairs(ring) for ring in coords or []])]
    if kind == "MultiPolygon":
        return [Shape("polygon", [_pairs(ring) for ring in poly]) for poly in coords or []]
    return []


COUNTRIES_FILE = Path(__file__).resolve().parent / "geo" / "countries-110m.json"


@functools.cache
def _countries() -> dict[str, Any]:
    """Country outlines by ISO alpha-2 code (Natural Earth 1:110m, see geo/README.md)."""
    return dict(json.loads(COUNTRIES_FILE.read_text(encoding="utf-8"))["countries"])


def country_bbox(code: str) -> tuple[float, float, float, float] | None:
    country = _countries().get((code or "").upper())
    return tuple(country["bbox"]) if country else None  # type: ignore[return-value]


@functools.cache
def _country_polygons() -> list[tuple[str, str, tuple[float, float, float, float], Shape]]:
    out = []
    for code, country in _countries().items():
        for poly in country["polygons"]:
            rings = [[(lon, lat) for lon, lat in ring] for ring in poly]
            lons = [p[0] for ring in rings for p in ring]
            lats = [p[1] for ring in rings for p in ring]
            out.append((code, country["name"], (min(lons), min(lats), max(lons), max(lats)), Shape("polygon", rings)))
    return out


def countries_in(west: float, south: float, east: float, north: float) -> list[tuple[str, str, list[Shape]]]:
    """(code, name, polygons) of the countries with land in the frame (an
    overseas part far away does not bring its country in)."""
    found: dict[str, tuple[str, list[Shape]]] = {}
    for code, name, (w, s, e, n), shape in _country_polygons():
        if w <= east and e >= west and s <= north and n >= south:
            found.setdefault(code, (name, []))[1].append(shape)
    return [(code, name, shapes) for code, (name, shapes) in found.items()]


@dataclass(frozen=True)
class Site:
    """A project's shapes on the registry map, linked to its public page."""

    shapes: list[Shape]
    href: str
    label: str


def location_map(
    ident: str, title: str, desc: str, shapes: list[Shape], outline: list[Shape] | None = None, *, host: str = ""
) -> SafeString:
    """The project's points and areas on a plain equirectangular frame with a
    graticule, over the outlines of the countries around them (the host
    country's drawn in full and set apart); `outline` (a region) is drawn
    underneath when known."""
    return _map(ident, title, desc, [Site(shapes, "", "")], outline, host=host)


def registry_map(ident: str, title: str, desc: str, sites: list[Site], *, host: str) -> SafeString:
    """Every project's sites over the country, each a link to its project page
    (zoomable in the page by portal/map-zoom.js; without script, the whole country)."""
    return _map(ident, title, desc, sites, None, host=host, radius=5, zoomable=True)


def _map(
    ident: str, title: str, desc: str, sites: list[Site], outline: list[Shape] | None, *, host: str,
    radius: float = 7, zoomable: bool = False,
) -> SafeString:
    pts = [p for site in sites for s in site.shapes for ring in s.coords for p in ring]
    home = country_bbox(host)
    if not pts and not (zoomable and home):
        return mark_safe("")
    if pts:
        lons = [p[0] for p in pts]
        lats = [p[1] for p in pts]
        pad = max(0.25, (max(lons) - min(lons)) * 0.2, (max(lats) - min(lats)) * 0.2)
        west, east = min(lons) - pad, max(lons) + pad
        south, north = min(lats) - pad, max(lats) + pad
    else:
        assert home is not None
        west, south, east, north = home
    if home and home[0] - 5 <= west and east <= home[2] + 5 and home[1] - 5 <= south and north <= home[3] + 5:
        # Sites in or near the host country: show the whole country around them.
        margin = 0.3
        west, south = min(west, home[0] - margin), min(south, home[1] - margin)
        east, north = max(east, home[2] + margin), max(north, home[3] + margin)
    mid = math.cos(math.radians((south + north) / 2))
    width, height = 600, 400
    scale = min(width / ((east - west) * mid), height / (north - south))
    cx, cy = (west + east) / 2, (south + north) / 2

    def xy(lon: float, lat: float) -> tuple[float, float]:
        return width / 2 + (lon - cx) * mid * scale, height / 2 - (lat - cy) * scale

    zoom = ' data-zoomable=""' if zoomable else ""
    parts = [
        # With links inside, the map is a group of links, not one image.
        f'<svg xmlns="http://www.w3.org/2000/svg" class="map" viewBox="0 0 {width} {height}" '
        f'role="{"group" if any(site.href for site in sites) else "img"}" '
        f'aria-labelledby="{ident}-title {ident}-desc" id="{ident}"{zoom}>',
        f'<title id="{ident}-title">{escape(title)}</title><desc id="{ident}-desc">{escape(desc)}</desc>',
        f'<rect x="-{width * 4}" y="-{height * 4}" width="{width * 9}" height="{height * 9}" fill="#e4eef3"/>'
        if zoomable else f'<rect width="{width}" height="{height}" fill="#e4eef3"/>',
    ]
    reach = 5 if zoomable else 0  # a zoomable map may be panned past its frame
    for code, name, polygons in countries_in(west - reach, south - reach, east + reach, north + reach):
        css = "country host" if code == (host or "").upper() else "country"
        parts.append(f"<g class=\"{css}\"><title>{escape(name)}</title>")
        parts.extend(_path(shape, xy, "land") for shape in polygons)
        parts.append("</g>")
    # Graticule every 1, 2, 5 or 10 degrees, labelled.
    span = max(east - west, north - south)
    step = next((s for s in (0.1, 0.2, 0.5, 1, 2, 5, 10, 20, 30) if span / s <= 8), 30)
    g = math.floor(west / step) * step
    while g <= east:
        x, _ = xy(g, cy)
        parts.append(f'<line x1="{x:.1f}" y1="0" x2="{x:.1f}" y2="{height}" class="grid"/>')
        parts.append(f'<text x="{x + 3:.1f}" y="{height - 5}" class="grid-label">{_deg(g, "E", "W")}</text>')
        g += step
    g = math.floor(south / step) * step
    while g <= north:
        _, y = xy(cx, g)
        parts.append(f'<line x1="0" y1="{y:.1f}" x2="{width}" y2="{y:.1f}" class="grid"/>')
        parts.append(f'<text x="4" y="{y - 3:.1f}" class="grid-label">{_deg(g, "N", "S")}</text>')
        g += step
    for shape in outline or []:
        parts.append(_path(shape, xy, "outline"))
    for site in sites:
        if site.href:
            parts.append(f'<a href="{escape(site.href)}"><title>{escape(site.label)}</title>')
        for shape in site.shapes:
            if shape.kind == "point":
                for ring in shape.coords:
                    for lon, lat in ring:
                        x, y = xy(lon, lat)
                        parts.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="{radius}" class="site"/>')
            else:
                parts.append(_path(shape, xy, "area" if shape.kind == "polygon" else "track"))
        if site.href:
            parts.append("</a>")
    parts.append("</svg>")
    return mark_safe("".join(parts))  # noqa: S308 (every text escaped above)


def _deg(value: float, pos: str, neg: str) -> str:
    text = f"{abs(value):.2f}".rstrip("0").rstrip(".")
    return f"{text}°{pos if value >= 0 else neg}"


def _path(shape: Shape, xy: Any, css: str) -> str:
    d = []
    for ring in shape.coords:
        if not ring:
            continue
        points = [xy(lon, lat) for lon, lat in ring]
        d.append("M" + " L".join(f"{x:.1f},{y:.1f}" for x, y in points) + (" Z" if shape.kind == "polygon" else ""))
    return f'<path d="{" ".join(d)}" class="{css}" fill-rule="evenodd"/>'
