"""One dataset's card: rendered beside its raw text, the YAML header as a table, the five template sections
(present and filled), the license as the YAML and the prose give it, arXiv and Hub links.

Opened from any list (``?repo=owner/name&snapshot=ID``). The card is text a stranger wrote: it is rendered as
Markdown without HTML, and the raw text is shown as text.
"""

from __future__ import annotations

import json
import re
from typing import Any

import polars as pl
import streamlit as st
from huggingface_hub import DatasetCard

from analyses import features, reference, study
from curate.http import public_url
from dashboards import widgets
from dashboards.context import Context, open_store

ARXIV_ID = re.compile(r"(?i)arxiv\.org/(?:abs|pdf)/([0-9]{4}\.[0-9]{4,5}|[a-z.-]+/[0-9]{7})")
RENDER_CHARS = 200_000  # a 10 MB card is stored whole; the page renders its start


@st.cache_data(max_entries=64, show_spinner=False)
def load(db: str, stamp: tuple[int, int], snapshot_id: int, repo_id: str
         ) -> tuple[dict[str, Any] | None, str | None, dict[str, Any] | None, str]:
    """(stored row, card text, features, snapshot endpoint) of one dataset."""
    with open_store(db) as store:
        row = store.dataset(snapshot_id, repo_id)
        text = store.card_text(snapshot_id, repo_id)
        feats = study.dataset_features(store, snapshot_id, repo_id) if row else None
        endpoint = store.resolve_snapshot(snapshot_id).endpoint
    return row, text, feats, endpoint


def yaml_header(text: str) -> tuple[pl.DataFrame, str, str | None]:
    """(the YAML header as key/value rows, the body without it, the parse error if the header is broken)."""
    try:
        card = DatasetCard(text, ignore_metadata_errors=True)
    except Exception as exc:  # a header YAML refuses: show the error, and the card as it is
        return pl.DataFrame(schema={"key": pl.String, "value": pl.String}), text, f"{type(exc).__name__}: {exc}"
    meta = card.data.to_dict()
    rows = [{"key": str(k), "value": v if isinstance(v, str) else json.dumps(v, ensure_ascii=False, default=str)}
            for k, v in meta.items()]
    return pl.DataFrame(rows, schema={"key": pl.String, "value": pl.String}), card.text, None


def arxiv_ids(tags: list[str], text: str) -> list[str]:
    """arXiv ids from ``arxiv:`` tags and arxiv.org links in the card, in order, once each."""
    found = [t.split(":", 1)[1] for t in tags if t.startswith("arxiv:")] + ARXIV_ID.findall(text)
    return list(dict.fromkeys(found))


def render(ctx: Context) -> None:
    st.header("Dataset card")
    params = st.query_params
    try:
        sid = int(params.get("snapshot") or ctx.snapshot_id or 0)
    except ValueError:
        sid = int(ctx.snapshot_id or 0)
    if not sid:
        st.info("The store holds no snapshot yet: run `curate snapshot --lang ko` or `curate demo`.")
        return
    repo = st.text_input("dataset id", value=params.get("repo") or "", key="card_repo",
                         help="owner/name; the lists of the other views open cards here")
    if not repo:
        st.info("Pick a dataset in the compare or datasets view, or type its id.")
        return
    row, text, feats, endpoint = load(ctx.db, ctx.stamp, sid, repo)
    if row is None:
        st.warning(f"snapshot {sid} holds no dataset {repo!r}")
        return
    hub = f"{public_url(endpoint).rstrip('/')}/datasets/{repo}"
    st.subheader(repo)
    st.markdown(f"[on the Hub]({hub}) · snapshot {sid} · listed for {', '.join(row['listed_for'] or []) or 'no language'}")
    cols = st.columns(5)
    cols[0].metric("downloads (30 days)", f"{row['downloads'] or 0:,}")
    cols[1].metric("downloads (all time)", f"{row['downloads_all_time'] or 0:,}")
    cols[2].metric("likes", f"{row['likes'] or 0:,}")
    cols[3].metric("created", str(row["created_at"])[:10] if row["created_at"] else "-")
    cols[4].metric("card", f"{row['card_bytes'] or 0:,} bytes" if text is not None else "none")
    if text is None:
        st.warning("No card was fetched for this dataset (see the snapshot's error rows in the Runs view).")
        return
    _license(feats or {})
    header, body, error = yaml_header(text)
    left, right = st.columns(2)
    with left:
        st.markdown("**Template sections** (present: the heading is there; filled: real content follows it)")
        st.dataframe(features.section_report(text, reference.load()), hide_index=True, width="stretch")
    with right:
        st.markdown("**YAML header**")
        if error:
            st.warning(f"the YAML header does not parse: {error}")
        st.dataframe(header, hide_index=True, width="stretch")
        ids = arxiv_ids(list(row["tags"] or []), text)
        st.markdown("**arXiv**: " + (", ".join(f"[{i}](https://arxiv.org/abs/{i})" for i in ids) if ids else "none"))
    rendered, raw = st.columns(2)
    with rendered:
        st.markdown("**Rendered**")
        with st.container(height=600, border=True):
            st.markdown(body[:RENDER_CHARS])
    with raw:
        st.markdown("**Raw text**")
        st.code(text[:RENDER_CHARS], language="markdown", wrap_lines=True, height=600)
    widgets.link("datasets", "back to the datasets", snapshot=sid)


def _license(feats: dict[str, Any]) -> None:
    ids = ", ".join(feats.get("license_ids") or []) or "none"
    yaml_family, text_family = feats.get("license_family", "unknown"), feats.get("license_text_family")
    line = (f"**License** from the tags / YAML: `{ids}` → **{yaml_family}**; from the card's text: "
            f"**{text_family or 'not stated'}**")
    if feats.get("license_mismatch"):
        st.warning(line + " — they disagree")
    else:
        st.success(line + (" — they agree" if text_family else ""))
