"""The official sheets as fixtures (skipped with a reason where they are absent)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.datasets.builders import CASME2_SHEET, COMPOSITE_LIST, SAMM_SHEET, SMIC_E_SHEET, annotation


@pytest.fixture(scope="session")
def samm_sheet() -> Path:
    return annotation(SAMM_SHEET)


@pytest.fixture(scope="session")
def casme2_sheet() -> Path:
    return annotation(CASME2_SHEET)


@pytest.fixture(scope="session")
def smic_e_sheet() -> Path:
    return annotation(SMIC_E_SHEET)


@pytest.fixture(scope="session")
def composite_list() -> Path:
    return annotation(COMPOSITE_LIST)
