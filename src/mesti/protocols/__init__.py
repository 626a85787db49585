"""Evaluation protocols as objects: each owns how samples split into folds.

A study is "protocol x config": the engine asks a protocol for folds and never decides a
split itself. Every fold passes :func:`assert_subject_disjoint` before training.
"""

from mesti.protocols.splits import (
    CrossDataset,
    Fold,
    HoldOut,
    LeaveOneSubjectOut,
    Protocol,
    SubjectKFold,
    assert_samples_disjoint,
    assert_subject_disjoint,
    create_protocol,
    protocol_from_config,
)

__all__ = [
    "CrossDataset",
    "Fold",
    "HoldOut",
    "LeaveOneSubjectOut",
    "Protocol",
    "SubjectKFold",
    "assert_samples_disjoint",
    "assert_subject_disjoint",
    "create_protocol",
    "protocol_from_config",
]
