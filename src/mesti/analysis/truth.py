"""Ground truth for one analysed video and the spot-then-recognise score against it.

``--truth`` is either a SAMM long-video sheet (``.xlsx``, read by the ``samm-long`` adapter
with the video's folder beside it) or an interval CSV with columns video, onset, apex,
offset, type and label (0-based frames, what ``mesti spot`` writes plus ``label``). The file
must name the analysed video and give each of its expressions a class: a file without a row
for it would score the video against no expression, and one without labels would score
recognition against nothing; both are refused.
A truth label is the class of the expression: a class of the model as it is, or an
emotion that the MEGC 3-class mapping takes to one (disgust -> negative, ...); a label with
no class of the model (``others``) stays as written and so counts as misrecognised.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from mesti.clips.intervals import Interval
from mesti.datasets.casme2 import MEGC2019_3CLASS
from mesti.datasets.long import settle_intervals
from mesti.datasets.samm import MEGC2019_3CLASS as SAMM_3CLASS
from mesti.errors import MestiError
from mesti.reports.strs import STRSResult, strs
from mesti.spotting.evaluate import match_by_type
from mesti.spotting.output import read_interval_rows, video_key


def truth_class(label: str, classes: Sequence[str]) -> str:
    """The model's class for a truth label (itself, or its MEGC 3-class group), else the label."""
    text = label.strip().lower()
    by_lower = {c.lower(): c for c in classes}
    if text in by_lower:
        return by_lower[text]
    mapped = MEGC2019_3CLASS.get(text) or SAMM_3CLASS.get(text)
    return by_lower.get(mapped or "", label.strip())


def check_truth_file(path: str | Path) -> Path:
    """``path`` if it can be a truth file (it exists, a .xlsx sheet or a .csv): checked before
    any spotting, so a typo is not refused after the work."""
    path = Path(path)
    if not path.is_file():
        raise MestiError(path, "no such truth file (a SAMM long-video .xlsx sheet or an interval .csv)")
    if path.suffix.lower() not in (".xlsx", ".csv"):
        raise MestiError(path, "a truth file is a SAMM long-video sheet (.xlsx) or an interval CSV (.csv)")
    return path


def read_truth(path: str | Path, video: str | Path, fps: float, frames: int) -> tuple[list[Interval], list[str]]:
    """The true intervals of ``video`` (0-based frames) in the sheet or CSV ``path``, and notes."""
    path = check_truth_file(path)
    key = video_key(video)
    if path.suffix.lower() == ".xlsx":
        from mesti.datasets.samm_long import SAMMLong

        adapter = SAMMLong(path.parent, sheet=path, fps=fps)
        lost = [v for v in adapter.missing_videos if v.video_id == key]
        if lost:
            raise MestiError(path, f"the sheet names video {key}, but {lost[0].missing}: its frames beside the sheet "
                                   "number the sheet's frames")
        found = [v for v in adapter.videos() if v.video_id == key]
        if not found:
            raise MestiError(path, f"no row for video {key}: it would be scored against no expression "
                                   "(give the truth file of this video)")
        unlabelled = [iv for iv in found[0].intervals if not iv.label.strip()]
        if unlabelled:
            raise MestiError(path, f"{len(unlabelled)} expression(s) of video {key} have no class in the Notes column "
                                   f"(first at frames {unlabelled[0].onset}-{unlabelled[0].offset}): recognition cannot be scored")
        return list(found[0].intervals), [n for n in adapter.issues if key in n]
    if path.suffix.lower() != ".csv":
        raise MestiError(path, "a truth file is a SAMM long-video sheet (.xlsx) or an interval CSV (.csv)")
    rows = read_interval_rows(path, required=("label",))
    if key not in rows:
        named = ", ".join(sorted(rows)[:5]) or "none"
        raise MestiError(path, f"no row for video {key} (the file names {named}): it would be scored against no "
                               "expression (give the truth file of this video)")
    for iv, where in rows[key]:
        if not iv.label.strip():
            raise MestiError(where, f"no label: the class of each true expression of video {key} is needed to score recognition")
    return settle_intervals(rows[key], frames, key, strict=True)


def class_overlap_note(truth: Sequence[Interval], classes: Sequence[str]) -> str | None:
    """A note when no true expression's class is a class of the model: recognition F1 is then
    0 whatever the model predicts, which must not pass for a measured figure."""
    labels = sorted({truth_class(iv.label, classes) for iv in truth})
    if not labels or set(labels) & set(classes):
        return None
    return (f"none of the truth's classes ({', '.join(labels)}) is a class of the model ({', '.join(classes)}): "
            "recognition F1 is 0 whatever the model predicts (a model for these classes, or labels in its classes, "
            "is needed for a meaningful figure)")


def score_video(spotted: Sequence[Interval], predicted: Sequence[str], truth: Sequence[Interval],
                classes: Sequence[str]) -> tuple[STRSResult, list[tuple[int, int]]]:
    """STRS of one video's spotted intervals (with their predicted classes) against ``truth``,
    and the matched ``(spotted, truth)`` index pairs."""
    pairs = match_by_type(spotted, truth)
    return strs_from(len(spotted), len(truth), [(truth_class(truth[j].label, classes), predicted[i]) for i, j in pairs]), pairs


def strs_from(n_spotted: int, n_truth: int, matched: Sequence[tuple[str, str]]) -> STRSResult:
    """STRS from pooled counts and the (true class, predicted class) of every matched interval."""
    tp = len(matched)
    return strs(tp, n_spotted - tp, n_truth - tp, [t for t, _ in matched], [p for _, p in matched])
