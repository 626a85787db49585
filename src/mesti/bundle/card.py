"""``model.md``: the card a bundle carries, in words a user reads before trusting it."""

from __future__ import annotations

from typing import Any


def _fmt(value: Any) -> str:
    return f"{value:.3f}" if isinstance(value, float) else str(value)


def model_card(provenance: dict[str, Any], pipeline: dict[str, Any]) -> str:
    """What the model was trained on, how, and how good it is expected to be (or that nobody knows)."""
    settings = provenance["settings"]
    dataset = settings.get("dataset") or {}
    counts = provenance.get("clips_per_class") or {}
    model = settings["model"]
    training = settings.get("training") or {}
    lines = [
        f"# {model['name']} on {settings.get('modality')}: {dataset.get('name')}",
        "",
        f"Trained by mesti {provenance['mesti_version']} on {provenance['date']} with:",
        "",
        f"    {provenance['command']}",
        "",
        "## Training data",
        "",
        f"- dataset: {dataset.get('name')} ({dataset.get('root')}), every labelled subject "
        f"({provenance['subjects']} subjects, {sum(counts.values())} clips)",
        "- clips per class: " + ", ".join(f"{c} {n}" for c, n in counts.items()),
        f"- classes (output order): {', '.join(pipeline['classes'])}",
        "",
        "## Pipeline",
        "",
        f"- modality: {pipeline['modality']} {pipeline.get('modality_options') or ''}".rstrip(),
        f"- face preprocessing: {pipeline.get('preprocess')}",
        f"- network input: {' x '.join(str(s) for s in pipeline['input_size'])} (C x H x W), "
        "normalised with the training set's per-channel mean and std",
        f"- network: {model['name']} {model.get('kwargs') or ''}".rstrip(),
        f"- recipe: {training.get('recipe')}: {training.get('epochs')} epochs, batch {training.get('batch_size')}, "
        f"{training.get('optimizer')} lr {training.get('lr')}, {training.get('loss')} loss, seed {training.get('seed')}"
        + (f", early stopping on {training.get('val_fraction')} of the subjects" if training.get("val_fraction") else
           ", fixed schedule"),
        "",
        "## Expected performance",
        "",
    ]
    est = provenance.get("estimate")
    if est:
        lines += [
            f"Estimated by a run with the same settings that held subjects out ({est['protocol']}, "
            f"{est['n']} clips, {est['n_folds']} folds, run seed {est['run_seed']}): "
            f"accuracy {_fmt(est['accuracy'])}, UF1 {_fmt(est['uf1'])}, UAR {_fmt(est['uar'])}.",
            "",
            "The bundle itself saw every subject, so it has no test set of its own; on new people "
            "and recording conditions expect these figures at best.",
        ]
    else:
        lines += [
            "Not estimated: no subject-independent run was given (`mesti train --estimate RUN_DIR`). "
            "Figures measured on this model's own training clips would say nothing about new people.",
        ]
    return "\n".join(lines) + "\n"
