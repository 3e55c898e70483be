"""Teacher: adapt a causal LM on the gold set and label pools with calibrated probabilities."""

from teacher.config import TeacherConfig
from teacher.select import select_questions
from teacher.teacher import LabelResult, Teacher, adapt

__all__ = ["TeacherConfig", "adapt", "Teacher", "LabelResult", "select_questions"]
