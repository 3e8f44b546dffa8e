"""Builds tonne/portal/geo/countries-110m.json, the country outlines drawn
under project maps, from Natural Earth's 1:110m Admin 0 countries as
TopoJSON (countries-110m.json of the npm package world-atlas) and the ISO
3166-1 table of Debian's iso-codes (numeric code -> alpha-2).

    npm pack world-atlas && tar xzf world-atlas-*.tgz
    python scripts/build_country_outlines.py package/countries-110m.json

Arcs are decoded (delta-encoded, quantized), rings stitched, and
coordinates rounded to 0.01 degree (about 1 km, below the 1:110m detail).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

OUT = Path(__file__).resolve().parent.parent / "tonne" / "portal" / "geo" / "countries-110m.json"
ISO = "/usr/share/iso-codes/json/iso_3166-1.json"


def decode_arcs(topology: dict) -> list[list[tuple[float, float]]]:
    (sx, sy), (tx, ty) = topology["transform"]["scale"], topology["transform"]["translate"]
    arcs = []
    for arc in topology["arcs"]:
        x = y = 0
        points = []
        for dx, dy in arc:
            x, y = x + dx, y + dy
            points.append((round(x * sx + tx, 2), round(y * sy + ty, 2)))
        arcs.append(points)
    return arcs


def ring(indexes: list[int], arcs: list[list[tuple[float, float]]]) -> list[list[float]]:
    out: list[tuple[float, float]] = []
    for i in indexes:
        points = arcs[i] if i >= 0 else arcs[~i][::-1]
        out.extend(points[1:] if out else points)
    # Drop repeats left by the rounding.
    return [list(p) for k, p in enumerate(out) if k == 0 or p != out[k - 1]]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("topojson")
    args = parser.parse_args()
    topology = json.loads(Path(args.topojson).read_text())
    arcs = decode_arcs(topology)
    alpha2 = {c["numeric"]: c["alpha_2"] for c in json.loads(Path(ISO).read_text())["3166-1"]}
    countries = {}
    for geometry in topology["objects"]["countries"]["geometries"]:
        code = alpha2.get(str(geometry.get("id", "")))
        if not code:  # Kosovo, Northern Cyprus, Somaliland: no ISO code
            continue
        polygons = geometry["arcs"] if geometry["type"] == "MultiPolygon" else [geometry["arcs"]]
        rings = [[ring(r, arcs) for r in polygon] for polygon in polygons]
        points = [p for polygon in rings for r in polygon for p in r]
        lons, lats = [p[0] for p in points], [p[1] for p in points]
        countries[code] = {
            "name": geometry["properties"]["name"],
            "bbox": [min(lons), min(lats), max(lons), max(lats)],
            "polygons": rings,
        }
    OUT.write_text(
        json.dumps(
            {
                "source": "Natural Earth 1:110m Admin 0 countries (public domain), via world-atlas 2.0.2 "
                "countries-110m.json; see README.md",
                "countries": dict(sorted(countries.items())),
            },
            ensure_ascii=False,
            separators=(",", ":"),
        )
    )
    print(f"wrote {OUT}: {len(countries)} countries, {OUT.stat().st_size:,} bytes")


if __name__ == "__main__":
    main()
