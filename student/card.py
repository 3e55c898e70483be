"""The model card (``README.md``) shipped inside every exported student."""

from __future__ import annotations

from factory.spec import TaskSpec
from student.artifact import StudentArtifact


def _pct(v) -> str:
    return f"{100 * v:.1f}%" if isinstance(v, (int, float)) else "–"


def model_card(spec: TaskSpec, art: StudentArtifact, metrics: dict, teacher: dict) -> str:
    """Markdown card: task, data counts, how the student was made, teacher, metrics, intended use."""
    counts = art.data_counts or {}
    labels = ", ".join(f"`{lab.id}` ({lab.name})" for lab in spec.labels)
    info = art.student_info or {}
    if art.kind == "derived":
        made = (
            f"derived from `{art.base}`: layers {info.get('layers')} of {info.get('teacher_layers')}, "
            f"vocabulary pruned to {info.get('vocab_size')} of {info.get('teacher_vocab_size')} pieces (byte fallback kept)"
        )
    elif art.kind == "static":
        made = (
            f"static: one {info.get('dims')}-dimensional vector per token, made from the sentence encoder `{art.base}` "
            f"(each of the {info.get('vocab_size')} pieces the task uses, PCA, SIF weights), averaged, with a linear head"
        )
    else:
        made = f"encoder `{art.base}` with a new classification head"
    per_class = metrics.get("per_class") or {}
    rows = "\n".join(
        f"| {lab} | {_pct(r.get('precision'))} | {_pct(r.get('recall'))} | {_pct(r.get('f1-score'))} | {int(r.get('support', 0))} |"
        for lab, r in per_class.items()
    )
    teacher_line = _teacher_line(teacher)
    parity = metrics.get("parity") or {}
    onnx_file = parity.get("shipped", "onnx/model.int8.onnx")
    parity_line = _parity_line(parity)
    # The shared file holds no weights: it is useless without model/model.safetensors beside it.
    shared = parity.get("scheme") == "shared"
    beside = " (it reads its weights from `model/model.safetensors`: keep the two together)" if shared else ""
    ladder = _ladder_lines(metrics.get("ladder"))
    return f"""# {spec.name} student

A small text classifier made by the few-shot model factory.

## Task
- Task `{spec.name}`, language `{spec.language}`; labels: {labels}
- Training data: {counts.get("gold", 0)} gold examples, {counts.get("soft", 0)} teacher-labeled (soft) examples; model selection on {counts.get("dev", 0)} dev examples.
{_synthesis_line(metrics.get("synthesis"))}
## Model
- {made}
- Kind `{art.kind}`. Parameters: {art.params:,} (weights stored in fp16)
- Inference file `{onnx_file}`: {parity_line}
- Teacher: {teacher_line}
- Distillation: gold cross-entropy + KL to the teacher's temperature-{art.config.get("temperature")} probabilities, confidence-weighted, class-balanced; best dev epoch {art.best_epoch}.

{ladder}## Metrics ({metrics.get("n", "?")} test texts)
{_flag_lines(metrics.get("flags"))}
- Accuracy {_pct(metrics.get("accuracy"))}, macro-F1 {_pct(metrics.get("macro_f1"))}
- CPU latency {metrics.get("latency_ms_per_text", "–")} ms a text (batch 1), throughput {metrics.get("texts_per_second", "–")} texts/s

| label | precision | recall | F1 | support |
|---|---|---|---|---|
{rows}

## Use
```python
from transformers import pipeline
clf = pipeline("text-classification", model="model")   # the model/ folder of this artifact
```
or `{onnx_file}` with onnxruntime{beside} (inputs `input_ids`, `attention_mask` from `model/tokenizer.json`, right padding), or `factory predict ARTIFACT.zip --text "..."`.

## Intended use and limits
Classifying short texts like the task's examples into the labels above. It learned from a few gold examples and a teacher's labels, so it inherits the teacher's mistakes; check it on your own data before relying on it, and do not use it for decisions about people without human review.
"""


def _synthesis_line(synthesis: dict | None) -> str:
    """Whether the generator's samples were trained on, and why (the recipe's dev test)."""
    if not synthesis:
        return ""
    return f"- Synthetic samples: {synthesis.get('kept', 0)} kept by the filters, {synthesis.get('reason', '')}.\n"


def _flag_lines(flags: list | None) -> str:
    """Warnings about the test figures, shown first under Metrics."""
    return "".join(f"- **Caution:** {f}\n" for f in flags or [])


def _ladder_lines(ladder: dict | None) -> str:
    """The kinds the budget trained (dev accuracy, CPU latency, size) and which one this artifact is."""
    if not ladder or not ladder.get("kinds"):
        return ""
    rows = "\n".join(
        f"| {r['kind']}{' (this model)' if r['kind'] == ladder.get('published') else ''} | {_pct(r.get('dev_accuracy'))} | {r.get('latency_ms_per_text')} | {r.get('texts_per_second')} | {r.get('params', 0):,} |"
        for r in ladder["kinds"]
    )
    bound = f", at most {ladder['max_latency_ms']} ms a text" if ladder.get("max_latency_ms") else ""
    return f"""## Student kinds trained (budget `{ladder.get("budget")}`{bound})
Published: the best dev accuracy within the budget.

| kind | dev accuracy | ms a text (batch 1, torch CPU) | texts/s (batch 32) | parameters |
|---|---|---|---|---|
{rows}

"""


SCHEMES = {
    "dynamic": "dynamic int8",
    "weights": "weight-only int8",
    "shared": "fp32 compute, weights shared with model.safetensors (fp16)",
    "fp32": "fp32",
}


def _parity_line(p: dict) -> str:
    """What the shipped file is, how it compared with the fp32 file at export, and what was tried before it."""
    if not p or not p.get("n"):
        return "fp32; int8 not checked (no held-back texts to compare on)"
    tried = p.get("tried") or []
    missed = "; ".join(
        f"{SCHEMES.get(t.get('scheme'), t.get('scheme'))} missed the bound at {_pct(t.get('agreement'))} agreement"
        for t in tried
        if not t.get("ok")
    )
    missed = f" ({missed})" if missed else ""
    if p.get("scheme") == "fp32" or not p.get("ok"):
        return f"fp32, the reference; no smaller file kept its labels{missed}"
    acc = f"; accuracy fp32 {_pct(p['fp32_accuracy'])}, this file {_pct(p['accuracy'])}" if "fp32_accuracy" in p else ""
    return (
        f"{SCHEMES.get(p.get('scheme'), p.get('scheme'))}; agrees with fp32 on {_pct(p['agreement'])} of {p['n']}"
        f" {p.get('on', '')} texts (never test){acc}{missed}"
    )


def _teacher_line(teacher: dict) -> str:
    """``model (mode); dev accuracy x % on n texts`` for the structured info the recipe records, else key: value pairs."""
    if not teacher:
        return "none (gold labels only)"
    if "model" not in teacher:
        return ", ".join(f"{k}: {v}" for k, v in teacher.items())
    line = str(teacher["model"]) + (f" ({teacher['mode']})" if teacher.get("mode") else "")
    dev = teacher.get("dev") or {}
    if isinstance(dev, dict) and dev.get("accuracy") is not None:
        line += f"; dev accuracy {100 * dev['accuracy']:.1f} %" + (f" on {dev['n']} texts" if dev.get("n") else "")
    if teacher.get("accuracy") is not None:
        line += f"; test accuracy {100 * teacher['accuracy']:.1f} % on the student's {teacher.get('n', '?')} test texts"
    return line
