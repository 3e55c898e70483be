"""Chat prompts: the template becomes the user turn of the tokenizer's chat template, scored like any prompt."""

from __future__ import annotations

import pytest

from factory.errors import TaskError
from factory.spec import Label
from teacher.prompts import PromptBuilder, default_template, fill_prompt

# Role markers from characters the tiny char-level vocabulary has.
CHAT = "{% for m in messages %}[{{ m['role'] }}]{{ m['content'] }}\n{% endfor %}{% if add_generation_prompt %}[assistant]{% endif %}"


@pytest.fixture
def chat_tok(tiny_model_dir):
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(tiny_model_dir)
    tok.chat_template = CHAT
    return tok


LABELS = [Label("neg", "negative", verbalizer=("差",)), Label("pos", "positive", verbalizer=("好",))]


def test_fill_prompt_lists_the_label_words_and_names_the_text():
    t = fill_prompt(default_template("zh", chat=True), LABELS, "zh", "评论")
    assert "可选类别：差、好" in t and "评论：{text}" in t
    assert fill_prompt(default_template("en", chat=True), LABELS, "en", "review").endswith("Review: {text}")


def test_chat_builder_wraps_the_text_in_the_rendered_template(chat_tok):
    pb = PromptBuilder(chat_tok, "评论:{text}", LABELS, chat=True, system="总体评价")
    ids = pb.query_ids("很好用")
    rendered = chat_tok.apply_chat_template(
        [{"role": "system", "content": "总体评价"}, {"role": "user", "content": "评论:很好用"}],
        add_generation_prompt=True,
        tokenize=False,
    )
    assert ids == chat_tok.encode(rendered, add_special_tokens=False)
    assert pb.prefix_ids == []  # the chat template carries its own start tokens
    assert pb.label_token_ids == [
        chat_tok.encode("差", add_special_tokens=False),
        chat_tok.encode("好", add_special_tokens=False),
    ]


def test_chat_builder_truncates_the_text_not_the_template(chat_tok):
    pb = PromptBuilder(chat_tok, "评论:{text}", LABELS, chat=True, max_length=3)
    text = chat_tok.decode(pb.text_ids("很好用质量好物流快")).replace(" ", "")
    assert text == "[user]评论:很好用\n[assistant]"


def test_chat_builder_refuses_demonstrations(chat_tok):
    with pytest.raises(TaskError, match="chat model"):
        PromptBuilder(chat_tok, "评论:{text}", LABELS, chat=True, demos=(("很好用", "pos"),))
