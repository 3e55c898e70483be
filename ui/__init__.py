"""The Streamlit front door: ``streamlit run ui/app.py`` (``factory up`` serves it).

Pages live in ``ui/views``; the modules beside them (upload, samples, artifacts,
runs, services, predict) hold what the pages call, without Streamlit where possible.
"""
