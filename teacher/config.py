"""The teacher's typed configuration, validated before any model is loaded."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Literal

from factory.errors import TaskError

Mode = Literal["zero-shot", "icl", "finetune"]
MODES = ("zero-shot", "icl", "finetune")
CALIBRATIONS = ("auto", "none", "temperature", "contextual", "contextual+temperature")
AGGREGATES = ("mean", "sum")
MULTI_TOKEN = ("auto", "sequence", "embedding")
# With more multi-token labels than this, "auto" reads labels at one position (see VerbalizerScorer).
AUTO_EMBEDDING_ABOVE = 8


@dataclass
class TeacherConfig:
    """Everything that decides how a teacher is adapted and how it scores labels.

    Defaults are the fine-tuning recipe that measured best on EPRSTMT dev_0 with
    the bundled Gemma-3-270M (top 6 of 18 layers, lr 1e-4, 12 epochs, best step
    on dev): dev 81-88% over three seeds, against 72-75% for all layers at
    lr 2e-5..2e-4; training only the top layers also makes each step cheaper.
    """

    model: str | None = None  # bundled name, local path or HF id; None = the language's default
    mode: Mode = "finetune"
    template: str | None = None  # must contain "{text}"; may use {options}, {what}; None = the language's default
    chat: str = "auto"  # "on": the template is the user turn of the model's chat template; "auto": for instruct models
    system: str | None = None  # chat mode's system turn; None = the language's default
    text_name: str | None = None  # what a text is called in prompts ("商品评论"); None = "文本" / "text"
    verbalizer: str = "auto"  # "auto": pick the label words (k-th word of every label) on dev; "first": words()[0]
    aggregate: str = "mean"  # how a multi-token verbalizer's token log-probs combine
    # multi-token verbalizers: "sequence" = teacher-forced log-prob of every token (exact, costly with many labels),
    # "embedding" = one position, mean of the tokens' head rows; "auto" = embedding above 8 multi-token labels
    multi_token: str = "auto"
    max_length: int = 128  # tokens kept from each text (prompt words come on top)
    icl_shots: int = 2  # demonstrations per label for mode="icl"
    # prompt-based fine-tuning (mode="finetune")
    epochs: int = 12
    lr: float = 1e-4
    batch_size: int = 8
    warmup_ratio: float = 0.1
    weight_decay: float = 0.01
    label_smoothing: float = 0.0
    train_layers: int | None = 6  # train only the top N transformer layers; None = all of them
    freeze_embeddings: bool = True  # the 262k-row embedding is most of the model and tied to the head
    # LoRA (``peft``) instead of full updates of the top ``train_layers`` layers: rank-``lora_rank`` adapters on their
    # attention and MLP projections, merged into the weights after training (a saved teacher is a plain model).
    # 0 = off. Far less optimizer memory for the 1.5B model on a GPU; the same loop, selection and saving.
    lora_rank: int = 0
    lora_alpha: float = 16.0
    eval_every: int | None = None  # optimizer steps between dev evaluations; None = once an epoch
    # dev texts the best step is picked on (a seeded sample, every label kept when dev is larger);
    # calibration always uses all of dev. Scoring dev after every epoch dominated adaptation on CPU.
    select_dev: int | None = 200
    # self-training on the unlabeled pool (iPET style): label, keep the confident, retrain
    self_train_rounds: int = 0
    self_train_pool: int = 256
    self_train_per_label: int = 16
    # calibration fitted on dev
    calibration: str = "auto"
    # runtime
    eval_batch_size: int = 16
    device: str = "auto"  # "auto" = cuda when available
    dtype: str = "auto"  # "auto" = bfloat16 on GPU, float32 on CPU
    seed: int = 0
    progress: bool = True

    def validate(self) -> "TeacherConfig":
        """Raise :class:`TaskError` naming the first bad field, what it holds and the fix."""
        if self.mode not in MODES:
            raise TaskError(
                f"mode one of {MODES}",
                repr(self.mode),
                "set TeacherConfig(mode='finetune') or another listed mode",
                where="TeacherConfig.mode",
            )
        if self.template is not None and "{text}" not in self.template:
            raise TaskError(
                "a template containing '{text}'",
                repr(self.template),
                "write the prompt with a {text} placeholder, e.g. '评论:{text}\\n总体评价:'",
                where="TeacherConfig.template",
            )
        if self.chat not in ("auto", "on", "off"):
            raise TaskError(
                "chat one of auto, on, off",
                repr(self.chat),
                "use 'auto' (chat prompts for instruct models)",
                where="TeacherConfig.chat",
            )
        if self.verbalizer not in ("auto", "first"):
            raise TaskError(
                "verbalizer one of auto, first",
                repr(self.verbalizer),
                "use 'auto' to pick label words on dev",
                where="TeacherConfig.verbalizer",
            )
        if self.aggregate not in AGGREGATES:
            raise TaskError(
                f"aggregate one of {AGGREGATES}",
                repr(self.aggregate),
                "use 'mean' (length-normalised) or 'sum'",
                where="TeacherConfig.aggregate",
            )
        if self.multi_token not in MULTI_TOKEN:
            raise TaskError(
                f"multi_token one of {MULTI_TOKEN}",
                repr(self.multi_token),
                "use 'auto'",
                where="TeacherConfig.multi_token",
            )
        if self.calibration not in CALIBRATIONS:
            raise TaskError(
                f"calibration one of {CALIBRATIONS}",
                repr(self.calibration),
                "use 'auto' to pick on dev",
                where="TeacherConfig.calibration",
            )
        for name in (
            "max_length",
            "batch_size",
            "eval_batch_size",
            "epochs",
            "self_train_pool",
            "self_train_per_label",
        ):
            v = getattr(self, name)
            if not isinstance(v, int) or v < 1:
                raise TaskError(
                    "a positive integer", f"{name}={v!r}", f"set {name} to 1 or more", where=f"TeacherConfig.{name}"
                )
        for name in ("icl_shots", "self_train_rounds", "lora_rank"):
            v = getattr(self, name)
            if not isinstance(v, int) or v < 0:
                raise TaskError(
                    "an integer >= 0", f"{name}={v!r}", f"set {name} to 0 or more", where=f"TeacherConfig.{name}"
                )
        if not (0 < self.lr < 1):
            raise TaskError(
                "a learning rate between 0 and 1",
                repr(self.lr),
                "typical values are 1e-5 .. 1e-4",
                where="TeacherConfig.lr",
            )
        if not (0 <= self.warmup_ratio < 1) or not (0 <= self.label_smoothing < 1):
            raise TaskError(
                "warmup_ratio and label_smoothing in [0, 1)",
                f"{self.warmup_ratio}, {self.label_smoothing}",
                "use e.g. 0.1 and 0.0",
                where="TeacherConfig",
            )
        if not self.lora_alpha > 0:
            raise TaskError(
                "a positive lora_alpha",
                repr(self.lora_alpha),
                "use e.g. 16 (the adapters' scale is lora_alpha / lora_rank)",
                where="TeacherConfig.lora_alpha",
            )
        if self.select_dev is not None and (not isinstance(self.select_dev, int) or self.select_dev < 1):
            raise TaskError(
                "None or a positive number of dev texts",
                repr(self.select_dev),
                "pass None to select on all of dev",
                where="TeacherConfig.select_dev",
            )
        if self.train_layers is not None and (not isinstance(self.train_layers, int) or self.train_layers < 1):
            raise TaskError(
                "None or a positive number of top layers",
                repr(self.train_layers),
                "pass None to train every layer",
                where="TeacherConfig.train_layers",
            )
        if self.dtype not in ("auto", "float32", "bfloat16", "float16"):
            raise TaskError(
                "dtype one of auto, float32, bfloat16, float16",
                repr(self.dtype),
                "use 'auto'",
                where="TeacherConfig.dtype",
            )
        return self

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "TeacherConfig":
        """Build from JSON; unknown keys are refused so typos do not pass silently."""
        known = {f.name for f in fields(cls)}
        extra = sorted(set(d) - known)
        if extra:
            raise TaskError(
                f"TeacherConfig fields ({', '.join(sorted(known))})",
                f"unknown {extra}",
                "remove or rename these keys",
                where="teacher config",
            )
        return cls(**d).validate()
