"""Task intake: the user's files read, checked and stored as a task (readers, labels, checks, data warnings).

Above the core (:mod:`factory`), below the stages: nothing here imports a model library.
"""

from intake.create import IntakeConfig, build_spec, create_task, intake

__all__ = ["IntakeConfig", "build_spec", "create_task", "intake"]
