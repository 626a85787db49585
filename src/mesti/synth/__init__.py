"""A synthetic micro-expression dataset in the CASME II layout.

Real and procedural faces, one identity per subject; action units as small, smooth,
landmark-anchored skin displacements (0.3-2 px at 224 px face width) that rise and decay
over 20-100 frames at 200 fps; head drift, blinks, flicker, sensor noise and JPEG on top.
Labels live only in the motion, never in a single frame's appearance: the set is what the
tests and the demo run on when the licensed datasets are not at hand.

    from mesti.synth import generate_dataset
    generate_dataset("synth", subjects=16, seed=0)   # then: create_dataset("casme2", "synth")
"""

from mesti.synth.action_units import ACTION_UNITS, EMOTION_AUS, au_field, au_region
from mesti.synth.faces import Face, available_photos
from mesti.synth.identity import make_face
from mesti.synth.generate import SynthResult, SynthSettings, generate_dataset
from mesti.synth.plan import AUEvent, ClipSpec, DatasetPlan, Nuisance, SubjectSpec, plan_dataset
from mesti.synth.render import FaceRig, render_clip

__all__ = [
    "ACTION_UNITS",
    "EMOTION_AUS",
    "AUEvent",
    "ClipSpec",
    "DatasetPlan",
    "Face",
    "FaceRig",
    "Nuisance",
    "SubjectSpec",
    "SynthResult",
    "SynthSettings",
    "au_field",
    "au_region",
    "available_photos",
    "generate_dataset",
    "make_face",
    "plan_dataset",
    "render_clip",
]
