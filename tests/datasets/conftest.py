"""The official sheets as fixtures (skipped with a reason where they are absent)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.datasets.builders import CASME2_SHEET, SAMM_SHEET, SMIC_E_SHEET, annotation, shipped_composite_list


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
    """The shipped copy (identical to the official list; a test checks that where both exist)."""
    return shipped_composite_list()
