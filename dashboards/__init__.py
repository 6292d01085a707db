"""Dashboards: a read-only Streamlit view of the store."""
