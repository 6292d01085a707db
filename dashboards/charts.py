"""Interactive charts (Altair / Vega-Lite) with their numbers one click away.

Every chart is drawn from a small aggregated table (never from one row per dataset), has tooltips, and comes
with an expander holding the same table and a "download CSV" button. Charts that lead somewhere (a bar to the
datasets behind it) carry a point selection named ``pick``; `show` returns what was clicked.

Charts are drawn as SVG: each mark is then an element with an ARIA label naming its values, which is what
screen readers (and the browser tests) use to find a bar.
"""

from __future__ import annotations

from typing import Any

import altair as alt
import polars as pl
import streamlit as st

from analyses.colors import lang_color

PICK = "pick"
SVG = {"embedOptions": {"renderer": "svg"}}


def _data(table: pl.DataFrame) -> Any:
    return table.to_pandas()


def _lang_scale(langs: list[str]) -> alt.Scale:
    """Each language in the colour the report's figures give it."""
    return alt.Scale(domain=langs, range=[lang_color(x, langs) for x in langs])


def stacked_share(table: pl.DataFrame, order: list[str], colors: dict[str, str] | None = None,
                  legend: str = "value") -> alt.Chart:
    """One horizontal bar per language, split by share of datasets in each value (table: lang, value, n, share)."""
    pick = alt.selection_point(name=PICK, fields=["lang", "value"], on="click")
    scale = alt.Scale(domain=list(colors), range=list(colors.values())) if colors else alt.Scale(domain=order)
    return (alt.Chart(_data(table)).mark_bar()
            .encode(x=alt.X("share:Q", title="share of datasets", axis=alt.Axis(format="%"),
                            scale=alt.Scale(domain=[0, 1])),
                    y=alt.Y("lang:N", title=None),
                    color=alt.Color("value:N", title=legend, scale=scale, sort=order,
                                    legend=alt.Legend(orient="right")),
                    order=alt.Order("order:Q"),
                    opacity=alt.condition(pick, alt.value(1.0), alt.value(0.55)),
                    tooltip=[alt.Tooltip("lang:N"), alt.Tooltip("value:N", title=legend),
                             alt.Tooltip("n:Q", title="datasets", format=","),
                             alt.Tooltip("share:Q", format=".1%")])
            .transform_calculate(order=f"indexof({order!r}, datum.value)")
            .add_params(pick).properties(height=alt.Step(30), usermeta=SVG))


def heatmap(table: pl.DataFrame, x: str = "value", x_title: str = "", value: str = "share",
            fmt: str = ".0%", pickable: bool = True) -> alt.LayerChart:
    """Languages (rows) by ``x`` (columns), coloured and labelled by ``value``."""
    pick = alt.selection_point(name=PICK, fields=["lang", x], on="click")
    base = alt.Chart(_data(table)).encode(
        x=alt.X(f"{x}:N", title=x_title or None, axis=alt.Axis(labelAngle=-35)),
        y=alt.Y("lang:N", title=None))
    tips = [alt.Tooltip("lang:N"), alt.Tooltip(f"{x}:N", title=x_title or x)]
    if "n" in table.columns and value != "n":
        tips.append(alt.Tooltip("n:Q", title="datasets", format=","))
    tips.append(alt.Tooltip(f"{value}:Q", format=fmt))
    rect = base.mark_rect().encode(color=alt.Color(f"{value}:Q", scale=alt.Scale(scheme="blues"), legend=None),
                                   tooltip=tips)
    if pickable:
        rect = rect.add_params(pick).encode(opacity=alt.condition(pick, alt.value(1.0), alt.value(0.6)))
    text = base.mark_text(fontSize=10).encode(text=alt.Text(f"{value}:Q", format=fmt), tooltip=tips)
    return alt.layer(rect, text).properties(height=alt.Step(30), usermeta=SVG)


def grouped_bars(table: pl.DataFrame, order: list[str]) -> alt.Chart:
    """A bar per (language, value), grouped by language: shares that do not add up to one (documentation)."""
    pick = alt.selection_point(name=PICK, fields=["lang", "value"], on="click")
    return (alt.Chart(_data(table)).mark_bar()
            .encode(x=alt.X("lang:N", title=None, axis=alt.Axis(labelAngle=0)),
                    xOffset=alt.XOffset("value:N", sort=order),
                    y=alt.Y("share:Q", title="share of datasets", axis=alt.Axis(format="%"), scale=alt.Scale(domain=[0, 1])),
                    color=alt.Color("value:N", title=None, sort=order),
                    opacity=alt.condition(pick, alt.value(1.0), alt.value(0.55)),
                    tooltip=[alt.Tooltip("lang:N"), alt.Tooltip("value:N", title="measure"),
                             alt.Tooltip("n:Q", title="datasets", format=","), alt.Tooltip("share:Q", format=".1%")])
            .add_params(pick).properties(height=240, usermeta=SVG))


def downloads(points: pl.DataFrame, cutoffs: pl.DataFrame) -> alt.LayerChart:
    """Downloads by rank on log axes, one line per language, the suggested cutoff as a rule with a label."""
    langs = sorted(points["lang"].unique().to_list())
    color = alt.Color("lang:N", scale=_lang_scale(langs), title="language")
    line = (alt.Chart(_data(points.with_columns(pl.col("downloads") + 1)))
            .mark_line(point=alt.OverlayMarkDef(size=12))
            .encode(x=alt.X("rank:Q", scale=alt.Scale(type="log"), title="rank by downloads (last 30 days)"),
                    y=alt.Y("downloads:Q", scale=alt.Scale(type="log"), title="downloads + 1"),
                    color=color,
                    tooltip=[alt.Tooltip("lang:N"), alt.Tooltip("rank:Q", format=","),
                             alt.Tooltip("downloads:Q", title="downloads + 1", format=",")]))
    rule = (alt.Chart(_data(cutoffs)).mark_rule(strokeDash=[4, 3])
            .encode(x="rank:Q", color=color,
                    tooltip=[alt.Tooltip("lang:N"), alt.Tooltip("rank:Q", title="suggested cutoff (rank)", format=","),
                             alt.Tooltip("downloads:Q", format=",")]))
    return alt.layer(line, rule).properties(
        height=280, usermeta=SVG)


def over_time(table: pl.DataFrame) -> alt.Chart:
    """Cumulative instruction datasets by creation month, on a time axis; a point per month to click."""
    langs = sorted(table["lang"].unique().to_list())
    pick = alt.selection_point(name=PICK, fields=["lang", "month"], on="click")
    return (alt.Chart(_data(table))
            .mark_line(point=True, interpolate="step-after")
            .encode(x=alt.X("month:T", title="created", axis=alt.Axis(format="%Y-%m")),
                    y=alt.Y("cumulative:Q", title="instruction datasets"),
                    color=alt.Color("lang:N", scale=_lang_scale(langs), title="language"),
                    tooltip=[alt.Tooltip("lang:N"), alt.Tooltip("month:T", format="%Y-%m"),
                             alt.Tooltip("n:Q", title="created that month"), alt.Tooltip("cumulative:Q")])
            .add_params(pick).properties(height=260, usermeta=SVG))


def show(chart: alt.TopLevelMixin, table: pl.DataFrame, name: str, key: str, pickable: bool = False,
         title: str | None = None) -> dict[str, Any] | None:
    """Draw ``chart`` under its title, its numbers and a CSV download; return the clicked point (field -> value)
    if any. Titles are written by the page, not Vega: Streamlit sizes a chart's plot without its title."""
    if title:
        st.markdown(f"**{title}**")
    event = st.altair_chart(chart, key=key, on_select="rerun" if pickable else "ignore", width="stretch")
    with st.expander(f"numbers: {name}"):
        st.dataframe(table, hide_index=True, width="stretch")
        st.download_button("download CSV", data=table.write_csv(), file_name=f"{name.replace(' ', '_')}.csv",
                           mime="text/csv", key=f"{key}_csv", on_click="ignore")
    if not pickable or event is None:
        return None
    picked = (event.get("selection") or {}).get(PICK) or []
    return picked[0] if picked else None


PROVENANCE_COLORS = {"commercial": "#4c9f70", "non-commercial": "#d1495b", "academic-only": "#f2b134",
                     "unspecified": "#9e9e9e"}
SIZE_COLORS = {"S": "#c6dbef", "M": "#6baed6", "L": "#2171b5", "XL": "#08306b", "unknown": "#bdbdbd"}
