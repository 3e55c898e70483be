"""``summary``: a task's counts per split and per label, as ``factory task show`` and the UI's Tasks page print them."""

from __future__ import annotations

from collections import Counter


def summary(spec) -> dict:
    """Counts per split and per label, as printed by ``task show``."""
    per_label = {}
    for split in ("gold", "dev", "test"):
        c = Counter(e.label for e in getattr(spec, split))
        per_label[split] = {lab: c.get(lab, 0) for lab in spec.label_ids}
    return {
        "name": spec.name,
        "language": spec.language,
        "water_level": spec.water_level,
        "text_name": spec.text_name,
        "prompt": spec.prompt,
        "counts": spec.counts(),
        "labels": [
            {"id": lab.id, "name": lab.name, "description": lab.description, "verbalizer": list(lab.verbalizer)}
            for lab in spec.labels
        ],
        "label_counts": per_label,
    }
