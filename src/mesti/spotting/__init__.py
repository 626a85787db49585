"""Spotting: find micro- and macro-expressions in long videos, and evaluate it the MEGC way.

    from mesti.clips.stream import open_stream
    from mesti.spotting import create_spotter, evaluate_spotting
    result = create_spotter("flow").spot(open_stream("interview.mp4"))
    result.intervals          # [Interval(onset, apex, offset, kind, score), ...] 0-based frames
"""

from mesti.spotting.evaluate import Counts, SpotEvaluation, evaluate_spotting, iou, match
from mesti.spotting.registry import create_spotter, list_spotters, register_spotter, spotter_summary
from mesti.spotting.result import SpotResult

__all__ = [
    "Counts",
    "SpotEvaluation",
    "SpotResult",
    "create_spotter",
    "evaluate_spotting",
    "iou",
    "list_spotters",
    "match",
    "register_spotter",
    "spotter_summary",
]
