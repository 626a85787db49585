"""The MEGC 2019 composite list: which clips, which label, pinned rather than re-derived.

Deriving the composite from the sheets gives 147 CASME II clips instead of the benchmark's
145, so the benchmark is defined by its published list (shipped as package data) and the
adapters compare the sheets against it.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from mesti.errors import MestiError

#: The 3 MEGC 2019 classes in the list's label order (0 negative, 1 positive, 2 surprise).
MEGC_CLASSES: tuple[str, ...] = ("negative", "positive", "surprise")
#: The package's copy of ``megc2019_composite_442.csv``.
PINNED_LIST = "megc2019_composite_442.csv"
COLUMNS = ("dataset", "sub", "filename_o", "label")

_SMIC_CLIP = re.compile(r"^s0*(\d+)_(ne|po|sur)_0*(\d+)$", re.IGNORECASE)
_DIGITS = re.compile(r"\d+")


@dataclass(frozen=True)
class MegcEntry:
    """One row of the list: ``dataset`` (casme2, samm, smic), subject and clip as MEGC writes them."""

    dataset: str
    subject: str
    clip: str
    label: str
    line: int

    @property
    def match_key(self) -> tuple[str, int, str]:
        """What identifies the clip in any spelling of its dataset's names (see :func:`match_key`)."""
        return match_key(self.dataset, self.subject, self.clip)


def match_key(dataset: str, subject: str, clip: str) -> tuple[str, int, str]:
    """A clip's identity across spellings: subject as a number, SMIC clip names unpadded.

    The list writes ``sub01``, ``006`` and SMIC's ``s01``/``s01_ne_01``, while the SMIC release
    names its folders ``s1``/``s1_ne_01``; numbers compare equal whatever their padding.
    """
    digits = _DIGITS.findall(subject)
    number = int(digits[-1]) if digits else -1
    m = _SMIC_CLIP.match(clip.strip()) if dataset == "smic" else None
    if m:
        clip = f"s{int(m[1])}_{m[2].lower()}_{int(m[3])}"
    return dataset, number, clip.strip()


def smic_release_name(subject_number: int, emotion_code: str, index: int) -> str:
    """SMIC-HS's own spelling of a clip folder: ``s3_po_11``, ``s1_ne_01``."""
    return f"s{subject_number}_{emotion_code}_{index:02d}"


def parse_smic_clip(name: str) -> tuple[int, str, int] | None:
    """``'s3_po_11'`` or ``'s03_po_11'`` -> ``(3, 'po', 11)``; ``None`` for any other name."""
    m = _SMIC_CLIP.match(name.strip())
    return (int(m[1]), m[2].lower(), int(m[3])) if m else None


def load_megc_list(path: str | Path | None = None) -> list[MegcEntry]:
    """The composite list's rows in file order: the shipped copy, or the CSV at ``path``."""
    if path is None:
        text = resources.files("mesti").joinpath("data", PINNED_LIST).read_text(encoding="utf-8")
        where = f"mesti/data/{PINNED_LIST}"
    else:
        try:
            text = Path(path).read_text(encoding="utf-8-sig")
        except OSError as exc:
            raise MestiError(path, f"cannot read the composite list ({exc.strerror})") from None
        where = str(path)
    reader = csv.DictReader(io.StringIO(text))
    missing = [c for c in COLUMNS if c not in (reader.fieldnames or [])]
    if missing:
        raise MestiError(where, f"not a MEGC composite list: missing column(s) {', '.join(missing)}")
    entries = []
    for line, row in enumerate(reader, start=2):
        dataset, label = row["dataset"].strip().lower(), row["label"].strip()
        if dataset not in ("casme2", "samm", "smic"):
            raise MestiError(f"{where} line {line}", f"unknown dataset {row['dataset']!r} (casme2, samm or smic)")
        if label not in ("0", "1", "2"):
            raise MestiError(f"{where} line {line}", f"label {row['label']!r} is not 0, 1 or 2")
        entries.append(MegcEntry(dataset, row["sub"].strip(), row["filename_o"].strip(), MEGC_CLASSES[int(label)], line))
    return entries
