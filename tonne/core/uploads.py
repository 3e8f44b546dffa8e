"""Uploaded documents (project documents, monitoring and verification
reports, letters of authorisation, KYC records): what is accepted is decided
by the CONTENT, never by the name or the type the browser declared, and what
is served is never run by a browser.

Accepted: PDF, PNG, JPEG, GIF and WebP images, office documents (OOXML with
their main part, without macros; OpenDocument), zip archives, GeoJSON (it must
parse) and plain UTF-8 text that is not markup. Everything else (programs,
HTML, SVG, scripts) is refused with DOCUMENT_TYPE_NOT_ALLOWED; files larger
than TONNE_MAX_DOCUMENT_BYTES with DOCUMENT_TOO_LARGE."""

from __future__ import annotations

import io
import json
import re
import zipfile
from typing import TypeVar

from django.conf import settings
from django.http.response import HttpResponseBase

from tonne.core.errors import ValidationFailed

R = TypeVar("R", bound=HttpResponseBase)

PDF, PNG, JPEG, GIF, WEBP = "application/pdf", "image/png", "image/jpeg", "image/gif", "image/webp"
ZIP, GEOJSON, TEXT = "application/zip", "application/geo+json", "text/plain"
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
PPTX = "application/vnd.openxmlformats-officedocument.presentationml.presentation"
ODF = tuple(f"application/vnd.oasis.opendocument.{k}" for k in ("text", "spreadsheet", "presentation", "graphics"))
ALLOWED = frozenset({PDF, PNG, JPEG, GIF, WEBP, ZIP, GEOJSON, TEXT, DOCX, XLSX, PPTX, *ODF})

OOXML_PARTS = {"word/document.xml": DOCX, "xl/workbook.xml": XLSX, "ppt/presentation.xml": PPTX}
GEOJSON_TYPES = frozenset({"FeatureCollection", "Feature", "Point", "MultiPoint", "LineString", "MultiLineString",
                           "Polygon", "MultiPolygon", "GeometryCollection"})
# Text a browser would take for markup or script, whatever it is served as.
MARKUP = re.compile(rb"^\s*<(!doctype|html|head|body|script|svg|\?xml|iframe|object|embed|meta|!--)", re.IGNORECASE)
MAX_ZIP_MEMBERS = 10_000


def _refused(detail: str) -> ValidationFailed:
    return ValidationFailed("DOCUMENT_TYPE_NOT_ALLOWED", detail + " Accepted: PDF, images (PNG, JPEG, GIF, WebP), "
                            "office documents (Word, Excel, PowerPoint, OpenDocument), zip, GeoJSON and plain text.",
                            field="file")


def _zip_type(content: bytes) -> str:
    try:
        archive = zipfile.ZipFile(io.BytesIO(content))
        names = archive.namelist()
        if len(names) > MAX_ZIP_MEMBERS:
            raise _refused("The archive has too many files.")
        if names and names[0] == "mimetype":
            with archive.open("mimetype") as member:  # read a little: the entry could inflate to anything
                declared = member.read(100).decode("ascii", "replace").strip()
            if declared in ODF:
                return declared
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, NotImplementedError, RuntimeError):
        raise _refused("The file looks like a zip archive but cannot be read.") from None
    if "[Content_Types].xml" in names:
        if any(n.lower().endswith("vbaproject.bin") for n in names):
            raise _refused("Office documents with macros are not accepted.")
        for part, kind in OOXML_PARTS.items():
            if part in names:
                return kind
        raise _refused("The office document lacks its main part.")
    return ZIP


def _text_type(content: bytes) -> str:
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise _refused("The file's type is not recognised.") from None
    if "\x00" in text or MARKUP.match(content.removeprefix(b"\xef\xbb\xbf")):
        raise _refused("HTML, SVG, XML and script are not accepted.")
    stripped = text.lstrip()
    if stripped.startswith("{"):
        try:
            data = json.loads(stripped)
        except ValueError:
            return TEXT
        if isinstance(data, dict) and data.get("type") in GEOJSON_TYPES:
            return GEOJSON
    return TEXT


def content_type_of(content: bytes) -> str:
    """The type found in the content (one of ALLOWED), or DOCUMENT_TYPE_NOT_ALLOWED."""
    head = content[:16]
    if head.startswith(b"%PDF-"):
        return PDF
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return PNG
    if head.startswith(b"\xff\xd8\xff"):
        return JPEG
    if head.startswith((b"GIF87a", b"GIF89a")):
        return GIF
    if head.startswith(b"RIFF") and head[8:12] == b"WEBP":
        return WEBP
    if head.startswith((b"PK\x03\x04", b"PK\x05\x06")):
        return _zip_type(content)
    return _text_type(content)


def check(content: bytes) -> str:
    """Before storing an upload: its size and its type; returns the type to store and serve."""
    if not content:
        raise ValidationFailed("DOCUMENT_EMPTY", "The uploaded file is empty.", field="file")
    if len(content) > settings.TONNE_MAX_DOCUMENT_BYTES:
        raise ValidationFailed(
            "DOCUMENT_TOO_LARGE", f"A document has at most {settings.TONNE_MAX_DOCUMENT_BYTES} bytes.", field="file",
            details={"limit": settings.TONNE_MAX_DOCUMENT_BYTES},
        )
    return content_type_of(content)


def served_type(stored: str) -> str:
    """The type a stored document is served with: one from the allow-list (documents
    stored before the allow-list keep only a download type)."""
    if stored == TEXT:
        return "text/plain; charset=utf-8"
    return stored if stored in ALLOWED else "application/octet-stream"


def harden(response: R) -> R:
    """Headers for a served document: downloaded, never sniffed, never run."""
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    if not str(response.get("Content-Disposition", "")).startswith("attachment"):
        response["Content-Disposition"] = "attachment"
    return response
