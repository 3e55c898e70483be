"""The teacher's typed configuration, checked before any model is loaded."""

from __future__ import annotations

from typing import Literal, get_args

from pydantic import Field

from factory.config import StageConfig
from factory.errors import TaskError

Mode = Literal["zero-shot", "icl", "finetune"]
CalibrationMode = Literal["auto", "none", "temperature", "contextual", "contextual+temperature"]
Aggregate = Literal["mean", "sum"]
MultiToken = Literal["auto", "sequence", "embedding"]
MODES = get_args(Mode)
CALIBRATIONS = get_args(CalibrationMode)
AGGREGATES = get_args(Aggregate)
MULTI_TOKEN = get_args(MultiToken)
# With more multi-token labels than this, "auto" reads labels at one position (see VerbalizerScorer).
AUTO_EMBEDDING_ABOVE = 8


class TeacherConfig(StageConfig):
    """Everything that decides how a teacher is adapted and how it scores labels.

    Defaults are the fine-tuning recipe that measured best on EPRSTMT dev_0 with
    the bundled Gemma-3-270M (top 6 of 18 layers, lr 1e-4, 12 epochs, best step
    on dev): dev 81-88% over three seeds, against 72-75% for all layers at
    lr 2e-5..2e-4; training only the top layers also makes each step cheaper.
    """

    model: str | None = None  # bundled name, local path or HF id; None = the language's default
    mode: Mode = "finetune"
    template: str | None = None  # must contain "{text}"; may use {options}, {what}; None = the language's default
    # "on": the template is the user turn of the model's chat template; "auto": for instruct models
    chat: Literal["auto", "on", "off"] = "auto"
    system: str | None = None  # chat mode's system turn; None = the language's default
    text_name: str | None = None  # what a text is called in prompts ("商品评论"); None = "文本" / "text"
    # "auto": pick the label words (k-th word of every label) on dev; "first": words()[0]
    verbalizer: Literal["auto", "first"] = "auto"
    aggregate: Aggregate = "mean"  # how a multi-token verbalizer's token log-probs combine
    # multi-token verbalizers: "sequence" = teacher-forced log-prob of every token (exact, costly with many labels),
    # "embedding" = one position, mean of the tokens' head rows; "auto" = embedding above 8 multi-token labels
    multi_token: MultiToken = "auto"
    max_length: int = Field(128, ge=1)  # tokens kept from each text (prompt words come on top)
    icl_shots: int = Field(2, ge=0)  # demonstrations per label for mode="icl"
    # prompt-based fine-tuning (mode="finetune")
    epochs: int = Field(12, ge=1)
    lr: float = 1e-4
    batch_size: int = Field(8, ge=1)
    warmup_ratio: float = Field(0.1, ge=0, lt=1)
    weight_decay: float = 0.01
    label_smoothing: float = Field(0.0, ge=0, lt=1)
    train_layers: int | None = 6  # train only the top N transformer layers; None = all of them
    freeze_embeddings: bool = True  # the 262k-row embedding is most of the model and tied to the head
    # LoRA (``peft``) instead of full updates of the top ``train_layers`` layers: rank-``lora_rank`` adapters on their
    # attention and MLP projections, merged into the weights after training (a saved teacher is a plain model).
    # 0 = off. Far less optimizer memory for the 1.5B model on a GPU; the same loop, selection and saving.
    lora_rank: int = Field(0, ge=0)
    lora_alpha: float = 16.0
    eval_every: int | None = Field(None, ge=1)  # optimizer steps between dev evaluations; None = once an epoch
    # dev texts the best step is picked on (a seeded sample, every label kept when dev is larger);
    # calibration always uses all of dev. Scoring dev after every epoch dominated adaptation on CPU.
    select_dev: int | None = 200
    # self-training on the unlabeled pool (iPET style): label, keep the confident, retrain
    self_train_rounds: int = Field(0, ge=0)
    self_train_pool: int = Field(256, ge=1)
    self_train_per_label: int = Field(16, ge=1)
    # calibration fitted on dev
    calibration: CalibrationMode = "auto"
    # runtime
    eval_batch_size: int = Field(16, ge=1)
    device: str = "auto"  # "auto" = cuda when available
    dtype: Literal["auto", "float32", "bfloat16", "float16"] = "auto"  # "auto" = bfloat16 on GPU, float32 on CPU
    seed: int = 0
    progress: bool = True

    def check(self) -> None:
        """The rules whose fix needs words: the prompt placeholder, the learning rate, the ``None`` choices."""
        if self.template is not None and "{text}" not in self.template:
            raise TaskError(
                "a template containing '{text}'",
                repr(self.template),
                "write the prompt with a {text} placeholder, e.g. '评论:{text}\\n总体评价:'",
                where="TeacherConfig.template",
            )
        if not (0 < self.lr < 1):
            raise TaskError(
                "a learning rate between 0 and 1",
                repr(self.lr),
                "typical values are 1e-5 .. 1e-4",
                where="TeacherConfig.lr",
            )
        if not self.lora_alpha > 0:
            raise TaskError(
                "a positive lora_alpha",
                repr(self.lora_alpha),
                "use e.g. 16 (the adapters' scale is lora_alpha / lora_rank)",
                where="TeacherConfig.lora_alpha",
            )
        if self.select_dev is not None and self.select_dev < 1:
            raise TaskError(
                "None or a positive number of dev texts",
                repr(self.select_dev),
                "pass None to select on all of dev",
                where="TeacherConfig.select_dev",
            )
        if self.train_layers is not None and self.train_layers < 1:
            raise TaskError(
                "None or a positive number of top layers",
                repr(self.train_layers),
                "pass None to train every layer",
                where="TeacherConfig.train_layers",
            )
