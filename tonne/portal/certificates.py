"""Retirement certificates as PDF (reportlab), with a QR code (segno, drawn
as vector squares) linking to the public verification of the ledger entry,
and the inclusion proof printed in full so the paper alone can be checked.
Text is set in the fonts Tonne ships (pdf_fonts), embedded, so any name prints."""

from __future__ import annotations

import io
from typing import Any

import segno
from django.utils.formats import date_format, number_format
from django.utils.translation import gettext as _
from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.pdfgen.canvas import Canvas

from tonne.core import training
from tonne.portal import pdf_fonts

INK = (0.106, 0.165, 0.141)
ACCENT = (0.031, 0.298, 0.216)


def _wrap(text: str, style: str, size: float, width: float, *, exact: bool = False) -> list[str]:
    """Split text into lines that fit `width` (long words such as hashes are
    cut). `exact` keeps every character (data to be re-typed, such as the
    ledger entry): lines are cut anywhere and nothing is dropped."""

    def fits(candidate: str) -> bool:
        return pdf_fonts.width(candidate, style, size) <= width

    lines: list[str] = []
    if exact:
        for paragraph in text.split("\n"):
            line, used = "", 0.0
            for ch in paragraph:
                step = pdf_fonts.width(ch, style, size)
                if line and used + step > width:
                    lines.append(line)
                    line, used = "", 0.0
                line, used = line + ch, used + step
            lines.append(line)
        return lines
    for paragraph in text.split("\n"):
        line = ""
        for word in paragraph.split(" "):
            while not fits(word):
                cut = len(word)
                while cut > 1 and not fits(word[:cut]):
                    cut -= 1
                if line:
                    lines.append(line)
                    line = ""
                lines.append(word[:cut])
                word = word[cut:]
            candidate = f"{line} {word}".strip()
            if fits(candidate):
                line = candidate
            else:
                lines.append(line)
                line = word
        lines.append(line)
    return lines


class _Page:
    def __init__(self, canvas: Canvas, watermark: str = "") -> None:
        self.c = canvas
        self.width, self.height = A4
        self.left = 20 * mm
        self.right = self.width - 20 * mm
        self.y = self.height - 22 * mm
        self.watermark = watermark
        self._mark()

    def need(self, space: float) -> None:
        if self.y - space < 20 * mm:
            self.c.showPage()
            self.y = self.height - 22 * mm
            self._mark()

    def _mark(self) -> None:
        """A training sandbox's certificate says so across every page, under the text."""
        if not self.watermark:
            return
        self.c.saveState()
        self.c.setFillColorRGB(0.85, 0.72, 0.2)
        self.c.setFont(pdf_fonts.name("bold"), 40)
        self.c.translate(self.width / 2, self.height / 2)
        self.c.rotate(50)
        for dy in (-90 * mm, 0, 90 * mm):
            self.c.drawCentredString(0, dy, self.watermark)
        self.c.restoreState()

    def text(
        self, text: str, *, font: str = "regular", size: float = 10, width: float | None = None, gap: float = 1.35,
        exact: bool = False,
    ) -> None:
        self.c.setFillColorRGB(*INK)
        if size > 12:
            self.y -= size * 0.4  # room for the ascent of large type
        for line in _wrap(text, font, size, width or (self.right - self.left), exact=exact):
            self.need(size * gap)
            pdf_fonts.draw(self.c, self.left, self.y, line, font, size)
            self.y -= size * gap

    def pair(self, label: str, value: str) -> None:
        self.need(14)
        self.c.setFillColorRGB(0.30, 0.36, 0.33)
        pdf_fonts.draw(self.c, self.left, self.y, label, "regular", 9)
        self.y -= 11
        self.text(value, font="bold", size=11, width=self.right - self.left - 55 * mm)
        self.y -= 3


def _qr(canvas: Canvas, url: str, x: float, y: float, size: float) -> None:
    code = segno.make(url, error="m")
    matrix = code.matrix
    n = len(matrix) + 8  # quiet zone of four modules
    cell = size / n
    canvas.setFillColorRGB(1, 1, 1)
    canvas.rect(x, y, size, size, stroke=0, fill=1)
    canvas.setFillColorRGB(0, 0, 0)
    for r, row in enumerate(matrix):
        for col, dark in enumerate(row):
            if dark:
                canvas.rect(x + (col + 4) * cell, y + size - (r + 5) * cell, cell, cell, stroke=0, fill=1)


def certificate_pdf(ctx: dict[str, Any]) -> bytes:
    txn = ctx["txn"]
    out = io.BytesIO()
    canvas = Canvas(out, pagesize=A4, pageCompression=1, initialFontName=pdf_fonts.name("regular"))
    canvas.setTitle(_("Retirement certificate %(id)s") % {"id": txn.identifier})
    canvas.setAuthor(ctx["registry_name"])
    page = _Page(canvas, _("TRAINING — NOT A REAL RETIREMENT") if training.is_training() else "")

    canvas.setFillColorRGB(*ACCENT)
    canvas.rect(0, page.height - 12 * mm, page.width, 12 * mm, stroke=0, fill=1)
    page.text(ctx["registry_name"], size=10)
    page.y -= 4
    page.text(_("Retirement certificate"), font="bold", size=22)
    page.y -= 4
    qty = number_format(txn.quantity, force_grouping=True)
    page.text(_("%(n)s units retired (tonnes of CO2 equivalent)") % {"n": qty}, font="bold", size=14)
    page.y -= 8
    top = page.y
    if ctx["verify_url"]:
        _qr(canvas, ctx["verify_url"], page.right - 48 * mm, top - 48 * mm, 48 * mm)
    page.pair(_("Beneficiary"), txn.beneficiary)
    page.pair(_("Purpose"), ctx["purpose"] + (f" ({txn.jurisdiction})" if txn.jurisdiction else ""))
    for label, value in ((_("Compliance period"), txn.compliance_period), (_("Using entity"), txn.using_entity),
                         (_("On behalf of"), txn.on_behalf_of), (_("Note"), txn.reason)):
        if value:
            page.pair(label, value)
    for project in ctx["projects"]:
        page.pair(_("Project"), f"{project['project_id']} {project['name']}")
        page.pair(_("Country"), f"{project['country']} ({project['host_party']})")
        page.pair(_("Methodology"), "; ".join(project["methodologies"]) or _("not recorded"))
    page.pair(_("Retired on"), date_format(txn.completed_at, "DATETIME_FORMAT") + " UTC")
    page.pair(_("Transaction"), txn.identifier)
    if txn.ledger_seq is not None:
        page.pair(_("Ledger entry"), str(txn.ledger_seq))
    page.y = min(page.y, top - 52 * mm)
    if ctx["verify_url"]:
        page.text(_("Public verification: %(url)s") % {"url": ctx["verify_url"]}, size=9)
    page.y -= 6
    page.text(_("Serial numbers retired"), font="bold", size=13)
    for block in ctx["blocks"]:
        page.text(
            f"{block['serial']}  —  {number_format(block['quantity'], force_grouping=True)}  ({block['project_id']}, {block['vintage']})",
            font="mono",
            size=9,
        )
    page.y -= 8

    proof = ctx["proof"]
    bundle = proof.get("bundle")
    page.text(_("Proof in the ledger"), font="bold", size=13)
    if bundle and proof.get("verified"):
        page.text(
            _(
                "The registry verified, when this certificate was produced, that ledger entry %(seq)s is included in "
                "the ledger of %(size)s entries committed to by the signed checkpoint below. To check it offline, "
                "put the fields below in a file proof.json (long lines are cut without adding or dropping any "
                "character; or download the file from the verification page) and run: "
                "tonne ledger proof verify proof.json --key-file key.txt"
            )
            % {"seq": bundle["seq"], "size": number_format(bundle["tree_size"], force_grouping=True)},
            size=9,
        )
        page.y -= 4
        for label, value in (
            ("format", bundle["format"]),
            ("seq", str(bundle["seq"])),
            ("tree_size", str(bundle["tree_size"])),
            ("leaf_hash", bundle["leaf_hash"]),
            ("proof", "\n".join(bundle["proof"]) or "[]"),
            ("checkpoint", bundle["checkpoint"]),
            ("verifier_key", bundle["verifier_key"]),
            ("entry", bundle["entry"]),
        ):
            page.text(label, font="bold", size=8)
            page.text(value, font="mono", size=7, gap=1.25, exact=True)
    elif bundle:
        page.text(_("The proof did not verify:") + f" {proof.get('code')}", size=10)
    else:
        page.text(
            _(
                "This entry is newer than the latest signed checkpoint; its proof will be available once the next "
                "checkpoint is signed (within minutes)."
            ),
            size=10,
        )
    canvas.showPage()
    canvas.save()
    return out.getvalue()
