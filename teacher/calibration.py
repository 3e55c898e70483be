"""Calibration: make the teacher's probabilities mean what they say.

Two corrections, both fitted on dev and stored as plain numbers:
contextual calibration (Zhao et al., 2021) removes the prompt's prior for some
labels by dividing out the probabilities it gives to content-free inputs, and
temperature scaling (Guo et al., 2017) fits one temperature by dev NLL.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np
from scipy.optimize import minimize_scalar
from scipy.special import log_softmax, softmax


def expected_calibration_error(probs: np.ndarray, labels: np.ndarray, n_bins: int = 15) -> float:
    """ECE with equal-width confidence bins: sum_b |B|/n * |accuracy(B) - confidence(B)|."""
    probs = np.asarray(probs, dtype=np.float64)
    labels = np.asarray(labels)
    if len(labels) == 0:
        return float("nan")
    conf = probs.max(1)
    correct = (probs.argmax(1) == labels).astype(np.float64)
    bins = np.minimum((conf * n_bins).astype(int), n_bins - 1)
    ece = 0.0
    for b in range(n_bins):
        sel = bins == b
        if sel.any():
            ece += sel.mean() * abs(correct[sel].mean() - conf[sel].mean())
    return float(ece)


def nll(scores: np.ndarray, labels: np.ndarray) -> float:
    lp = log_softmax(np.asarray(scores, dtype=np.float64), axis=1)
    return float(-lp[np.arange(len(labels)), labels].mean())


@dataclass
class Calibration:
    """``probs = softmax((log_softmax(scores) + bias) / temperature)``."""

    temperature: float = 1.0
    bias: list[float] = field(default_factory=list)
    kind: str = "none"

    def logits(self, scores: np.ndarray) -> np.ndarray:
        z = log_softmax(np.asarray(scores, dtype=np.float64), axis=1)
        if self.bias:
            z = z + np.asarray(self.bias)[None, :]
        return z / self.temperature

    def apply(self, scores: np.ndarray) -> np.ndarray:
        return softmax(self.logits(scores), axis=1)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "Calibration":
        return cls(
            temperature=float(d["temperature"]), bias=[float(x) for x in d.get("bias", [])], kind=d.get("kind", "none")
        )


def contextual_bias(content_free_scores: np.ndarray) -> list[float]:
    """-log of the mean label distribution the model gives to content-free inputs."""
    p = softmax(np.asarray(content_free_scores, dtype=np.float64), axis=1).mean(0)
    return (-np.log(np.clip(p, 1e-12, None))).tolist()


def fit_temperature(logits: np.ndarray, labels: np.ndarray) -> float:
    """The temperature in [0.05, 20] that minimises NLL of ``logits / T`` on ``labels``."""
    logits = np.asarray(logits, dtype=np.float64)
    res = minimize_scalar(
        lambda lt: nll(logits / np.exp(lt), labels), bounds=(np.log(0.05), np.log(20.0)), method="bounded"
    )
    return float(np.exp(res.x))


def fit_calibration(
    scores: np.ndarray, labels: np.ndarray, kind: str, content_free_scores: np.ndarray | None = None
) -> Calibration:
    """Fit ``kind`` ("none", "temperature", "contextual", "contextual+temperature" or "auto") on dev.

    "auto" tries with and without the contextual bias and keeps the one with the
    better dev accuracy (then NLL), always with a fitted temperature.
    """
    labels = np.asarray(labels)
    if kind == "none" or len(labels) == 0:
        return Calibration(kind="none")
    bias = contextual_bias(content_free_scores) if content_free_scores is not None and len(content_free_scores) else []
    if kind == "auto":
        cands = [fit_calibration(scores, labels, "temperature")]
        if bias:
            cands.append(fit_calibration(scores, labels, "contextual+temperature", content_free_scores))

        def key(c: Calibration):
            p = c.apply(scores)
            return (-(p.argmax(1) == labels).mean(), nll(np.log(np.clip(p, 1e-12, None)), labels))

        return min(cands, key=key)
    use_bias = bias if kind.startswith("contextual") else []
    cal = Calibration(bias=use_bias, kind=kind)
    if kind.endswith("temperature"):
        cal.temperature = fit_temperature(cal.logits(scores), labels)
    return cal
