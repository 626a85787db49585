"""From a video to labelled expressions: spot, read each interval's frames, classify, report.

    import mesti
    analysis = mesti.analyze("interview.mp4", mesti.load_model("bundle/"))
    analysis.intervals      # onset, apex, offset, type, score, label, probabilities, pictures
    analysis.write("out/")  # intervals.csv/json, timeline.png, report.html

Above spotting and trained-model inference, below the command line.
"""

from mesti.analysis.run import Analysis, analyze, classify_intervals

__all__ = ["Analysis", "analyze", "classify_intervals"]
