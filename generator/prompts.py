"""Few-shot prompts for label-conditioned generation, for base and instruct LMs.

Every prompt shows a fresh subset of the intended label's gold examples: each
label's examples are shuffled and handed out in consecutive windows, and
reshuffled when used up, so all gold examples are shown equally often while no
two consecutive prompts look the same. Base LMs get a list of
``<text_name>(<label>):<text>`` lines ending with an open line for the label;
models whose tokenizer has a chat template get the same examples inside a
short instruction. Generation stops at the first newline, so one prompt yields
at most one sample.
"""

from __future__ import annotations

import random
import re

from factory.spec import Label, TaskSpec
from generator.config import GeneratorConfig

DEFAULT_TEXT_NAME = {"zh": "文本", "en": "text"}
_LIST_MARK = re.compile(r"^\s*(?:[-*•]|\d+[.)、]|[（(]?\d+[)）])\s*")
_QUOTES = "\"'“”‘’「」『』"


def label_text(label: Label) -> str:
    """What a prompt calls a label: its description when it has one (e.g. 正面评价, 体育), else its name."""
    return (label.description or label.name).strip()


def _one_line(text: str) -> str:
    return " ".join(text.split())


class PromptBuilder:
    """Builds the prompt for one sample of a given label; deterministic for a seed."""

    def __init__(self, spec: TaskSpec, cfg: GeneratorConfig, tokenizer=None, seed: int | None = None):
        self.spec = spec
        self.cfg = cfg
        self.lang = spec.language
        self.text_name = cfg.text_name or DEFAULT_TEXT_NAME[self.lang]
        self.tokenizer = tokenizer
        has_template = bool(getattr(tokenizer, "chat_template", None))
        self.chat = cfg.chat_template == "always" or (cfg.chat_template == "auto" and has_template)
        if self.chat and not has_template:
            raise ValueError(
                "expected a tokenizer with a chat template for chat_template='always'; found none. "
                "Fix: use chat_template='auto' or 'never' with a base model"
            )
        self.rng = random.Random(cfg.seed if seed is None else seed)
        self.labels = {lab.id: lab for lab in spec.labels}
        self._gold = {lab.id: [_one_line(e.text) for e in spec.gold if e.label == lab.id] for lab in spec.labels}
        self._queue: dict[str, list[str]] = {lab: [] for lab in self._gold}

    def line_prefix(self, label_id: str) -> str:
        """The start of an example line, e.g. ``商品评论(正面评价):``."""
        name = label_text(self.labels[label_id])
        return f"{self.text_name}({name}):" if self.lang == "zh" else f"{self.text_name.capitalize()} ({name}): "

    def examples(self, label_id: str) -> list[str]:
        """The next rotating subset of this label's gold texts."""
        gold = self._gold[label_id]
        k = min(self.cfg.shots, len(gold))
        out: list[str] = []
        while len(out) < k:
            if not self._queue[label_id]:
                fresh = gold[:]
                self.rng.shuffle(fresh)
                self._queue[label_id] = fresh
            t = self._queue[label_id].pop()
            if t not in out:
                out.append(t)
        return out

    def prompt(self, label_id: str) -> str:
        """The full prompt (chat-formatted when the model has a chat template)."""
        shots = self.examples(label_id)
        if not self.chat:
            pre = self.line_prefix(label_id)
            return "".join(f"{pre}{t}\n" for t in shots) + pre.rstrip(" ")
        name = label_text(self.labels[label_id])
        listed = "\n".join(f"- {t}" for t in shots)
        if self.lang == "zh":
            msg = (
                f"下面是几条类别为“{name}”的{self.text_name}：\n{listed}\n"
                f"请写一条新的、类别为“{name}”的{self.text_name}，内容不要和例子重复。只输出这条{self.text_name}，写在一行里。"
            )
        else:
            msg = (
                f'Here are some examples of {self.text_name} labeled "{name}":\n{listed}\n'
                f'Write one new {self.text_name} labeled "{name}", different from the examples. '
                "Reply with the text only, on a single line."
            )
        head = self.tokenizer.apply_chat_template(
            [{"role": "user", "content": msg}], tokenize=False, add_generation_prompt=True
        )
        # Small instruct models tend to open with a chatty preamble line; starting
        # the answer as a list item makes the first line the sample itself.
        return head + "- "

    def clean(self, completion: str, label_id: str) -> str:
        """The sample inside a completion: first non-empty line, without list marks, quotes or an echoed prefix."""
        lines = [ln.strip() for ln in completion.split("\n") if ln.strip()]
        if not lines:
            return ""
        text = _LIST_MARK.sub("", lines[0]).strip()
        for pre in (self.line_prefix(label_id).strip(), f"{self.text_name}:", f"{self.text_name}："):
            if text.lower().startswith(pre.lower()):
                text = text[len(pre) :].strip()
        if len(text) >= 2 and text[0] in _QUOTES and text[-1] in _QUOTES:
            text = text[1:-1].strip()
        return text
