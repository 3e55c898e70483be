"""Prompts and verbalizers: turn texts into token ids and labels into token sequences.

A prompt is ``head + text + tail`` (the template split at ``{text}``); the
teacher scores each label's verbalizer tokens right after it. Pieces are
tokenized separately so a long text can be truncated without cutting the
prompt words, and so training and labeling see exactly the same ids.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from factory.errors import TaskError
from factory.spec import Example, Label

DEFAULT_TEMPLATES = {
    "zh": "内容:{text}\n类别:",
    "en": "Text: {text}\nLabel:",
}
# Chat-templated instruct models: the user turn (``{options}`` lists the answer words) and the system turn.
DEFAULT_CHAT_TEMPLATES = {
    "zh": "判断下面这条{what}属于哪一类。可选类别：{options}。只回答类别名称。\n{what}：{text}",
    "en": "Classify the following {what}. Options: {options}. Answer with one option only.\n{What}: {text}",
}
DEFAULT_SYSTEM = {"zh": "你是一个文本分类助手。", "en": "You are a text classification assistant."}
DEFAULT_TEXT_NAME = {"zh": "文本", "en": "text"}
_SENTINEL = "\x00TEXT\x00"


def default_template(language: str, chat: bool = False) -> str:
    table = DEFAULT_CHAT_TEMPLATES if chat else DEFAULT_TEMPLATES
    return table.get(language, table["en"])


def fill_prompt(template: str, labels: list[Label], language: str, text_name: str | None = None) -> str:
    """Fill ``{options}``/``{what}``/``{What}`` of a template; ``{text}`` stays for the builder."""
    what = text_name or DEFAULT_TEXT_NAME.get(language, "text")
    sep = "、" if language == "zh" else ", "
    options = sep.join(lab.words()[0] for lab in labels)
    out = template
    for key, value in (("{options}", options), ("{what}", what), ("{What}", what[:1].upper() + what[1:])):
        out = out.replace(key, value)
    return out


@dataclass
class PromptBuilder:
    """Token ids for prompts, in-context demonstrations and verbalizers of one task."""

    tokenizer: object
    template: str
    labels: list[Label]
    max_length: int = 128
    demos: tuple[tuple[str, str], ...] = ()  # (text, label id) shown before every query in ICL mode
    chat: bool = False  # wrap the template as the user turn of the tokenizer's chat template
    system: str | None = None  # the system turn in chat mode

    def __post_init__(self):
        if self.chat:
            if self.demos:
                raise TaskError(
                    "zero-shot or fine-tuned prompts with a chat model",
                    "in-context demonstrations",
                    "use mode='zero-shot' or 'finetune' with chat models",
                    where="TeacherConfig.mode",
                )
            msgs = ([{"role": "system", "content": self.system}] if self.system else []) + [
                {"role": "user", "content": self.template.replace("{text}", _SENTINEL, 1)}
            ]
            rendered = self.tokenizer.apply_chat_template(msgs, add_generation_prompt=True, tokenize=False)
            self.head, self.tail = rendered.split(_SENTINEL, 1)
        else:
            self.head, self.tail = self.template.split("{text}", 1)
        self._head_ids = self._encode(self.head)
        self._tail_ids = self._encode(self.tail)
        self.label_token_ids = [self._verbalize(lab) for lab in self.labels]
        self.prefix_ids = self._bos() + self._demo_ids()

    # -- pieces ---------------------------------------------------------------
    def _encode(self, s: str) -> list[int]:
        return list(self.tokenizer.encode(s, add_special_tokens=False)) if s else []

    def _bos(self) -> list[int]:
        if self.chat:  # the rendered chat template carries its own start tokens
            return []
        bos = getattr(self.tokenizer, "bos_token_id", None)
        return [bos] if bos is not None else []

    def _verbalize(self, label: Label) -> list[int]:
        """Tokens of the label's first verbalizer word, as they follow the prompt's tail."""
        word = label.words()[0]
        # Tokenize in context: some tokenizers merge the word with the tail (spaces, punctuation).
        tail_ids = self._encode(self.tail)
        both = self._encode(self.tail + (" " if self.tail.endswith(":") and word.isascii() else "") + word)
        ids = (
            both[len(tail_ids) :]
            if both[: len(tail_ids)] == tail_ids and len(both) > len(tail_ids)
            else self._encode(word)
        )
        if not ids:
            raise TaskError(
                "a verbalizer word the tokenizer can encode",
                f"{word!r} for label {label.id!r} gives no tokens",
                "set Label.verbalizer to a non-empty word",
                where="verbalizer",
            )
        return ids

    def _demo_ids(self) -> list[int]:
        ids: list[int] = []
        by_id = {lab.id: i for i, lab in enumerate(self.labels)}
        newline = self._encode("\n")
        for text, label in self.demos:
            ids += self.text_ids(text) + self.label_token_ids[by_id[label]] + newline
        return ids

    # -- public ---------------------------------------------------------------
    def text_ids(self, text: str) -> list[int]:
        """Prompt ids for one text (without BOS/demonstrations), the text truncated to ``max_length``."""
        return self._head_ids + self._encode(text)[: self.max_length] + self._tail_ids

    def query_ids(self, text: str) -> list[int]:
        """Ids of the whole query when no shared prefix cache is used: BOS + demos + prompt."""
        return self.prefix_ids + self.text_ids(text)

    def content_free_texts(self) -> list[str]:
        """Inputs with no content, for contextual calibration (Zhao et al., 2021)."""
        return ["N/A", "", "[MASK]"]


def pick_demonstrations(
    gold: list[Example], labels: list[Label], per_label: int, seed: int
) -> tuple[tuple[str, str], ...]:
    """``per_label`` gold examples of every label, shortest-first within a label, in a seeded random order."""
    rng = random.Random(seed)
    demos = []
    for lab in labels:
        pool = [e for e in gold if e.label == lab.id]
        rng.shuffle(pool)
        # Short demonstrations keep the shared prefix (and so every query) cheap.
        pool = sorted(pool[: max(per_label * 3, per_label)], key=lambda e: len(e.text))[:per_label]
        demos += [(e.text, lab.id) for e in pool]
    rng.shuffle(demos)
    return tuple(demos)
