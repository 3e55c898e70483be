"""Teacher: a committee of calibrated members (LLM prompt teacher, embedding teacher) that labels pools."""

from teacher.committee import Committee, CommitteeConfig, adapt_committee, embedding_member, load_labeler
from teacher.config import TeacherConfig
from teacher.embedding import EmbeddingTeacher, EmbeddingTeacherConfig, adapt_embedding
from teacher.select import select_questions
from teacher.teacher import LabelResult, Teacher, adapt

__all__ = [
    "Committee",
    "CommitteeConfig",
    "EmbeddingTeacher",
    "EmbeddingTeacherConfig",
    "LabelResult",
    "Teacher",
    "TeacherConfig",
    "adapt",
    "adapt_committee",
    "adapt_embedding",
    "embedding_member",
    "load_labeler",
    "select_questions",
]
