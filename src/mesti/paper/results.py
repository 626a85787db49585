"""Every figure the paper reports, shipped as ``mesti/data/paper_results.csv`` (never typed in code).

One row per printed number: ``table, row, dataset, classes, protocol, model, modality,
metric, printed, unit, value, quoted_from, note``. ``printed`` is the text exactly as the
paper prints it; ``unit`` says how (``%`` or ``fraction``); ``value`` is the same number on
0..1. ``quoted_from`` names the study a figure is quoted from (the paper's starred rows,
which its authors did not run), empty for the paper's own runs; ``note`` holds the
sample-count arithmetic.
"""

from __future__ import annotations

import io
from importlib import resources

import pandas as pd

COLUMNS = ("table", "row", "dataset", "classes", "protocol", "model", "modality", "metric", "printed", "unit", "value",
           "quoted_from", "note")
UNITS = ("%", "fraction")


def load_paper_results() -> pd.DataFrame:
    """The shipped table of the paper's figures."""
    text = resources.files("mesti").joinpath("data", "paper_results.csv").read_text(encoding="utf-8")
    df = pd.read_csv(io.StringIO(text), dtype={"printed": str, "unit": str, "quoted_from": str}, keep_default_na=False)
    df["classes"] = df["classes"].astype(int)
    df["value"] = df["value"].astype(float)
    return df
