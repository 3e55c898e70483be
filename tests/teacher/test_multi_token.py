"""Many multi-token labels: "embedding" reads them at one position, "auto" switches to it above a threshold."""

from __future__ import annotations

import numpy as np
import torch

from teacher import TeacherConfig, adapt
from teacher.frozen import lower_states, split_layer, upper_scores
from teacher.teacher import multi_token_mode

TEMPLATE = "评论:{text}\n总体评价:"


def _cfg(model_dir, **kw) -> TeacherConfig:
    return TeacherConfig(model=str(model_dir), template=TEMPLATE, progress=False, calibration="none", **kw)


def test_embedding_mode_scores_hidden_state_against_mean_of_label_token_rows(tiny_model_dir, sentiment_spec):
    teacher = adapt(sentiment_spec, _cfg(tiny_model_dir, mode="zero-shot", multi_token="embedding"))
    scorer = teacher.scorer
    assert scorer.multi == []  # '中性' has two tokens but is read at one position
    rows = teacher.rows(["很好用", "一般般"])
    with torch.inference_mode():
        got = scorer.scores(rows)
        h = teacher.model.model(input_ids=torch.tensor([rows[0]])).last_hidden_state[0, -1]
        w = teacher.model.get_output_embeddings().weight
        want = torch.stack([h @ w[torch.tensor(s)].mean(0) for s in scorer.label_seqs])
    cap = teacher.model.config.final_logit_softcapping
    if cap:
        want = torch.tanh(want / cap) * cap
    torch.testing.assert_close(got[0], want.float(), rtol=1e-4, atol=1e-5)
    probs = teacher.label(["很好用", "一般般"]).probs
    np.testing.assert_allclose(probs.sum(1), 1.0, rtol=1e-6)


def test_embedding_mode_uses_the_frozen_layer_cache(tiny_model_dir, sentiment_spec):
    teacher = adapt(sentiment_spec, _cfg(tiny_model_dir, mode="zero-shot", multi_token="embedding"))
    rows = teacher.rows(["很好用", "物流慢不满意", "中性一般"])
    split = split_layer(teacher.scorer, train_layers=1, freeze_embeddings=True)
    assert split == 1
    with torch.inference_mode():
        torch.testing.assert_close(
            upper_scores(teacher.scorer, lower_states(teacher.scorer, rows, split, 2), split),
            teacher.scorer.scores(rows),
            rtol=1e-4,
            atol=1e-5,
        )


def test_auto_keeps_exact_sequence_scoring_for_few_multi_token_labels():
    few = [[5], [6, 7], [8, 9]]
    many = [[i, i + 1] for i in range(0, 40, 2)]
    assert multi_token_mode(TeacherConfig(), few) == "sequence"
    assert multi_token_mode(TeacherConfig(), many) == "embedding"
    assert multi_token_mode(TeacherConfig(multi_token="sequence"), many) == "sequence"
