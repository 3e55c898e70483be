"""The water level: a Prefect event when enough new human answers arrived, and its trigger.

``check_and_emit`` runs after every pull of answers. When the new answers since
the last iteration reach the task's ``water_level`` it emits
``factory.water-level.reached`` for the resource ``factory.task.<name>``, once
per level; the iteration deployment carries :func:`iteration_trigger`, so
Prefect's automation service starts an iteration run for that task.
"""

from __future__ import annotations

from factory.workspace import Workspace
from pipelines import queue

EVENT = "factory.water-level.reached"
RESOURCE_PREFIX = "factory.task."


def resource_for(task: str) -> dict[str, str]:
    return {"prefect.resource.id": f"{RESOURCE_PREFIX}{task}", "prefect.resource.name": task, "factory.task": task}


def check_and_emit(task: str, ws: Workspace | None = None) -> dict:
    """Emit the event when the level is reached and not yet announced; return the level status."""
    ws = ws or Workspace()
    level = queue.water_level(task, ws)
    if level["reached"] and not level["announced"]:
        from prefect.events import emit_event

        emit_event(
            EVENT, resource=resource_for(task), payload={k: level[k] for k in ("answers", "consumed", "new", "level")}
        )
        queue.write_state(ws, task, emitted_at=level["answers"])
        level = {**level, "announced": True, "emitted": True}
    return level


def iteration_trigger(enabled: bool = True):
    """Deployment trigger: run the iteration flow for the task named in the event."""
    from prefect.events import DeploymentEventTrigger

    return DeploymentEventTrigger(
        name="water-level",
        enabled=enabled,
        expect={EVENT},
        match={"prefect.resource.id": f"{RESOURCE_PREFIX}*"},
        parameters={"task_name": "{{ event.resource['factory.task'] }}"},
    )
