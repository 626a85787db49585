"""Synthetic long videos for spotting: expressions at known frames among blinks, head motion,
flicker and noise, in the SAMM Long Videos layout with its sheet.

    from mesti.synth.long import generate_long_videos
    generate_long_videos("synth_long", subjects=4, fps=30)   # then: create_dataset("samm-long", ...)
"""

from mesti.synth.long.generate import LongSynthResult, LongSynthSettings, generate_long_videos
from mesti.synth.long.plan import LongEvent, LongVideoSpec, plan_long_video
from mesti.synth.long.render import render_long_video

__all__ = ["LongEvent", "LongSynthResult", "LongSynthSettings", "LongVideoSpec", "generate_long_videos", "plan_long_video", "render_long_video"]
