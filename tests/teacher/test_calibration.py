"""Calibration fitted on one half of a fixture lowers ECE on the other half."""

from __future__ import annotations

import numpy as np

from teacher.calibration import Calibration, expected_calibration_error, fit_calibration


def _overconfident(n=2000, seed=0):
    """3 classes, ~70% accurate scores scaled so the model claims ~99% confidence."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, n)
    clean = rng.normal(0, 1, (n, 3))
    clean[np.arange(n), y] += 1.5
    return clean * 8.0, y


def test_ece_is_zero_for_perfectly_calibrated_and_large_for_overconfident():
    p = np.array([[1.0, 0.0], [0.0, 1.0]])
    assert expected_calibration_error(p, np.array([0, 1])) == 0.0
    assert expected_calibration_error(p, np.array([1, 0])) == 1.0


def test_temperature_calibration_improves_ece_on_fixture():
    scores, y = _overconfident()
    fit, held = slice(0, 1000), slice(1000, None)
    cal = fit_calibration(scores[fit], y[fit], "temperature")
    assert cal.temperature > 2.0
    raw_ece = expected_calibration_error(Calibration().apply(scores[held]), y[held])
    cal_ece = expected_calibration_error(cal.apply(scores[held]), y[held])
    assert cal_ece < raw_ece / 3, (raw_ece, cal_ece)
    # Temperature never changes the predicted class.
    assert (cal.apply(scores[held]).argmax(1) == scores[held].argmax(1)).all()


def test_contextual_calibration_removes_a_prompt_prior():
    rng = np.random.default_rng(1)
    y = rng.integers(0, 2, 1000)
    signal = np.where(y[:, None] == np.arange(2)[None, :], 1.0, 0.0) + rng.normal(0, 0.7, (1000, 2))
    prior = np.array([0.0, 2.5])  # the prompt pushes every input toward class 1
    scores = signal + prior
    content_free = np.tile(prior, (3, 1)) + rng.normal(0, 0.05, (3, 2))
    raw_acc = (scores.argmax(1) == y).mean()
    cal = fit_calibration(scores[:500], y[:500], "auto", content_free)
    assert cal.kind == "contextual+temperature"
    acc = (cal.apply(scores[500:]).argmax(1) == y[500:]).mean()
    assert acc > raw_acc + 0.2, (raw_acc, acc)
