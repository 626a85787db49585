"""The adapter list: explicit, and each adapter loads alone."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from mesti.datasets.registry import dataset_summary, list_datasets

_PROBE = """
import json, sys
from mesti.datasets.registry import create_dataset
records = create_dataset("casme2", sys.argv[1], sheet=sys.argv[2]).records()
print(json.dumps({"records": len(records), "modules": sorted(m for m in sys.modules if m.startswith("mesti."))}))
"""


def test_choosing_casme2_imports_no_other_adapter_and_no_generator(tmp_path: Path, casme2_sheet: Path) -> None:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
    out = subprocess.run([sys.executable, "-c", _PROBE, str(tmp_path), str(casme2_sheet)],
                         capture_output=True, text=True, env=env, check=True, timeout=120)
    probe = json.loads(out.stdout.strip().splitlines()[-1])
    assert probe["records"] == 255
    modules = set(probe["modules"])
    assert "mesti.datasets.casme2" in modules
    for other in ("mesti.synth", "mesti.datasets.samm", "mesti.datasets.smic", "mesti.datasets.composite",
                  "mesti.datasets.manifest", "mesti.cache", "mesti.engine", "mesti.models"):
        assert other not in modules, f"{other} was imported"


def test_every_listed_adapter_loads_and_describes_itself() -> None:
    names = list_datasets()
    assert names == ["casme-sq", "casme2", "casme3", "composite", "folder", "images", "long-manifest", "samm", "samm-long", "smic"]
    assert list_datasets("s*") == ["samm", "samm-long", "smic"]
    for name in names:
        assert dataset_summary(name)  # importing the listed module registered the name
