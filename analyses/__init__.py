"""Analyses: from the store (or polars frames) to tables and figures."""
