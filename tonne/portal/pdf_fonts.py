"""The certificate's fonts, shipped with Tonne (tonne/portal/fonts, licences
beside them): DejaVu Sans for most scripts and Droid Sans Fallback for
Chinese, Japanese and Korean. A text is drawn in runs, each character in the
first font that has it, so "Société — Łódź & 北京" prints whole; reportlab
embeds only the glyphs used, so a certificate stays small."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen.canvas import Canvas

FONTS = Path(__file__).resolve().parent / "fonts"
STYLES = {"regular": "DejaVuSans", "bold": "DejaVuSans-Bold", "mono": "DejaVuSansMono"}
FALLBACK = "DroidSansFallbackFull"


@cache
def _font(name: str) -> frozenset[int]:
    """Register a shipped font once per process; its characters."""
    font = TTFont(f"Tonne-{name}", str(FONTS / f"{name}.ttf"))
    pdfmetrics.registerFont(font)
    return frozenset(font.face.charToGlyph)


def name(style: str) -> str:
    """The registered name of a style's main font (for the canvas's initial font)."""
    _font(STYLES[style])
    return f"Tonne-{STYLES[style]}"


def runs(text: str, style: str) -> list[tuple[str, str]]:
    """(font name, text) pieces, each drawable in its font."""
    primary = STYLES[style]
    chars = _font(primary)
    pieces: list[tuple[str, str]] = []
    for ch in text:
        name = primary
        if ord(ch) not in chars and not ch.isspace() and ord(ch) in _font(FALLBACK):
            name = FALLBACK
        font = f"Tonne-{name}"
        if pieces and pieces[-1][0] == font:
            pieces[-1] = (font, pieces[-1][1] + ch)
        else:
            pieces.append((font, ch))
    return pieces


def width(text: str, style: str, size: float) -> float:
    return sum(pdfmetrics.stringWidth(piece, font, size) for font, piece in runs(text, style))


def draw(canvas: Canvas, x: float, y: float, text: str, style: str, size: float) -> None:
    for font, piece in runs(text, style):
        canvas.setFont(font, size)
        canvas.drawString(x, y, piece)
        x += pdfmetrics.stringWidth(piece, font, size)
