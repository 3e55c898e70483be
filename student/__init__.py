"""Student stage: build a small model, distill the teacher into it, evaluate it, export it."""

from student.artifact import StudentArtifact
from student.build import build_student, choose_layers, derive_student
from student.config import DistillConfig
from student.data import DistillData, SoftExample
from student.distill import distill, prepare_job
from student.evaluate import evaluate, measure_speed
from student.export import export_artifact
from student.static import StaticForSequenceClassification  # registers the static kind with the Auto classes
from student.runtime import StudentClassifier, load_student
from student.vocab import PrunedVocab, prune_tokenizer

__all__ = [
    "DistillConfig",
    "DistillData",
    "SoftExample",
    "StudentArtifact",
    "build_student",
    "choose_layers",
    "derive_student",
    "distill",
    "evaluate",
    "export_artifact",
    "load_student",
    "measure_speed",
    "StaticForSequenceClassification",
    "StudentClassifier",
    "prepare_job",
    "prune_tokenizer",
    "PrunedVocab",
]
