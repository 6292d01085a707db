"""`curate hub` commands (registered on import by `curate.cli`)."""

from __future__ import annotations
