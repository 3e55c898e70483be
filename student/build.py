"""Build the student before training: an HF encoder, or a model derived from the teacher.

A derived student keeps a subset of the teacher's decoder layers, the
embedding rows of its pruned vocabulary (:mod:`student.vocab`) and gets a
fresh linear head. It is saved as a plain ``transformers`` sequence classifier
(``Gemma3TextForSequenceClassification`` for a Gemma 3 teacher), so
``AutoModelForSequenceClassification`` and ``pipeline`` load it without custom code.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import torch

from factory.atomic import atomic_write_json
from factory.errors import TaskError
from student.config import DistillConfig

ENGLISH_DEFAULT = "all-minilm-l6-v2"
DERIVABLE = ("gemma3_text",)


@dataclass
class StudentInit:
    """Where the initial student was written and how it was made."""

    model_dir: Path
    kind: str  # "encoder" | "derived"
    base: str
    params: int
    info: dict = field(default_factory=dict)


def choose_layers(n_teacher: int, k: int, selection: str) -> list[int]:
    """``first``: layers 0..k-1; ``spread``: k layers evenly spaced, first and last included."""
    if k > n_teacher:
        raise TaskError(
            f"at most {n_teacher} layers", str(k), f"set layers <= {n_teacher}", where="DistillConfig.layers"
        )
    if selection == "first" or k == 1:
        return list(range(k))
    return sorted({round(i * (n_teacher - 1) / (k - 1)) for i in range(k)})


def label_maps(label_ids: Sequence[str]) -> dict:
    return {
        "id2label": {i: lab for i, lab in enumerate(label_ids)},
        "label2id": {lab: i for i, lab in enumerate(label_ids)},
    }


def build_encoder_student(name: str, label_ids: Sequence[str], out_dir: Path) -> StudentInit:
    """Any HF encoder with a fresh classification head (English default: the bundled MiniLM)."""
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    from factory.models import resolve_model

    src = resolve_model(name).source
    tok = AutoTokenizer.from_pretrained(src)
    model = AutoModelForSequenceClassification.from_pretrained(src, num_labels=len(label_ids), **label_maps(label_ids))
    model.save_pretrained(out_dir)
    tok.save_pretrained(out_dir)
    n = sum(p.numel() for p in model.parameters())
    return StudentInit(
        Path(out_dir),
        "encoder",
        name,
        n,
        {"layers": model.config.num_hidden_layers, "vocab_size": model.config.vocab_size},
    )


def derive_student(
    teacher: str, label_ids: Sequence[str], texts: Sequence[str], cfg: DistillConfig, out_dir: Path
) -> StudentInit:
    """Derive a small classifier from a Gemma 3 causal LM: chosen layers + pruned vocabulary + linear head."""
    from transformers import AutoConfig, AutoModelForSequenceClassification

    from factory.models import load_causal_lm
    from student.vocab import prune_tokenizer

    from factory.models import resolve_model

    ref = resolve_model(teacher)
    if ref.gguf_file is None:
        kind = AutoConfig.from_pretrained(ref.source).model_type
        if kind not in DERIVABLE:
            raise TaskError(
                f"a teacher of type {DERIVABLE}",
                repr(kind),
                "derive from gemma-3-270m or pick an encoder student (DistillConfig(student=...))",
                where="derive_student",
            )
    if ref.kind == "encoder":
        # EmbeddingGemma: a bidirectional Gemma3TextModel (no LM head); its config keeps use_bidirectional_attention.
        from transformers import AutoModel, AutoTokenizer

        body, tok = AutoModel.from_pretrained(ref.source), AutoTokenizer.from_pretrained(ref.source)
        tcfg, src = body.config, body.state_dict()
        lm = body
    else:
        lm, tok = load_causal_lm(teacher)
        tcfg, src = lm.config, lm.model.state_dict()
    if getattr(tcfg, "model_type", None) not in DERIVABLE:
        raise TaskError(
            f"a teacher of type {DERIVABLE}",
            repr(getattr(tcfg, "model_type", None)),
            "derive from gemma-3-270m or pick an encoder student",
            where="derive_student",
        )
    layers = (
        [int(i) for i in cfg.layer_indices]
        if cfg.layer_indices
        else choose_layers(tcfg.num_hidden_layers, cfg.layers, cfg.layer_selection)
    )
    if max(layers) >= tcfg.num_hidden_layers:
        raise TaskError(
            f"layer numbers < {tcfg.num_hidden_layers}",
            str(layers),
            "pick layers the teacher has",
            where="DistillConfig.layer_indices",
        )
    vocab = prune_tokenizer(tok.backend_tokenizer.to_str(), texts)
    d = tcfg.to_dict()
    for k in (
        "quantization_config",
        "architectures",
        "_name_or_path",
        "transformers_version",
        "_model_name_or_path",
        "id2label",
        "label2id",
    ):
        d.pop(k, None)
    d.update(
        num_hidden_layers=len(layers),
        layer_types=[tcfg.layer_types[i] for i in layers],
        vocab_size=vocab.size,
        num_labels=len(label_ids),
        use_cache=False,
        tie_word_embeddings=False,
        pad_token_id=vocab.tokenizer().token_to_id("<pad>"),
        bos_token_id=vocab.tokenizer().token_to_id("<bos>"),
        eos_token_id=vocab.tokenizer().token_to_id("<eos>"),
        **label_maps(label_ids),
    )
    scfg = AutoConfig.for_model(**d)
    torch.manual_seed(cfg.seed)
    model = AutoModelForSequenceClassification.from_config(scfg)
    dst = {
        "model.embed_tokens.weight": src["embed_tokens.weight"][torch.tensor(vocab.old_ids)].clone(),
        "model.norm.weight": src["norm.weight"].clone(),
    }
    for new, old in enumerate(layers):
        prefix = f"layers.{old}."
        for key, value in src.items():
            if key.startswith(prefix):
                dst[f"model.layers.{new}.{key[len(prefix) :]}"] = value.clone()
    missing, unexpected = model.load_state_dict(dst, strict=False)
    if unexpected or set(missing) - {"score.weight", "score.bias"}:
        raise RuntimeError(f"weight mapping from {teacher} failed: missing {missing}, unexpected {unexpected}")
    del lm, src
    save_derived(model, vocab.tokenizer_json, tok, out_dir)
    n = sum(p.numel() for p in model.parameters())
    info = {
        "teacher_layers": tcfg.num_hidden_layers,
        "layers": layers,
        "vocab_size": vocab.size,
        "teacher_vocab_size": tcfg.vocab_size,
        "used_pieces": vocab.used_pieces,
    }
    atomic_write_json(Path(out_dir) / "derivation.json", {"teacher": teacher, **info})
    return StudentInit(Path(out_dir), "derived", teacher, n, info)


def save_derived(model, tokenizer_json: str, teacher_tok, out_dir: Path) -> None:
    """Save model + pruned tokenizer in the teacher tokenizer's class, so AutoTokenizer rebuilds it."""
    import tempfile

    from transformers import AutoTokenizer

    out_dir = Path(out_dir)
    model.save_pretrained(out_dir)
    with tempfile.TemporaryDirectory() as tmp:
        teacher_tok.save_pretrained(tmp)
        Path(tmp, "tokenizer.json").write_text(tokenizer_json, encoding="utf-8")
        pruned = AutoTokenizer.from_pretrained(tmp)
    pruned.save_pretrained(out_dir)
    # Keep our tokenizer.json byte for byte: it is the file the tests compare with the teacher.
    (out_dir / "tokenizer.json").write_text(tokenizer_json, encoding="utf-8")


def build_student(
    cfg: DistillConfig, label_ids: Sequence[str], language: str, texts: Sequence[str], out_dir: str | Path
) -> StudentInit:
    """Pick and build the student named by ``cfg.student`` into ``out_dir`` (an HF folder)."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    from transformers import AutoModelForSequenceClassification

    torch.manual_seed(cfg.seed)  # the new head's initial weights
    choice = cfg.student
    if choice == "auto":
        choice = ENGLISH_DEFAULT if language == "en" else "derived"
    if choice == "derived":
        return derive_student(cfg.derive_from, label_ids, texts, cfg, out_dir)
    if choice == "static":
        from student.static import build_static

        info = build_static(cfg.static_from, label_ids, texts, cfg.static_dims, cfg.seed, out_dir)
        model = AutoModelForSequenceClassification.from_pretrained(out_dir)
        return StudentInit(out_dir, "static", cfg.static_from, sum(p.numel() for p in model.parameters()), info)
    return build_encoder_student(choice, label_ids, out_dir)
