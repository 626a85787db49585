"""The modality cache: ``mesti prepare`` computes each clip's images once; training reads them.

Layout: ``CACHE/<modality>/<key>.npy`` (float32 ``H x W x C``), ``CACHE/<modality>/index.json``
and ``CACHE/prepare_report.json``. See :mod:`mesti.cache.keys` for what a key covers.
"""

from mesti.cache.keys import CACHE_FORMAT, FRAME_CHECKS, encoder_fingerprint, entry_key, frames_fingerprint
from mesti.cache.prepare import PrepareReport, default_workers, prepare
from mesti.cache.store import INDEX_NAME, REPORT_NAME, CacheIndex, IndexEntry, entry_ok, read_index

__all__ = [
    "CACHE_FORMAT",
    "FRAME_CHECKS",
    "INDEX_NAME",
    "REPORT_NAME",
    "CacheIndex",
    "IndexEntry",
    "PrepareReport",
    "default_workers",
    "encoder_fingerprint",
    "entry_key",
    "entry_ok",
    "frames_fingerprint",
    "prepare",
    "read_index",
]
