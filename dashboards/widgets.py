"""Pieces the views share: paged tables, links between views, a card opener, and safe text display."""

from __future__ import annotations

import html
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import polars as pl
import streamlit as st
from streamlit.navigation.page import StreamlitPage

if TYPE_CHECKING:
    from dashboards.context import Context

PAGE_ROWS = 25
PAGES: dict[str, StreamlitPage] = {}  # name -> page, filled by `dashboards.app` on every run


def link(name: str, label: str, key: str | None = None, **params: Any) -> None:
    """A link to another view, with its query parameters (so the link can be shared)."""
    page = PAGES.get(name)
    if page is None:
        return
    st.page_link(page, label=label, query_params={k: str(v) for k, v in params.items() if v is not None})


def paged(frame: pl.DataFrame, key: str, rows: int = PAGE_ROWS) -> pl.DataFrame:
    """Show one page of ``frame`` with a page picker (a frame can hold hundreds of thousands of rows)."""
    pages = max(1, -(-frame.height // rows))
    page = 1
    if int(st.session_state.get(f"{key}_page", 1)) > pages:  # the rows changed under the page number
        st.session_state.pop(f"{key}_page")
    if pages > 1:
        page = int(st.number_input(f"page (of {pages:,})", min_value=1, max_value=pages, value=1, step=1,
                                   key=f"{key}_page"))
    part = frame.slice((page - 1) * rows, rows)
    st.dataframe(part, hide_index=True, width="stretch")
    return part


def remote_paged(fetch: Callable[[int, int], tuple[int, pl.DataFrame]], key: str, rows: int = PAGE_ROWS
                 ) -> tuple[int, pl.DataFrame]:
    """Like `paged`, for rows queried one page at a time (``fetch(limit, offset)`` -> (total, page))."""
    state = f"{key}_page"
    page = int(st.session_state.get(state, 1))
    total, part = fetch(rows, (page - 1) * rows)
    pages = max(1, -(-total // rows))
    if page > pages:  # the filter changed under the page number
        page = 1
        st.session_state.pop(state)
        total, part = fetch(rows, 0)
    if pages > 1:
        st.number_input(f"page (of {pages:,})", min_value=1, max_value=pages, value=1, step=1, key=state)
    st.dataframe(part, hide_index=True, width="stretch")
    return total, part


def card_opener(repo_ids: list[str], snapshot_id: int, key: str) -> None:
    """Pick one of ``repo_ids`` and open its card view."""
    if not repo_ids:
        return
    repo = st.selectbox("dataset card", repo_ids, key=f"{key}_card")
    if repo:
        link("card", f"open the card of {repo}", snapshot=snapshot_id, repo=repo)


def text_block(text: str, lang: str | None = None, max_chars: int = 1200, mark: tuple[int, int] | None = None) -> None:
    """Show untrusted text as text (escaped), tagged with its language so the browser picks the script's
    font; ``mark`` highlights a span (start, end)."""
    shown = text[:max_chars]
    if mark and mark[0] < len(shown):
        a, b = mark[0], min(mark[1], len(shown))
        body = html.escape(shown[:a]) + "<mark>" + html.escape(shown[a:b]) + "</mark>" + html.escape(shown[b:])
    else:
        body = html.escape(shown)
    more = f" … ({len(text) - max_chars:,} more characters)" if len(text) > max_chars else ""
    attr = f' lang="{html.escape(lang)}"' if lang else ""
    st.markdown(f'<div class="curate-text"{attr} style="white-space: pre-wrap; border-left: 3px solid #ccc; '
                f'padding-left: .6em">{body}{html.escape(more)}</div>', unsafe_allow_html=True)


def recorded_file(ctx: Context, label: str, key: str, recorded: list[str], default: str, what: str,
                  suffixes: tuple[str, ...]) -> Path | None:
    """Pick a file the dashboard may read: ``default`` and the ``recorded`` run outputs are offered, another
    path can be typed. Its real path, or None (said on the page) when nothing is chosen or the path is not one
    the server may read (`Context.readable`)."""
    options = list(dict.fromkeys([*([default] if default else []), *recorded]))
    path = st.selectbox(label, options, key=key, accept_new_options=True, index=0 if options else None,
                        placeholder="type a path" if not options else "choose a file")
    if not path:
        st.info(f"No {what} is recorded in this store yet: type the path of one.")
        return None
    real = ctx.readable(path, suffixes)
    if real is None:
        st.warning(f"{path}: not a {what} this dashboard may read (the output of a run recorded in the store, "
                   "or a file under --scores-root / CURATE_SCORES_ROOT)")
    return real
