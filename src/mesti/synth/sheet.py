"""The synthetic coding sheet, laid out cell for cell like CASME2-coding-20140508.xlsx.

Same columns in the same places (the two untitled blank columns included, so pandas names
them ``Unnamed: 2`` and ``Unnamed: 6``), Subject as text ``'01'``, a single AU as a number
and several as ``'6+12'``. The file is byte-for-byte reproducible: openpyxl stamps the save
time into the document properties and every zip entry, and both are pinned here.
"""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Sequence
from datetime import datetime

from openpyxl import Workbook

from mesti.synth.plan import ClipSpec

HEADER = ("Subject", "Filename", None, "OnsetFrame", "ApexFrame", "OffsetFrame", None, "Action Units", "Estimated Emotion")
_FIXED_TIME = datetime(2014, 5, 8, 0, 0, 0)
_ZIP_TIME = (1980, 1, 1, 0, 0, 0)
_W3CDTF = re.compile(rb"(<dcterms:(?:created|modified)[^>]*>)[^<]*(</dcterms:)")


def coding_sheet_bytes(clips: Sequence[ClipSpec]) -> bytes:
    """The ``.xlsx`` bytes of the coding sheet for ``clips`` (sheet order = list order)."""
    wb = Workbook()
    ws = wb.active
    ws.title = "Sheet1"
    ws.append(list(HEADER))
    for c in clips:
        ws.append([f"{c.subject:02d}", c.filename, None, c.onset_frame, c.apex_frame, c.offset_frame, None, c.au_text, c.emotion])
        ws.cell(row=ws.max_row, column=1).number_format = "@"  # text, as the real sheet stores it
    return workbook_bytes(wb)


def workbook_bytes(wb: Workbook) -> bytes:
    """The ``.xlsx`` bytes of ``wb`` with fixed metadata, so a seed always gives the same bytes."""
    wb.properties.creator = "mesti synth"
    wb.properties.lastModifiedBy = "mesti synth"
    wb.properties.created = _FIXED_TIME
    wb.properties.modified = _FIXED_TIME
    buf = io.BytesIO()
    wb.save(buf)
    return _pin_zip(buf.getvalue())


def _pin_zip(data: bytes) -> bytes:
    """Rewrite an xlsx with fixed timestamps (zip entries and document properties)."""
    src = zipfile.ZipFile(io.BytesIO(data))
    stamp = _FIXED_TIME.strftime("%Y-%m-%dT%H:%M:%SZ").encode()
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            payload = src.read(info.filename)
            if info.filename == "docProps/core.xml":
                payload = _W3CDTF.sub(rb"\g<1>" + stamp + rb"\g<2>", payload)
            fixed = zipfile.ZipInfo(info.filename, date_time=_ZIP_TIME)
            fixed.compress_type = zipfile.ZIP_DEFLATED
            fixed.external_attr = 0o600 << 16
            dst.writestr(fixed, payload)
    return out.getvalue()
