"""A run directory's ``config.yaml``: the one file schema of a run's settings, with a version.

Every reader of a run folder (a resume, a grid skipping finished cells, ``mesti train
--estimate``) goes through :func:`read_run_config`, so the layout is checked in one place.
Version 1 (written before the version key existed) has the same layout and is read as it
is; a version this mesti does not know is refused in one line naming the file.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from mesti.errors import MestiError
from mesti.utils.yamlfile import read_yaml

#: The layout written now. 1: the same keys without ``config_version`` (read as they are).
CONFIG_VERSION = 2
VERSION_KEY = "config_version"
#: What every version holds (a run's model, protocol, classes and training recipe).
_REQUIRED = ("model", "protocol", "classes", "training")


def run_config_text(config: dict[str, Any]) -> str:
    """``config`` as the YAML text of ``config.yaml``, with the version first."""
    data = {VERSION_KEY: CONFIG_VERSION, **{k: v for k, v in config.items() if k != VERSION_KEY}}
    return yaml.safe_dump(data, sort_keys=False, default_flow_style=False)


def read_run_config(path: str | Path) -> dict[str, Any]:
    """The settings of ``path`` (a run's ``config.yaml``) in the current layout, or a one-line
    :class:`MestiError` naming the file and its version."""
    path = Path(path)
    data = read_yaml(path)
    if not isinstance(data, dict):
        raise MestiError(path, "not a run configuration (a YAML mapping is expected)")
    version = data.get(VERSION_KEY, 1)
    if version not in (1, CONFIG_VERSION) or isinstance(version, bool):
        raise MestiError(path, f"config version {version!r} is not one this mesti reads (versions 1 to {CONFIG_VERSION}); "
                               "read it with the mesti that wrote it (mesti_version in the file)")
    missing = [k for k in _REQUIRED if k not in data]
    seeds_record = "study" in data and len(missing) == len(_REQUIRED)  # a study over seeds records its spec alone
    if missing and not seeds_record:
        raise MestiError(path, f"config version {version} lacks {', '.join(missing)}: not a run this mesti can read; "
                               "run it again into another --out")
    return {VERSION_KEY: CONFIG_VERSION, **{k: v for k, v in data.items() if k != VERSION_KEY}}
