"""The synthetic long videos' sheet, in the layout of ``SAMM_LongVideos_V3_Release.xlsx``.

A 10-row preamble, then the header row Subject, Filename, Inducement Code, Onset, Apex,
Offset, Duration, Type, Action Units, Notes; one row per expression, 1-based frame numbers,
Filename ``<subject>_<inducement>_<n>``, Type ``Micro - 1/2`` or ``Macro``.
"""

from __future__ import annotations

from collections.abc import Sequence

from openpyxl import Workbook

from mesti.synth.action_units import au_code
from mesti.synth.long.plan import LongVideoSpec
from mesti.synth.sheet import workbook_bytes

SHEET_FILE = "SAMM_LongVideos_V3_Release.xlsx"
PREAMBLE_ROWS = 10
HEADER = ("Subject", "Filename", "Inducement Code", "Onset", "Apex", "Offset", "Duration", "Type",
          "Action Units", "Notes")


def long_sheet_bytes(videos: Sequence[LongVideoSpec]) -> bytes:
    """The ``.xlsx`` bytes (reproducible) listing every expression of ``videos``."""
    wb = Workbook()
    ws = wb.active
    ws.title = "FACS_Movement_Only"
    ws.append(["SAMM Long Videos (synthetic, written by mesti synth --long)"])
    ws.append(["Frame numbers are 1-based; Type is Micro - 1/2 or Macro; Duration in frames."])
    for _ in range(PREAMBLE_ROWS - 2):
        ws.append([])
    ws.append(list(HEADER))
    for v in videos:
        inducement = v.video.split("_")[1]
        for n, e in enumerate(v.events, start=1):
            kind = "Micro - 1/2" if e.kind == "micro" else "Macro"
            aus = au_code(tuple(au for au, _ in e.aus))
            ws.append([v.subject, f"{v.video}_{n}", int(inducement), e.onset + 1, e.apex + 1, e.offset + 1,
                       e.offset - e.onset + 1, kind, aus, e.emotion])
            ws.cell(row=ws.max_row, column=1).number_format = "@"
    return workbook_bytes(wb)
