"""The factory's Streamlit app: ``streamlit run ui/app.py`` (``factory up`` does this for you).

Four pages, each a script under ``ui/views``: Tasks (create a task from a file
or a sample), Label (answer the annotation queue), Runs (start and watch the
production flow) and Models (metrics, plots, download, try it).
"""

from __future__ import annotations

from pathlib import Path

import streamlit as st

HERE = Path(__file__).resolve().parent

st.set_page_config(page_title="Model factory", page_icon=":material/factory:", layout="wide")

PAGES = [
    st.Page(HERE / "views" / "tasks.py", title="Tasks", icon=":material/upload_file:", url_path="tasks", default=True),
    st.Page(HERE / "views" / "label.py", title="Label", icon=":material/label:", url_path="label"),
    st.Page(HERE / "views" / "runs.py", title="Runs", icon=":material/play_circle:", url_path="runs"),
    st.Page(HERE / "views" / "models.py", title="Models", icon=":material/deployed_code:", url_path="models"),
]

page = st.navigation(PAGES)
with st.sidebar:
    st.markdown("### :material/factory: Model factory")
    st.caption("A dozen examples per class in, a small fast model out.")
page.run()
with st.sidebar:
    from ui.common import workspace
    from ui.services import label_studio_url, prefect_ui_url

    ws = workspace()
    st.divider()
    # Recorded service URLs only (no network call): the pages say more when a service is down.
    for name, url in (("Label Studio", label_studio_url(ws)), ("Prefect", prefect_ui_url(ws))):
        if url:
            st.markdown(f":green-badge[:material/check_circle: {name}] [{url.split('//')[-1]}]({url})")
        else:
            st.markdown(f":gray-badge[:material/cloud_off: {name}] not running · `factory up`")
    st.caption(f"Workspace: `{ws.root}`")
