"""Where the factory's services are, for the pages' links and API calls: :mod:`pipelines.endpoints`.

Environment variables (``$FACTORY_LS_URL``, ``$PREFECT_API_URL``) point the UI at servers run elsewhere;
otherwise the live servers ``factory up`` recorded in the workspace (``services/state.json``) are used.
"""

from __future__ import annotations

from pipelines.endpoints import label_studio_url, prefect_api_url, prefect_ui_url

__all__ = ["label_studio_url", "prefect_api_url", "prefect_ui_url"]
