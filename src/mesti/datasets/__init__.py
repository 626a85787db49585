"""Datasets: official sheets and folder layouts turned into uniform clip records."""

from mesti.datasets.base import ClipRecord

__all__ = ["ClipRecord"]
