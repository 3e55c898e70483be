"""Orchestration: Prefect flows and tasks over the library stages, Label Studio queues, the water level.

Modules: ``flows`` (production, iteration, sync-queues), ``tasks`` (one library
call each), ``labelstudio`` (queue client API), ``annotator`` (simulated
annotator), ``waterlevel`` (event + trigger), ``deployments`` (serve, client
API), ``services`` (`factory up/down/status`). Importing this package does not
import prefect, torch or transformers.
"""

from pipelines.config import PipelineConfig

__all__ = ["PipelineConfig"]
