"""The static student: one vector per token of the task's vocabulary, averaged, then a linear head.

Built the way model2vec builds a static model: every vocabulary piece is run
alone through a sentence encoder (EmbeddingGemma by default, its pooling and
dense layers included), the vectors are reduced with PCA and scaled by a
smooth inverse frequency weight ``a / (a + p(token))`` so that frequent pieces
count less in the average. The vocabulary is the encoder tokenizer pruned to
the pieces the task's texts use (:mod:`student.vocab`; a WordPiece encoder keeps its whole vocabulary). The vectors and the
head are then trained by the same distillation loop as every other student.

model2vec's own ``distill`` is not used: its ``distill`` extra pins
``transformers<5.4`` (this project runs 5.x) and its classifier pipeline is
saved as a pickle, which the factory never loads from a user's file.

The model is a small ``transformers`` ``PreTrainedModel`` (registered with the
Auto classes when :mod:`student` is imported), so the training loop, the
ONNX export and ``load_student`` treat it like any other classifier.
Inference is an embedding lookup and a mean: thousands of texts a second.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Sequence

import numpy as np
import torch
from torch import nn
from transformers import AutoConfig, AutoModelForSequenceClassification, PretrainedConfig, PreTrainedModel
from transformers.modeling_outputs import SequenceClassifierOutput

MODEL_TYPE = "factory-static"
SIF_A = 1e-3  # the smooth-inverse-frequency constant of Arora et al. (2017), as model2vec uses it


class StaticConfig(PretrainedConfig):
    """Vocabulary size, vector width and label map of a static student."""

    model_type = MODEL_TYPE

    def __init__(self, vocab_size: int = 1, hidden_size: int = 256, **kwargs):
        self.vocab_size, self.hidden_size = vocab_size, hidden_size
        super().__init__(**kwargs)


class StaticForSequenceClassification(PreTrainedModel):
    """``logits = W · mean(E[input_ids] over the attention mask) + b``.

    Shapes: ``input_ids`` and ``attention_mask`` (batch, seq) → ``logits`` (batch, num_labels).
    """

    config_class = StaticConfig
    base_model_prefix = "static"
    _supports_attention_backend = True

    def __init__(self, config: StaticConfig):
        super().__init__(config)
        self.embed = nn.Embedding(config.vocab_size, config.hidden_size)
        self.score = nn.Linear(config.hidden_size, config.num_labels)
        self.post_init()

    def _init_weights(self, module):
        if isinstance(module, nn.Linear):
            nn.init.normal_(module.weight, std=0.02)
            nn.init.zeros_(module.bias)
        elif isinstance(module, nn.Embedding):
            nn.init.normal_(module.weight, std=0.02)

    def forward(self, input_ids=None, attention_mask=None, labels=None, **kwargs):
        if attention_mask is None:
            attention_mask = torch.ones_like(input_ids)
        m = attention_mask.unsqueeze(-1).to(self.embed.weight.dtype)
        pooled = (self.embed(input_ids) * m).sum(1) / m.sum(1).clamp_min(1.0)
        logits = self.score(pooled)
        loss = nn.functional.cross_entropy(logits, labels) if labels is not None else None
        return SequenceClassifierOutput(loss=loss, logits=logits)


AutoConfig.register(MODEL_TYPE, StaticConfig, exist_ok=True)
AutoModelForSequenceClassification.register(StaticConfig, StaticForSequenceClassification, exist_ok=True)


def piece_vectors(
    encoder, old_ids: Sequence[int], bos: int | None, eos: int | None, batch_size: int = 256, progress: bool = False
) -> np.ndarray:
    """(n, D) sentence-encoder outputs of each piece alone (``[bos] piece [eos]``), in ``old_ids`` order."""
    from tqdm.auto import tqdm

    wrap = [i for i in (bos,) if i is not None], [i for i in (eos,) if i is not None]
    out = []
    device = next(encoder.parameters()).device
    with torch.no_grad():
        for s in tqdm(range(0, len(old_ids), batch_size), desc="static vectors", disable=not progress, leave=False):
            ids = torch.tensor([wrap[0] + [int(i)] + wrap[1] for i in old_ids[s : s + batch_size]], device=device)
            feats = encoder({"input_ids": ids, "attention_mask": torch.ones_like(ids)})
            out.append(feats["sentence_embedding"].float().cpu().numpy())
    return np.concatenate(out) if out else np.zeros((0, 1), dtype=np.float32)


def sif_weights(tokenizer, texts: Sequence[str], vocab_size: int) -> np.ndarray:
    """``a / (a + p(piece))`` with ``p`` the piece's share of all pieces in ``texts`` (unseen pieces weigh 1)."""
    counts: Counter = Counter()
    for enc in tokenizer.encode_batch(list(texts), add_special_tokens=False):
        counts.update(enc.ids)
    total = max(sum(counts.values()), 1)
    w = np.ones(vocab_size, dtype=np.float32)
    for i, c in counts.items():
        if i < vocab_size:
            w[i] = SIF_A / (SIF_A + c / total)
    return w


def reduce_dims(vectors: np.ndarray, dims: int, seed: int) -> np.ndarray:
    """PCA to at most ``dims`` components (fewer when there are fewer pieces than ``dims``)."""
    from sklearn.decomposition import PCA

    k = min(dims, vectors.shape[0], vectors.shape[1])
    return PCA(n_components=k, random_state=seed).fit_transform(vectors).astype(np.float32)


def build_static(
    source: str, label_ids: Sequence[str], texts: Sequence[str], dims: int, seed: int, out_dir: Path
) -> dict:
    """Write a static student made from the sentence encoder ``source`` to ``out_dir``; return its info."""
    from sentence_transformers import SentenceTransformer

    from factory.models import resolve_model
    from student.build import label_maps, save_derived
    from factory.errors import TaskError
    from student.vocab import PrunedVocab, prune_tokenizer

    path = source if Path(source).is_dir() else resolve_model(source).source
    encoder = SentenceTransformer(path, device="cpu").eval()
    tok = encoder.tokenizer
    full = tok.backend_tokenizer.to_str()
    try:
        vocab = prune_tokenizer(full, texts)
    except TaskError:  # not a byte-fallback BPE (e.g. a WordPiece encoder): keep its whole vocabulary
        vocab = PrunedVocab(full, list(range(tok.backend_tokenizer.get_vocab_size())), 0)
    # [bos] piece [eos] (Gemma); [CLS] piece [SEP] where the tokenizer has no bos/eos.
    bos = tok.bos_token_id if tok.bos_token_id is not None else tok.cls_token_id
    eos = tok.eos_token_id if tok.eos_token_id is not None else tok.sep_token_id
    vectors = piece_vectors(encoder, vocab.old_ids, bos, eos)
    del encoder
    vectors = reduce_dims(vectors, dims, seed)
    pruned = vocab.tokenizer()
    vectors *= sif_weights(pruned, texts, vocab.size)[:, None]
    # Rescale so the mean vector has unit-scale entries: the head then starts in a sensible range.
    vectors /= max(float(np.linalg.norm(vectors, axis=1).mean()), 1e-6) / np.sqrt(vectors.shape[1])
    pad = pruned.token_to_id(tok.pad_token) if tok.pad_token else None
    cfg = StaticConfig(
        vocab_size=vocab.size,
        hidden_size=vectors.shape[1],
        num_labels=len(label_ids),
        pad_token_id=pad,
        **label_maps(label_ids),
    )
    torch.manual_seed(seed)
    model = StaticForSequenceClassification(cfg)
    with torch.no_grad():
        model.embed.weight.copy_(torch.from_numpy(vectors))
    save_derived(model, vocab.tokenizer_json, tok, out_dir)
    return {
        "encoder": source,
        "dims": int(vectors.shape[1]),
        "vocab_size": vocab.size,
        "teacher_vocab_size": len(tok),
        "used_pieces": vocab.used_pieces,
    }
