"""A simulated annotator: answers queued questions from a labeled pool, through Label Studio.

Used by tests and benchmarks to stand in for people. It knows the true labels of
texts the factory only saw as unlabeled (FewCLUE's other train_k/dev_k folds),
reads the real queue with :func:`pipelines.labelstudio.list_queue` and answers
with :func:`pipelines.labelstudio.submit_answer`, exactly like the UI does.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from factory.spec import Example
from factory.workspace import Workspace
from pipelines import labelstudio


@dataclass
class SimulatedAnnotator:
    """Answers questions whose text is in ``oracle`` (text -> label id); others are left open."""

    oracle: dict[str, str]
    answered: list[int] = field(default_factory=list)

    @classmethod
    def from_examples(cls, examples: list[Example]) -> "SimulatedAnnotator":
        return cls({e.text: e.label for e in examples if e.label is not None})

    def answer(self, task: str, n: int | None = None, ws: Workspace | None = None) -> int:
        """Answer up to ``n`` open questions (all when ``None``), least sure first; return how many."""
        done = 0
        for q in labelstudio.list_queue(task, ws):
            if n is not None and done >= n:
                break
            label = self.oracle.get(q["text"])
            if label is None:
                continue
            labelstudio.submit_answer(task, q["ls_task_id"], label, ws)
            self.answered.append(q["ls_task_id"])
            done += 1
        return done


def oracle_examples(task: str, splits: tuple[int, ...] = (1,), data=None) -> list[Example]:
    """Labeled texts of other few-shot folds (train_k + dev_k), to hide in the pool and answer from."""
    from intake.benchmark_data import load_benchmark_task

    out: list[Example] = []
    for k in splits:
        spec = load_benchmark_task(task, split=k, data=data)
        out.extend(spec.gold + spec.dev)
    return out
