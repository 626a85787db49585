"""LOSO, subject-wise k-fold, stratified hold-out and cross-dataset splits.

Subjects are identified by ``dataset/subject`` so that CASME II's ``sub01`` and another
dataset's ``sub01`` are different people in a composite.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field, is_dataclass

import numpy as np

from mesti.errors import MestiError
from mesti.utils.ranges import SEED, check_number
from mesti.utils.registry import Registry
from mesti.utils.schema import check_types


@dataclass(frozen=True)
class Fold:
    """One train/test split by sample index. ``name`` is stable: resume finds folds by it."""

    name: str
    train: np.ndarray
    test: np.ndarray
    info: dict[str, object] = field(default_factory=dict)


def subject_keys(subjects: Sequence[str], datasets: Sequence[str] | None = None) -> np.ndarray:
    """``dataset/subject`` per sample (just the subject when no dataset is given)."""
    if datasets is None:
        return np.asarray([str(s) for s in subjects])
    return np.asarray([f"{d}/{s}" for d, s in zip(datasets, subjects, strict=True)])


def assert_subject_disjoint(fold: Fold, keys: np.ndarray) -> None:
    """Refuse a fold whose test subjects also appear in training: the leakage guard."""
    shared = set(keys[fold.train]) & set(keys[fold.test])
    if shared:
        raise MestiError(f"fold {fold.name}", f"subject(s) {', '.join(sorted(shared))} in both train and test")
    if len(fold.test) == 0 or len(fold.train) == 0:
        raise MestiError(f"fold {fold.name}", "an empty train or test set")


def assert_samples_disjoint(fold: Fold, identities: Sequence[str], names: Sequence[str]) -> None:
    """Refuse a fold that tests on a sample it also trains on: one clip listed twice (under two
    subjects, or two names) passes the subject check but leaks. ``identities`` are content
    fingerprints, so a copy is caught whatever it is called; ``names`` say which samples."""
    train = {identities[i]: int(i) for i in fold.train}
    for j in fold.test:
        i = train.get(identities[j])
        if i is not None:
            raise MestiError(f"fold {fold.name}", f"test sample {names[j]} is identical to training sample {names[i]}: "
                             "one clip listed twice; remove the duplicate row")


class Protocol:
    """Base: ``folds(labels, subjects, datasets)`` returns the splits; ``describe()`` the words
    every reported number carries."""

    name = "protocol"

    def folds(self, labels: np.ndarray, subjects: Sequence[str], datasets: Sequence[str]) -> list[Fold]:
        raise NotImplementedError

    @property
    def guarded(self) -> bool:
        """Whether :func:`assert_subject_disjoint` must hold for every fold (True but for a
        by-sample hold-out, which states that it is not subject-independent)."""
        return True

    def describe(self) -> str:
        return self.name

    def config(self) -> dict[str, object]:
        return {"name": self.name}


class LeaveOneSubjectOut(Protocol):
    """One fold per subject; every clip of that subject is tested and none trained on."""

    name = "loso"

    def folds(self, labels: np.ndarray, subjects: Sequence[str], datasets: Sequence[str]) -> list[Fold]:
        keys = subject_keys(subjects, datasets)
        idx = np.arange(len(keys))
        out = []
        for k in sorted(set(keys)):
            test = idx[keys == k]
            out.append(Fold(k.replace("/", "-"), idx[keys != k], test, {"test_subjects": [k]}))
        return out

    def describe(self) -> str:
        return "leave-one-subject-out (LOSO), predictions pooled over folds"


@dataclass
class SubjectKFold(Protocol):
    """Subject-wise k-fold: subjects dealt round-robin (seeded) into ``k`` disjoint groups.

    LOSO with fewer, larger folds: used by the demo to keep CPU time small.
    """

    k: int = 4
    seed: int = 0
    name: str = "kfold"

    def __post_init__(self) -> None:  # the upper bound (the number of subjects) is checked in folds()
        self.k = check_number(self.k, int, "k", "--folds")
        if self.k < 2:
            raise MestiError("--folds", f"k = {self.k} must be at least 2")
        self.seed = SEED.check(self.seed)

    def folds(self, labels: np.ndarray, subjects: Sequence[str], datasets: Sequence[str]) -> list[Fold]:
        keys = subject_keys(subjects, datasets)
        uniq = sorted(set(keys))
        if self.k < 2 or self.k > len(uniq):
            raise MestiError("--folds", f"k = {self.k} needs 2..{len(uniq)} (the number of subjects)")
        order = np.random.default_rng(self.seed).permutation(len(uniq))
        group = {uniq[j]: i % self.k for i, j in enumerate(order)}
        g = np.asarray([group[k] for k in keys])
        idx = np.arange(len(keys))
        return [
            Fold(f"fold{i + 1:02d}", idx[g != i], idx[g == i], {"test_subjects": sorted({str(k) for k in keys[g == i]})})
            for i in range(self.k)
        ]

    def describe(self) -> str:
        return f"subject-wise {self.k}-fold cross-validation (no subject in both train and test), predictions pooled"

    def config(self) -> dict[str, object]:
        return {"name": self.name, "k": self.k, "seed": self.seed}


@dataclass
class HoldOut(Protocol):
    """Stratified, seeded ``1 - test_fraction`` / ``test_fraction`` split, repeated ``repeats`` times.

    Subject-disjoint by default (stratified group split), so the leakage guard holds.
    ``by_subject=False`` splits by sample as the paper's Table I appears to; subjects then
    sit on both sides, the guard is off and every report says so. Repeats report the
    spread that a single split hides (one CASME II test clip is 3.8 points).

    ``test_size`` (a clip count) replaces the fraction where a published test set has a
    known size: the paper's Table I tests on 26 CASME II and 16 SAMM clips (docs/protocols.md).
    """

    test_fraction: float = 0.1
    repeats: int = 1
    seed: int = 0
    by_subject: bool = True
    test_size: int | None = None
    name: str = "holdout"

    def __post_init__(self) -> None:
        self.test_fraction = check_number(self.test_fraction, float, "the test fraction", "--test-fraction")
        if not 0 < self.test_fraction < 1:
            raise MestiError("--test-fraction", f"{self.test_fraction} must lie strictly between 0 and 1")
        self.repeats = check_number(self.repeats, int, "the number of repeats", "--repeats")
        if self.repeats < 1:
            raise MestiError("--repeats", f"{self.repeats} must be at least 1")
        self.seed = SEED.check(self.seed)
        SEED.check(self.seed + self.repeats - 1, "--repeats")  # repeat r splits with seed + r
        if not isinstance(self.by_subject, bool):
            raise MestiError("by_subject", f"must be true or false, got {self.by_subject!r}")
        if self.test_size is not None:
            self.test_size = check_number(self.test_size, int, "test_size", "test_size", ge=1)

    def folds(self, labels: np.ndarray, subjects: Sequence[str], datasets: Sequence[str]) -> list[Fold]:
        if not 0 < self.test_fraction < 1:
            raise MestiError("--test-fraction", f"{self.test_fraction} must lie strictly between 0 and 1")
        if self.repeats < 1:
            raise MestiError("--repeats", f"{self.repeats} must be at least 1")
        from sklearn.model_selection import StratifiedShuffleSplit

        labels = np.asarray(labels)
        if self.test_size is not None and not 0 < self.test_size < len(labels):
            raise MestiError("test_size", f"{self.test_size} test clips out of {len(labels)}: it must lie in 1..{len(labels) - 1}")
        fraction = self.test_fraction if self.test_size is None else self.test_size / len(labels)
        keys = subject_keys(subjects, datasets)
        if not self.by_subject:
            _check_stratifiable(labels, self.test_size or math.ceil(fraction * len(labels)))
        out = []
        for r in range(self.repeats):
            if self.by_subject:
                train, test = _stratified_group_split(labels, keys, fraction, self.seed + r)
            else:
                size = self.test_fraction if self.test_size is None else int(self.test_size)
                sss = StratifiedShuffleSplit(n_splits=1, test_size=size, random_state=self.seed + r)
                train, test = next(sss.split(np.zeros(len(labels)), labels))
            out.append(Fold(f"repeat{r + 1:02d}", np.sort(train), np.sort(test), {"repeat": r}))
        return out

    @property
    def guarded(self) -> bool:
        return self.by_subject

    def describe(self) -> str:
        pct = f"{1 - self.test_fraction:.0%}/{self.test_fraction:.0%}"
        if self.test_size is not None:
            pct = f"{self.test_size} test clips"
        if self.by_subject:
            return f"hold-out {pct}, stratified, subject-disjoint, {self.repeats} seeded repeat(s)"
        return (f"hold-out {pct}, stratified by sample as in the paper's Table I: SUBJECTS APPEAR IN BOTH "
                f"TRAIN AND TEST (not subject-independent), {self.repeats} seeded repeat(s)")

    def config(self) -> dict[str, object]:
        out: dict[str, object] = {"name": self.name, "test_fraction": self.test_fraction, "repeats": self.repeats,
                                  "seed": self.seed, "by_subject": self.by_subject}
        if self.test_size is not None:
            out["test_size"] = self.test_size
        return out


def _check_stratifiable(labels: np.ndarray, n_test: int) -> None:
    """A split by sample keeps the class mix only with every class twice and each side
    holding one clip per class; say so instead of scikit-learn's error."""
    classes, counts = np.unique(labels, return_counts=True)
    n, k = len(labels), len(classes)
    if counts.min() < 2:
        raise MestiError("--by-sample", f"a stratified split needs every class at least twice; {int((counts < 2).sum())} "
                         f"class(es) of these {n} clips occur once")
    if n_test < k or n - n_test < k:
        raise MestiError("--test-fraction", f"a stratified split by sample needs at least one clip of each of the {k} "
                         f"classes on each side; {n} clips give {n_test} test and {n - n_test} training clips")


def _stratified_group_split(labels: np.ndarray, keys: np.ndarray, fraction: float, seed: int,
                            tries: int = 256) -> tuple[np.ndarray, np.ndarray]:
    """Whole subjects to the test side, about ``fraction`` of the samples, class mix kept.

    Seeded random subject orders, each filled up to the target size; the order whose test
    set is nearest the target in size and class proportions wins. (scikit-learn's
    StratifiedGroupKFold only shuffles ties, so its first split barely changes with the seed.)
    """
    rng = np.random.default_rng(seed)
    uniq = np.array(sorted(set(keys)))
    classes = np.unique(labels)
    overall = np.array([(labels == c).mean() for c in classes])
    target = fraction * len(labels)
    members = {k: np.flatnonzero(keys == k) for k in uniq}
    best: tuple[float, np.ndarray] | None = None
    for _ in range(tries):
        chosen: list[int] = []
        for k in rng.permutation(uniq):
            if len(chosen) >= target:
                break
            if len(chosen) + len(members[k]) > 1.5 * target and chosen:
                continue
            chosen.extend(members[k].tolist())
        test = np.sort(np.asarray(chosen))
        if len(test) == 0 or len(test) == len(labels):
            continue
        mix = np.array([(labels[test] == c).mean() for c in classes])
        score = abs(len(test) - target) / target + np.abs(mix - overall).sum()
        if best is None or score < best[0]:
            best = (score, test)
    if best is None:
        raise MestiError("--test-fraction", f"{fraction:g} of the {len(labels)} clips cannot be held out as whole "
                         f"subjects: with {len(uniq)} subjects every split leaves none to train on or none to test; "
                         "lower --test-fraction (or split --by-sample)")
    test = best[1]
    return np.setdiff1d(np.arange(len(labels)), test), test


@dataclass
class CrossDataset(Protocol):
    """Train on every sample of one dataset, test on another (shared classes only)."""

    train_dataset: str = ""
    test_dataset: str = ""
    name: str = "cross"

    def folds(self, labels: np.ndarray, subjects: Sequence[str], datasets: Sequence[str]) -> list[Fold]:
        ds = np.asarray(datasets)
        idx = np.arange(len(ds))
        for d in (self.train_dataset, self.test_dataset):
            if d not in set(ds):
                raise MestiError("cross-dataset", f"no samples of dataset {d!r}; present: {', '.join(sorted(set(ds)))}")
        return [Fold(f"{self.train_dataset}-to-{self.test_dataset}", idx[ds == self.train_dataset], idx[ds == self.test_dataset])]

    def describe(self) -> str:
        return f"cross-dataset: train on {self.train_dataset}, test on {self.test_dataset}"

    def config(self) -> dict[str, object]:
        return {"name": self.name, "train_dataset": self.train_dataset, "test_dataset": self.test_dataset}


PROTOCOLS: Registry[type[Protocol]] = Registry("protocol", "protocol")
for _cls in (LeaveOneSubjectOut, SubjectKFold, HoldOut, CrossDataset):
    PROTOCOLS.register(_cls.name, _cls)


def protocol_from_config(config: dict[str, object]) -> Protocol:
    """Build a protocol from a grid entry such as ``{"name": "kfold", "k": 4}`` (its options'
    types checked: ``k: "4"`` from YAML is refused, not compared with numbers later)."""
    name = str(config.get("name"))
    options = {k: v for k, v in config.items() if k != "name"}
    cls = PROTOCOLS.get(name)
    if is_dataclass(cls):
        check_types(cls, options, f"protocol {name}")
    return create_protocol(name, **options)


def create_protocol(name: str, **kwargs: object) -> Protocol:
    """Build a protocol from its config name (``loso``, ``kfold``, ``holdout``, ``cross``)."""
    return PROTOCOLS.create(name, **kwargs)
