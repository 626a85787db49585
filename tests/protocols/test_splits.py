from __future__ import annotations

import numpy as np
import pytest

from mesti.errors import MestiError
from mesti.protocols import (
    CrossDataset,
    Fold,
    HoldOut,
    LeaveOneSubjectOut,
    SubjectKFold,
    assert_subject_disjoint,
    create_protocol,
)
from mesti.protocols.splits import subject_keys

SUBJECTS = ["s1"] * 4 + ["s2"] * 3 + ["s3"] * 5 + ["s1"] * 2  # the last two: another dataset's s1
DATASETS = ["a"] * 12 + ["b"] * 2
LABELS = np.array([0, 1, 2, 0, 1, 1, 2, 0, 0, 1, 2, 2, 0, 1])


def test_loso_one_fold_per_subject_and_dataset() -> None:
    folds = LeaveOneSubjectOut().folds(LABELS, SUBJECTS, DATASETS)
    assert [f.name for f in folds] == ["a-s1", "a-s2", "a-s3", "b-s1"]
    tested = np.concatenate([f.test for f in folds])
    assert sorted(tested.tolist()) == list(range(14))  # every sample tested exactly once
    keys = subject_keys(SUBJECTS, DATASETS)
    for f in folds:
        assert_subject_disjoint(f, keys)
        assert len(set(keys[f.test])) == 1


def test_leakage_guard_refuses_a_shared_subject() -> None:
    keys = subject_keys(SUBJECTS, DATASETS)
    bad = Fold("bad", np.array([0, 1, 4]), np.array([2, 3]))
    with pytest.raises(MestiError, match="a/s1 in both train and test"):
        assert_subject_disjoint(bad, keys)
    with pytest.raises(MestiError, match="empty"):
        assert_subject_disjoint(Fold("e", np.array([0]), np.array([], dtype=int)), keys)


def test_kfold_groups_subjects() -> None:
    folds = SubjectKFold(k=2, seed=3).folds(LABELS, SUBJECTS, DATASETS)
    keys = subject_keys(SUBJECTS, DATASETS)
    assert sorted(np.concatenate([f.test for f in folds]).tolist()) == list(range(14))
    for f in folds:
        assert_subject_disjoint(f, keys)
    with pytest.raises(MestiError, match="needs 2..4"):
        SubjectKFold(k=5).folds(LABELS, SUBJECTS, DATASETS)


def test_holdout_subject_disjoint_stratified_and_repeatable() -> None:
    rng = np.random.default_rng(0)
    subjects = [f"s{i // 10}" for i in range(200)]
    labels = rng.integers(0, 3, 200)
    ho = HoldOut(test_fraction=0.1, repeats=3, seed=7)
    folds = ho.folds(labels, subjects, ["x"] * 200)
    again = ho.folds(labels, subjects, ["x"] * 200)
    assert len(folds) == 3 and ho.guarded
    keys = subject_keys(subjects, ["x"] * 200)
    for f, g in zip(folds, again, strict=True):
        np.testing.assert_array_equal(f.test, g.test)
        assert_subject_disjoint(f, keys)
        assert 10 <= len(f.test) <= 30
    assert not np.array_equal(folds[0].test, folds[1].test)


def test_holdout_by_sample_is_stratified_and_says_it_is_not_subject_independent() -> None:
    labels = np.repeat([0, 1, 2], [100, 60, 40])
    ho = HoldOut(test_fraction=0.1, by_subject=False)
    (fold,) = ho.folds(labels, ["s"] * 200, ["x"] * 200)
    assert np.bincount(labels[fold.test]).tolist() == [10, 6, 4]
    assert not ho.guarded and "NOT SUBJECT-INDEPENDENT" in ho.describe().upper()


def test_holdout_test_size_reproduces_the_papers_table1_sets() -> None:
    # The paper's Table I: 26 CASME II test clips (no 10% of 246 gives 26) and 16 of SAMM's 159.
    casme2 = np.repeat([0, 1, 2, 3, 4], [32, 63, 27, 25, 99])
    (fold,) = HoldOut(test_size=26, by_subject=False).folds(casme2, ["s"] * 246, ["x"] * 246)
    assert len(fold.test) == 26 and len(fold.train) == 220
    samm = np.repeat([0, 1, 2, 3, 4], [57, 12, 26, 15, 49])
    (fold,) = HoldOut(test_size=16, by_subject=False).folds(samm, ["s"] * 159, ["x"] * 159)
    assert len(fold.test) == 16 == len(HoldOut(test_fraction=0.1, by_subject=False).folds(samm, ["s"] * 159, ["x"] * 159)[0].test)
    subjects = [f"s{i // 9}" for i in range(246)]
    (fold,) = HoldOut(test_size=26).folds(casme2, subjects, ["x"] * 246)
    assert 18 <= len(fold.test) <= 36  # whole subjects, about 26 clips
    assert "26 test clips" in HoldOut(test_size=26).describe() and HoldOut(test_size=26).config()["test_size"] == 26
    with pytest.raises(MestiError, match="test_size"):
        HoldOut(test_size=300).folds(casme2, subjects, ["x"] * 246)


def test_cross_dataset_and_factory() -> None:
    (fold,) = CrossDataset("a", "b").folds(LABELS, SUBJECTS, DATASETS)
    assert fold.test.tolist() == [12, 13] and len(fold.train) == 12
    with pytest.raises(MestiError, match="no samples of dataset 'c'"):
        CrossDataset("a", "c").folds(LABELS, SUBJECTS, DATASETS)
    assert isinstance(create_protocol("loso"), LeaveOneSubjectOut)
    assert create_protocol("holdout", repeats=2).repeats == 2
    with pytest.raises(MestiError, match="unknown protocol"):
        create_protocol("best-epoch-on-test")
