"""Data checks before training: warnings a user should hear before spending an hour, each with the fix.

They never block a run. :func:`data_warnings` looks at a task's splits only
(no model): too few gold examples for a label, strong class imbalance in the
gold, gold texts that are near-duplicates under different labels, texts longer
than the student reads, pool texts that are also in dev or test, and the same
text labeled differently across gold, dev and test. :func:`label_name_warnings`
adds the one check that needs a model: label names the sentence encoder can
hardly tell apart.

Conflicting labels across splits are a warning here; at intake
``conflicts="refuse"`` still refuses them and ``conflicts="drop"`` removes
the later rows (see :func:`resolve_conflicts`).
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import replace

from factory.spec import TaskSpec

MIN_GOLD = 4
IMBALANCE = 5.0
NEAR_DUPLICATE = 0.9  # Jaccard similarity of character trigrams
LONG_CHARS = {"zh": 200, "en": 600}  # about the student's 128 tokens
# EmbeddingGemma cosine of label names: synonyms happy/glad 0.86, 房产/房子 0.82, sports/体育 0.96; distinct
# labels at most 0.68 (card arrival / card delivery estimate), 体育/娱乐 0.62, positive/negative 0.17.
LABEL_NAME_SIMILARITY = 0.8
CONFLICT_MODES = ("warn", "drop", "refuse")


def _warn(check: str, message: str, fix: str, **extra) -> dict:
    return {"check": check, "message": message, "fix": fix, **extra}


def _norm(text: str) -> str:
    return re.sub(r"[\W_]+", "", text.lower())


def _grams(text: str) -> set[str]:
    t = _norm(text)
    return {t[i : i + 3] for i in range(max(len(t) - 2, 1))}


def conflicts(spec: TaskSpec) -> list[tuple[str, str, str, str, str]]:
    """``(text, first split, its label, later split, other label)`` for each text labeled differently across gold/dev/test."""
    seen: dict[str, tuple[str, str]] = {}
    out = []
    for split in ("gold", "dev", "test"):
        for e in getattr(spec, split):
            first = seen.setdefault(e.text, (split, e.label))
            if first[1] != e.label:
                out.append((e.text, first[0], first[1], split, e.label))
    return out


def resolve_conflicts(spec: TaskSpec, mode: str) -> tuple[TaskSpec, list[dict]]:
    """``warn``: keep every row and report; ``drop``: remove the later rows of each conflicting text; ``refuse``: raise."""
    from intake.checks import check_across_splits
    from factory.errors import TaskError

    if mode not in CONFLICT_MODES:
        raise TaskError(
            f"conflicts one of {CONFLICT_MODES}", repr(mode), "use warn (default), drop or refuse", where="--conflicts"
        )
    if mode == "refuse":
        check_across_splits(spec)
        return spec, []
    found = conflicts(spec)
    if not found:
        return spec, []
    sample = "; ".join(f"{t[:30]!r}: {a!r} in {s1}, {b!r} in {s2}" for t, s1, a, s2, b in found[:3])
    if mode == "warn":
        return spec, [
            _warn(
                "label-conflicts",
                f"{len(found)} texts carry different labels across gold, dev and test ({sample})",
                "fix the wrong labels, or pass --conflicts drop to drop the later rows",
                count=len(found),
            )
        ]
    drop = {(t, s2, b) for t, _, _, s2, b in found}
    kept = {
        split: [e for e in getattr(spec, split) if (e.text, split, e.label) not in drop]
        for split in ("gold", "dev", "test")
    }
    return replace(spec, **kept), [
        _warn(
            "label-conflicts-dropped",
            f"dropped {len(drop)} rows whose text has another label in an earlier split ({sample})",
            "check the source files if that was not intended",
            count=len(drop),
        )
    ]


def data_warnings(spec: TaskSpec) -> list[dict]:
    """Every model-free warning for ``spec`` (an empty list when nothing looks wrong)."""
    out: list[dict] = []
    gold = Counter(e.label for e in spec.gold)
    few = {lab.id: gold.get(lab.id, 0) for lab in spec.labels if gold.get(lab.id, 0) < MIN_GOLD}
    if few:
        out.append(
            _warn(
                "few-gold",
                f"labels with fewer than {MIN_GOLD} gold examples: " + ", ".join(f"{k} ({v})" for k, v in few.items()),
                f"add gold examples for them (at least {MIN_GOLD}; 8-16 a label is where few-shot methods work well)",
                labels=few,
            )
        )
    counts = [gold.get(lab.id, 0) for lab in spec.labels]
    if counts and min(counts) > 0 and max(counts) / min(counts) >= IMBALANCE:
        big = max(spec.labels, key=lambda lab: gold.get(lab.id, 0)).id
        small = min(spec.labels, key=lambda lab: gold.get(lab.id, 0)).id
        out.append(
            _warn(
                "imbalance",
                f"gold is imbalanced: {big} has {gold[big]} examples, {small} has {gold[small]}",
                "add examples to the small labels; the student balances classes, but the teacher learns from what it sees",
            )
        )
    grams = [(_grams(e.text), e) for e in spec.gold]
    near = []
    for i in range(len(grams)):
        for j in range(i + 1, len(grams)):
            (a, ea), (b, eb) = grams[i], grams[j]
            if ea.label != eb.label and a and b and len(a & b) / len(a | b) >= NEAR_DUPLICATE:
                near.append((ea, eb))
    if near:
        ea, eb = near[0]
        out.append(
            _warn(
                "near-duplicates",
                f"{len(near)} pairs of near-identical gold texts with different labels, e.g. {ea.text[:40]!r} ({ea.label}) and {eb.text[:40]!r} ({eb.label})",
                "make sure each is labeled right; near-copies under two labels teach the teacher noise",
                count=len(near),
            )
        )
    limit = LONG_CHARS.get(spec.language, 600)
    texts = [e.text for split in ("gold", "dev", "test", "unlabeled") for e in getattr(spec, split)]
    long = sum(len(t) > limit for t in texts)
    if texts and long / len(texts) >= 0.05:
        out.append(
            _warn(
                "long-texts",
                f"{long} of {len(texts)} texts are longer than about 128 tokens ({limit} characters); the student reads only the start",
                "raise the student's max_length (DistillConfig.max_length) or shorten the texts",
                count=long,
            )
        )
    gold_texts = {e.text for e in spec.gold}
    if spec.dev and {e.text for e in spec.dev} == gold_texts:
        out.append(
            _warn(
                "dev-is-gold",
                "the dev set holds exactly the gold texts: model selection would score the model on what it trained on",
                "pass a separate dev file (or none: the factory then selects on what it has)",
            )
        )
    in_gold = sum(e.text in gold_texts for e in spec.unlabeled)
    if in_gold and in_gold >= 0.5 * len(spec.unlabeled):
        out.append(
            _warn(
                "pool-is-gold",
                f"{in_gold} of {len(spec.unlabeled)} unlabeled texts are gold texts: was the train file passed as --unlabeled?",
                "pass the unlabeled pool file as --unlabeled",
                count=in_gold,
            )
        )
    held = {e.text for e in spec.dev + spec.test}
    leak = sum(e.text in held for e in spec.unlabeled)
    if leak:
        out.append(
            _warn(
                "pool-overlap",
                f"{leak} unlabeled pool texts are also in dev or test: the student would train on the texts it is scored on",
                "remove them from the unlabeled file",
                count=leak,
            )
        )
    return out


def label_warnings(spec: TaskSpec, encoder) -> list[dict]:
    """Both model checks on the label names, with the names encoded once."""
    import numpy as np

    names = [lab.name or lab.id for lab in spec.labels]
    vecs = np.asarray(encoder.encode(names, normalize_embeddings=True))
    return label_name_warnings(spec, encoder, vecs) + label_confusion_warnings(spec, encoder, vecs)


def label_name_warnings(spec: TaskSpec, encoder, name_vecs=None) -> list[dict]:
    """Pairs of label names whose sentence embeddings are nearly the same (cosine ≥ ``LABEL_NAME_SIMILARITY``).

    ``encoder`` has ``encode(texts, normalize_embeddings=True)`` (a ``SentenceTransformer``; the CLI passes
    the embedding teacher's, ``teacher.embedding.load_encoder``).
    """
    import numpy as np

    names = [lab.name or lab.id for lab in spec.labels]
    vecs = np.asarray(encoder.encode(names, normalize_embeddings=True)) if name_vecs is None else name_vecs
    sims = vecs @ vecs.T
    pairs = [
        (names[i], names[j], float(sims[i, j]))
        for i in range(len(names))
        for j in range(i + 1, len(names))
        if sims[i, j] >= LABEL_NAME_SIMILARITY
    ]
    if not pairs:
        return []
    return [
        _warn(
            "similar-label-names",
            "label names the encoder can hardly tell apart: "
            + ", ".join(f"{a!r} ~ {b!r} ({s:.2f})" for a, b, s in pairs[:5]),
            "rename or describe the labels (the teacher reads the names), or merge them if they are one class",
            pairs=[[a, b, round(s, 3)] for a, b, s in pairs],
        )
    ]


CONFUSION_SHARE = 0.5  # a label whose gold goes to one other label this often, zero-shot


def label_confusion_warnings(spec: TaskSpec, encoder, name_vecs=None) -> list[dict]:
    """Labels the encoder confuses zero-shot on the gold: each gold text goes to the nearest label name;
    a pair is flagged when at least ``CONFUSION_SHARE`` of one label's gold lands on the other."""
    import numpy as np

    if not spec.gold:
        return []
    names = [lab.name or lab.id for lab in spec.labels]
    lv = np.asarray(encoder.encode(names, normalize_embeddings=True)) if name_vecs is None else name_vecs
    gv = np.asarray(encoder.encode([e.text for e in spec.gold], normalize_embeddings=True))
    pred = (gv @ lv.T).argmax(1)
    index = {lab.id: i for i, lab in enumerate(spec.labels)}
    pairs = []
    for i in range(len(spec.labels)):
        mine = [int(p) for e, p in zip(spec.gold, pred) if index[e.label] == i]
        for j in set(mine) - {i}:
            share = mine.count(j) / len(mine)
            if len(mine) >= 2 and share >= CONFUSION_SHARE:
                pairs.append((names[i], names[j], share))
    if not pairs:
        return []
    return [
        _warn(
            "confused-labels",
            "zero-shot, the encoder sends most gold of one label to another: "
            + ", ".join(f"{a!r} → {b!r} ({100 * s:.0f} %)" for a, b, s in pairs[:5]),
            "give those labels clearer names or descriptions (the teacher's prompt lists them), or check the gold",
            pairs=[[a, b, round(s, 3)] for a, b, s in pairs],
        )
    ]
