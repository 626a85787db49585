"""``model.md``: the card a bundle carries, in words a user reads before trusting it."""

from __future__ import annotations

from typing import Any

from mesti.utils.markdown import md_code, md_text


def _fmt(value: Any) -> str:
    return f"{value:.3f}" if isinstance(value, float) else md_text(value)


def model_card(provenance: dict[str, Any], pipeline: dict[str, Any]) -> str:
    """What the model was trained on, how, and how good it is expected to be (or that nobody knows)."""
    settings = provenance["settings"]
    dataset = settings.get("dataset") or {}
    counts = provenance.get("clips_per_class") or {}
    model = settings["model"]
    training = settings.get("training") or {}
    lines = [
        f"# {md_text(model['name'])} on {md_text(settings.get('modality'))}: {md_text(dataset.get('name'))}",
        "",
        f"Trained by mesti {md_text(provenance['mesti_version'])} on {md_text(provenance['date'])} with:",
        "",
        md_code(str(provenance["command"]), "bash"),
        "",
        "## Training data",
        "",
        f"- dataset: {md_text(dataset.get('name'))} ({md_text(dataset.get('root'))}), every labelled subject "
        f"({md_text(provenance['subjects'])} subjects, {sum(counts.values())} clips)",
        "- clips per class: " + ", ".join(f"{md_text(c)} {md_text(n)}" for c, n in counts.items()),
        f"- classes (output order): {', '.join(md_text(c) for c in pipeline['classes'])}",
        "",
        "## Pipeline",
        "",
        f"- modality: {md_text(pipeline['modality'])} {md_text(pipeline.get('modality_options') or '')}".rstrip(),
        f"- face preprocessing: {md_text(pipeline.get('preprocess'))}",
        f"- network input: {' x '.join(str(s) for s in pipeline['input_size'])} (C x H x W), "
        "normalised with the training set's per-channel mean and std",
        f"- network: {md_text(model['name'])} {md_text(model.get('kwargs') or '')}".rstrip(),
        f"- recipe: {md_text(training.get('recipe'))}: {md_text(training.get('epochs'))} epochs, batch "
        f"{md_text(training.get('batch_size'))}, {md_text(training.get('optimizer'))} lr {md_text(training.get('lr'))}, "
        f"{md_text(training.get('loss'))} loss, seed {md_text(training.get('seed'))}"
        + (f", early stopping on {md_text(training.get('val_fraction'))} of the subjects" if training.get("val_fraction")
           else ", fixed schedule"),
        "",
        "## Expected performance",
        "",
    ]
    est = provenance.get("estimate")
    if est:
        lines += [
            f"Estimated by a run with the same settings that held subjects out ({md_text(est['protocol'])}, "
            f"{md_text(est['n'])} clips, {md_text(est['n_folds'])} folds, run seed {md_text(est['run_seed'])}): "
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
