"""Per-dataset features of a snapshot, computed column-wise (DuckDB for JSON/tags, polars for text).

Every analysis is an aggregate over these columns, so a report over hundreds of thousands of datasets costs
one pass of vectorized expressions instead of Python loops per card.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from typing import Any

import duckdb
import polars as pl

from analyses.reference import FAMILY_RANK, PROVENANCE_RANK, Reference
from curate.progress import track

# A part of the snapshot measured at once holds at most this many datasets and about this much card text, so
# the report's memory stays bounded however many datasets the store holds (cards are read part by part).
PART_ROWS = 50_000
# Without card text a dataset's row is small (a few hundred bytes), so parts can be four times larger: on a
# 400,000-dataset snapshot two parts measure in 3.0 s against 5.0 s for eight (fewer scans of the listings),
# for 175 MB more peak memory (824 against 648 MB).
PART_ROWS_METADATA = 200_000
PART_CARD_BYTES = 64 * 2**20
LEGACY_CREATED_AT = "2022-03-02T23:29:04"  # every repo created before this date carries it (FACTS.md)
CJK = r"\p{Han}\p{Hiragana}\p{Katakana}"
# Word count rule: each Han/Hiragana/Katakana character counts as one word (Chinese and Japanese are not
# space-delimited); any other run of letters or digits (Latin words, Hangul eojeol) counts as one word.
CJK_CHAR = rf"[{CJK}]"
OTHER_WORD = rf"[\p{{L}}\p{{N}}--[{CJK}]]+"
ARXIV_LINK = r"(?i)arxiv\.org/(?:abs|pdf)/"
B = r"(?-u:\b)"  # ASCII word boundary: keeps regexes on the fast DFA path even over CJK text
FRONT_MATTER = r"(?s)\A\s*---\r?\n.*?\r?\n---[ \t]*(?:\r?\n|\z)"


def _jlist(col: str, key: str) -> str:
    """A card_data key that may hold a string or a list, as a VARCHAR[] (lower-cased)."""
    j = f"json_type({col}, '$.{key}')"
    return (f"CASE WHEN {j} = 'ARRAY' THEN list_transform(json_extract_string({col}, '$.{key}[*]'), lambda x: lower(trim(x))) "
            f"WHEN {j} IN ('VARCHAR', 'BIGINT', 'DOUBLE') THEN [lower(trim(json_extract_string({col}, '$.{key}')))] "
            f"ELSE []::VARCHAR[] END")


def _tagged(prefix: str) -> str:
    n = len(prefix) + 1
    return f"list_transform(list_filter(tags, lambda t: starts_with(t, '{prefix}')), lambda t: lower(substr(t, {n})))"


# The datasets a report measures: those the snapshot listed for one of $langs (every listed one when $langs is
# NULL) or only those of $ids, in part $part of $parts (by a hash of the repo id, so a part is the same whichever
# table it is read from). Materialized first, so DuckDB joins only the selected datasets and cards, never the
# whole snapshot's.
_SELECTED = """sel AS MATERIALIZED (
            SELECT DISTINCT repo_id FROM listings WHERE snapshot_id = $sid
              AND ($langs IS NULL OR list_contains($langs, lang)) AND ($ids IS NULL OR list_contains($ids, repo_id))
              AND hash(repo_id) % $parts = $part)"""


def _params(snapshot_id: int, langs: Sequence[str] | None, part: int = 0, parts: int = 1,
            repo_ids: Sequence[str] | None = None) -> dict[str, Any]:
    return {"sid": snapshot_id, "langs": list(langs) if langs else None, "part": part, "parts": parts,
            "ids": list(repo_ids) if repo_ids is not None else None}


def load_frame(con: duckdb.DuckDBPyConnection, snapshot_id: int, langs: Sequence[str] | None = None,
               part: int = 0, parts: int = 1, *, cards: bool = True,
               repo_ids: Sequence[str] | None = None) -> pl.DataFrame:
    """One row per listed dataset of the snapshot (of ``langs``, or only ``repo_ids``; one hash ``part`` of
    ``parts``), with the raw fields the features need; only that part's cards are read into memory.

    ``cards=False`` leaves the card text out (null): the features that read only metadata (size, make-up,
    licenses, tasks, ownership) come out the same, in a fraction of the time, for a view that shows those first.
    """
    card = "c.text" if cards else "NULL::VARCHAR"
    cards_cte = ("SELECT repo_id, text FROM cards WHERE snapshot_id = $sid AND repo_id IN (SELECT repo_id FROM sel)"
                 if cards else "SELECT NULL::VARCHAR AS repo_id, NULL::VARCHAR AS text WHERE false")
    return con.sql(f"""
        WITH {_SELECTED},
        auth AS (
            SELECT name, arg_max(kind, snapshot_id) AS author_kind, arg_max(fullname, snapshot_id) AS fullname
            FROM authors WHERE snapshot_id <= $sid AND kind IN ('user', 'org') GROUP BY name),
        d AS MATERIALIZED (SELECT * FROM datasets WHERE snapshot_id = $sid AND repo_id IN (SELECT repo_id FROM sel)),
        c AS MATERIALIZED ({cards_cte})
        SELECT d.repo_id, d.author, d.downloads, d.downloads_all_time, d.likes,
               CAST(d.created_at AS TIMESTAMP) AS created_at,
               {_tagged('language:')} AS tag_langs,
               list_concat({_jlist('d.card_data', 'language')}, {_jlist('d.card_data', 'languages')}) AS yaml_langs,
               {_tagged('license:')} AS tag_licenses,
               list_concat({_jlist('d.card_data', 'license')}, {_jlist('d.card_data', 'licenses')}) AS yaml_licenses,
               json_extract_string(d.card_data, '$.license_name') AS license_name,
               {_tagged('size_categories:')} AS size_tags,
               list_concat({_tagged('task_categories:')}, {_tagged('task_ids:')}) AS task_tags,
               len(list_filter(tags, lambda t: starts_with(t, 'arxiv:'))) > 0 AS arxiv_tag,
               {card} AS card, auth.author_kind, auth.fullname
        FROM d
        LEFT JOIN c ON c.repo_id = d.repo_id
        LEFT JOIN auth ON auth.name = d.author""", params=_params(snapshot_id, langs, part, parts, repo_ids)).pl()


def _alternation(words: list[str]) -> str:
    """Regex alternation: latin keywords as whole words, CJK keywords anywhere."""
    parts = []
    for w in sorted(set(words), key=len, reverse=True):
        esc = re.escape(w.lower())
        parts.append(rf"{B}{esc}{B}" if re.match(r"[a-z0-9]", w.lower()) else esc)
    return "(?:" + "|".join(parts) + ")"  # matched against lower-cased text


def _ownership_regex(ref: Reference, kind: str) -> str:
    parts = []
    for cue, own, match in ref.cues:
        if own != kind:
            continue
        esc = re.escape(cue)
        parts.append(rf"(?:^|[^\p{{L}}\p{{N}}]){esc}(?:$|[^\p{{L}}\p{{N}}])" if match == "word" else esc)
    return "(?i)(?:" + "|".join(parts) + ")"


def _heading(names: list[str]) -> str:
    return "(?:" + "|".join(re.escape(n) for n in names) + ")"


def strip_placeholders(body: pl.Expr, placeholders: list[str]) -> pl.Expr:
    """The card body without what a template leaves in an unfilled section: placeholder text, HTML comments
    and bold labels with nothing after them (``- **Curated by:**``)."""
    out = body.str.replace_all(r"(?s)<!--.*?-->", "")
    for p in placeholders:
        out = out.str.replace_all(p, "", literal=True)
    return out.str.replace_all(r"(?m)^[ \t]*[-*]?[ \t]*\*\*[^*\n]+:?\*\*:?[ \t]*$", "")


def _section_filled(clean: pl.Expr, names: list[str]) -> pl.Expr:
    """The section's heading is followed by content before the next top-level (#, ##) heading.

    Works on the placeholder-stripped body; sub-headings (### and deeper) are skipped, not counted as content.
    """
    pattern = rf"(?im)^#{{1,6}}[ \t]*{_heading(names)}{B}[^\n]*\n(?:[ \t]*\n|[ \t]*#{{3,6}}[^\n]*\n)*[ \t]*[^\s#]"
    return clean.str.contains(pattern).fill_null(False)


def section_report(card: str | None, ref: Reference) -> pl.DataFrame:
    """(template, section, present, filled) for one card, by the rules `build` applies to every card: a section
    is present when its heading is there, filled when real content (not template placeholders) follows it."""
    sec = ref.sections
    placeholders = [str(p) for p in sec["placeholders"]]
    body = pl.col("card").str.replace(FRONT_MATTER, "")
    rows = pl.DataFrame({"card": [card]}, schema={"card": pl.String}).with_columns(
        strip_placeholders(body, placeholders).alias("_clean"))
    out = []
    for template, sections in sec["templates"].items():
        for names in sections:
            present = body.str.contains(rf"(?im)^#{{1,6}}[ \t]*{_heading(names)}{B}").fill_null(False)
            got = rows.select(present.alias("present"), _section_filled(pl.col("_clean"), names).alias("filled"))
            out.append({"template": str(template), "section": " / ".join(map(str, names)),
                        "present": bool(got["present"][0]), "filled": bool(got["filled"][0])})
    return pl.DataFrame(out, schema={"template": pl.String, "section": pl.String, "present": pl.Boolean,
                                     "filled": pl.Boolean})


def _size(frame: pl.DataFrame, ref: Reference) -> pl.DataFrame:
    return (frame.select("repo_id", pl.col("size_tags").alias("size_tag")).explode("size_tag")
            .join(ref.sizes, on="size_tag", how="inner").sort("order", descending=True)
            .group_by("repo_id").agg(pl.col("size").first()))


def _licenses(frame: pl.DataFrame, ref: Reference) -> pl.DataFrame:
    lic = ref.licenses.with_columns(pl.col("id").str.to_lowercase())
    ids = (frame.select("repo_id", pl.when(pl.col("tag_licenses").list.len() > 0).then("tag_licenses")
                        .otherwise("yaml_licenses").alias("license_id"))
           .explode("license_id").filter(pl.col("license_id").is_not_null() & (pl.col("license_id") != ""))
           .join(lic, left_on="license_id", right_on="id", how="left")
           .with_columns(pl.col("family").fill_null("other"), pl.col("provenance").fill_null("unspecified")))
    return ids.group_by("repo_id").agg(
        pl.col("license_id").unique().sort().alias("license_ids"),
        pl.col("family").sort_by(pl.col("family").replace_strict(FAMILY_RANK)).first().alias("license_family"),
        pl.col("provenance").sort_by(pl.col("provenance").replace_strict(PROVENANCE_RANK)).first()
        .alias("provenance"))


def _tasks(frame: pl.DataFrame, ref: Reference) -> pl.DataFrame:
    return (frame.select("repo_id", pl.col("task_tags").alias("tag")).explode("tag")
            .filter(pl.col("tag").is_not_null())
            .join(ref.tasks, on="tag", how="left").with_columns(pl.col("category").fill_null("Other"))
            .group_by("repo_id").agg(pl.col("category").unique().sort().alias("tasks")))


def license_text_family(card: pl.Expr, ref: Reference) -> pl.Expr:
    """The license family a card's prose names, when it names one (used to flag YAML/text disagreement).

    ``card`` is lower-cased by the caller; the phrases per family are data (``license_phrases.yaml``), tried
    in order so the most restrictive family a card names wins.
    """
    expr: Any = None
    for family, patterns in ref.license_phrases:
        matches = card.str.contains("|".join(p.replace("{B}", B) for p in patterns))
        expr = (pl.when(matches) if expr is None else expr.when(matches)).then(pl.lit(family))
    return pl.lit(None, dtype=pl.String) if expr is None else expr.otherwise(pl.lit(None, dtype=pl.String))


def build(frame: pl.DataFrame, ref: Reference, overrides: dict[str, str] | None = None) -> pl.DataFrame:
    """Add the derived columns every analysis reads (one row per dataset)."""
    body = pl.col("card").str.replace(FRONT_MATTER, "")
    sec = ref.sections
    ph = [str(p) for p in sec["placeholders"]]
    present, filled = [], []
    for names in (sec["templates"]["older"], sec["templates"]["current"]):
        present.append(pl.all_horizontal(
            [pl.col("_headings").list.eval(pl.element().str.contains(rf"(?i)^#{{1,6}}[ \t]*{_heading(n)}{B}"))
             .list.any().fill_null(False) for n in names]))
        filled.append(pl.all_horizontal([_section_filled(pl.col("_clean"), n) for n in names]))
    name = pl.col("repo_id").str.split("/").list.last()
    search_text = (pl.col("repo_id").str.replace_all(r"[-_/]", " ") + pl.lit(" ") + pl.col("card").fill_null(""))
    inst = ref.instruction
    owners = {**ref.orgs, **{k.lower(): v for k, v in (overrides or {}).items()}}
    who = pl.col("author").fill_null("") + pl.lit(" ") + pl.col("fullname").fill_null("")
    registry = pl.col("author").str.to_lowercase().replace_strict(owners, default=None, return_dtype=pl.String)
    langs = pl.when(pl.col("tag_langs").list.len() > 0).then("tag_langs").otherwise("yaml_langs").list.unique()
    # Heading lines, once: testing each template section against them instead of the whole card is much faster.
    frame = frame.with_columns(body.str.extract_all(r"(?m)^#{1,6}[^\n]*").alias("_headings"),
                               strip_placeholders(body, ph).alias("_clean"),
                               search_text.str.to_lowercase().alias("_search"),
                               body.fill_null("").str.to_lowercase().alias("_card_low"))
    out = frame.with_columns(
        langs.alias("langs"),
        pl.col("card").is_not_null().alias("has_card"),
        (pl.col("arxiv_tag") | pl.col("card").str.contains(ARXIV_LINK).fill_null(False)).alias("has_arxiv"),
        pl.any_horizontal(present).alias("all_sections"),
        pl.any_horizontal(filled).alias("filled_sections"),
        (body.str.count_matches(CJK_CHAR) + body.str.count_matches(OTHER_WORD)).fill_null(0).alias("words"),
        (name.str.contains("(?i)(?:" + "|".join(inst["name_patterns"]) + ")")
         | pl.col("_search").str.contains(_alternation([str(k) for k in inst["card_keywords"]])))
        .alias("instruction"),
        pl.when(pl.col("created_at") < pl.lit(LEGACY_CREATED_AT).str.to_datetime())
        .then(None).when(pl.col("created_at").dt.strftime("%Y-%m-%dT%H:%M:%S") == LEGACY_CREATED_AT).then(None)
        .otherwise(pl.col("created_at")).alias("created"),
        pl.when(registry.is_not_null()).then(registry)
        .when(who.str.contains(_ownership_regex(ref, "company"))).then(pl.lit("company"))
        .when(who.str.contains(_ownership_regex(ref, "institute"))).then(pl.lit("institute"))
        .when(pl.col("author_kind").is_in(["user", "org"])).then(pl.lit("individual"))
        .otherwise(pl.lit("unknown")).alias("ownership"),
        pl.struct(**{d: pl.col("_search").str.contains(_alternation(kw)) for d, kw in ref.domains.items()})
        .alias("domains"),
        license_text_family(pl.col("_card_low"), ref).alias("license_text_family"),
    )
    n = pl.col("langs").list.len()
    out = out.with_columns(
        pl.when(n <= 1).then(pl.lit("monolingual"))
        .when((n == 2) & pl.col("langs").list.contains("en")).then(pl.lit("english_paired"))
        .otherwise(pl.lit("multilingual")).alias("makeup"))
    out = (out.join(_size(out, ref), on="repo_id", how="left").join(_licenses(out, ref), on="repo_id", how="left")
           .join(_tasks(out, ref), on="repo_id", how="left"))
    return out.drop("_headings", "_clean", "_search", "_card_low").with_columns(
        pl.col("size").fill_null("unknown"), pl.col("license_family").fill_null("unknown"),
        pl.col("provenance").fill_null("unspecified"), pl.col("tasks").fill_null([]),
        pl.col("license_ids").fill_null([]),
        (pl.col("license_text_family").is_not_null() & pl.col("license_family").is_in(["unknown", "other"]).not_()
         & (pl.col("license_text_family") != pl.col("license_family"))).alias("license_mismatch"))


def compute(con: duckdb.DuckDBPyConnection, snapshot_id: int, ref: Reference, overrides: dict[str, str] | None = None,
            *, langs: Sequence[str] | None = None, columns: Sequence[str] | None = None, part_rows: int | None = None,
            part_card_bytes: int = PART_CARD_BYTES, cards: bool = True) -> pl.DataFrame:
    """`build` over every dataset listed for ``langs`` (default: all listed), one part at a time, without the card
    text: one row per dataset, with only ``columns`` when given.

    Features are per dataset, so parts are independent; only a part's cards are in memory at once, which keeps a
    report over hundreds of thousands of datasets within a few hundred MB. A store needing more than one part
    shows progress. ``cards=False`` measures without the card text (`load_frame`). ``part_rows`` defaults to
    `PART_ROWS`, or `PART_ROWS_METADATA` without cards.
    """
    part_rows = part_rows or (PART_ROWS if cards else PART_ROWS_METADATA)
    n, card_bytes = con.sql(f"""
        WITH {_SELECTED}
        SELECT count(*), coalesce(sum(c.bytes), 0) FROM sel JOIN datasets d ON d.snapshot_id = $sid AND d.repo_id = sel.repo_id
        LEFT JOIN cards c ON c.snapshot_id = $sid AND c.repo_id = sel.repo_id""",
                            params=_params(snapshot_id, langs)).fetchall()[0]
    parts = max(1, math.ceil(n / part_rows), math.ceil(card_bytes / part_card_bytes) if cards else 1)

    def part_features(part: int) -> pl.DataFrame:
        frame = build(load_frame(con, snapshot_id, langs, part, parts, cards=cards), ref, overrides).drop("card")
        # Copied out: columns straight from DuckDB share its Arrow record batch, which stays alive whole (every
        # card's text included) while any of them is referenced.
        return pl.DataFrame(pl.from_arrow(frame.select(columns or frame.columns).to_arrow()))

    if parts == 1:
        return part_features(0)
    frames = []
    with track("measuring datasets", total=n, unit="datasets") as progress:
        for part in range(parts):
            frame = part_features(part)
            frames.append(frame)
            progress.advance(frame.height)
    return pl.concat(frames, how="vertical_relaxed")
