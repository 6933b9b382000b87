"""The demo's gated white paper, written as a small PDF by hand so no PDF library is needed."""

from __future__ import annotations

TITLE = "The CFO's guide to closing the books faster"
AUTHOR = "Closewise"

# (font, size, x, y, text); F1 is Helvetica-Bold, F2 Helvetica. A US Letter page, 612 x 792.
_PAGES: tuple[tuple[tuple[str, int, int, int, str], ...], ...] = (
    (
        ("F2", 12, 72, 730, "A Closewise white paper"),
        ("F1", 30, 72, 640, "The CFO's guide to"),
        ("F1", 30, 72, 600, "closing the books faster"),
        ("F2", 14, 72, 550, "Five habits of finance teams that close in five days,"),
        ("F2", 14, 72, 530, "and how to get there without weekend work."),
        ("F2", 10, 72, 72, "closewise.example"),
    ),
    (
        ("F1", 18, 72, 720, "1. Close continuously, not at month-end"),
        (
            "F2",
            11,
            72,
            696,
            "Reconcile the bank and the sub-ledgers daily; month-end becomes a review.",
        ),
        ("F1", 18, 72, 650, "2. Agree materiality before the close starts"),
        (
            "F2",
            11,
            72,
            626,
            "Decide up front which differences are worth chasing, and stop chasing the rest.",
        ),
        ("F1", 18, 72, 580, "3. One calendar, one owner per task"),
        (
            "F2",
            11,
            72,
            556,
            "Every task has a name beside it and a day it is due; late tasks are visible.",
        ),
        ("F1", 18, 72, 510, "4. Settle intercompany before day one"),
        (
            "F2",
            11,
            72,
            486,
            "Match and settle intercompany balances in the last week of the month.",
        ),
        ("F1", 18, 72, 440, "5. Give the auditors the trail, not a folder"),
        (
            "F2",
            11,
            72,
            416,
            "Evidence attached to each reconciliation ends the same question asked twice.",
        ),
    ),
)


def _escape(text: str) -> bytes:
    return text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)").encode("latin-1")


def _content(lines: tuple[tuple[str, int, int, int, str], ...]) -> bytes:
    ops = [b"BT"]
    for font, size, x, y, text in lines:
        ops.append(
            b"/%s %d Tf 1 0 0 1 %d %d Tm (%s) Tj" % (font.encode(), size, x, y, _escape(text))
        )
    ops.append(b"ET")
    return b"\n".join(ops)


def white_paper_pdf() -> bytes:
    """A valid two-page PDF (cross-reference table with exact offsets); same bytes every time."""
    page_count = len(_PAGES)
    first_page = 6  # objects 1-5: catalog, pages, two fonts, info
    kids = b" ".join(b"%d 0 R" % (first_page + 2 * i) for i in range(page_count))
    objects: list[bytes] = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [%s] /Count %d >>" % (kids, page_count),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica-Bold /Encoding /WinAnsiEncoding >>",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>",
        b"<< /Title (%s) /Author (%s) >>" % (_escape(TITLE), _escape(AUTHOR)),
    ]
    for i, lines in enumerate(_PAGES):
        contents = first_page + 2 * i + 1
        objects.append(
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] "
            b"/Resources << /Font << /F1 3 0 R /F2 4 0 R >> >> /Contents %d 0 R >>" % contents
        )
        stream = _content(lines)
        objects.append(b"<< /Length %d >>\nstream\n%s\nendstream" % (len(stream), stream))

    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref_at = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    for offset in offsets:
        out += b"%010d 00000 n \n" % offset
    out += b"trailer\n<< /Size %d /Root 1 0 R /Info 5 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        xref_at,
    )
    return bytes(out)
