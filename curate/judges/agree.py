"""How far LLM judges can be trusted: agreement between judges and with gold labels, per language.

Statistics (each with a seeded percentile bootstrap confidence interval, resampling documents):

- pairwise **weighted Cohen's kappa** (quadratic weights over the six scores 0-5): statsmodels'
  ``cohens_kappa`` on the 6x6 contingency table (the same value as scikit-learn's
  ``cohen_kappa_score(weights="quadratic", labels=range(6))``);
- pairwise **Spearman** rank correlation (`curate.stats.spearman`, on ``scipy.stats.spearmanr``) and exact agreement (share of equal scores);
- multi-judge **Fleiss' kappa** (``statsmodels.stats.inter_rater``; documents every judge scored) and
  **Krippendorff's alpha**, ordinal (``krippendorff``; uses every document at least two judges scored);
- against gold labels: **Pearson**, **Spearman** and **MSE** per judge.

Kappa, Fleiss and alpha treat scores as the categories 0-5 (a non-integer score is rounded); correlations
and MSE use the scores as they are. Failed labels (score null) are left out, and counted.

Degenerate inputs give ``nan`` (``null`` in JSON) with a note, never an exception:

- everyone gives every document the same score: agreement is perfect but chance agreement is too, so the
  kappas and alpha are 0/0, undefined (exact agreement still reads 1.0);
- one judge gives every document the same score: its correlations are undefined (``nan``); its weighted kappa
  with others is 0 by construction (whatever it agrees on, it agrees on by chance), which is the honest value;
- fewer than two documents or judges: the statistic is skipped.

A bootstrap interval is reported only when at least half the resamples give a finite value.

Point estimates come from the libraries named above. Their bootstraps do not call them once per resample (1,000
resamples x every pair x every language took seconds for a few hundred documents): `bootstrap_weighted_kappa`,
`bootstrap_fleiss` and `bootstrap_kripp_alpha` compute every resample at once in numpy, with the libraries'
formulas and ``nan`` rules (the same values to the last bit, but for alpha with four or more judges, within
1e-15); Spearman, Pearson and MSE are bootstrapped row-wise by `curate.stats`.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import combinations
from pathlib import Path
from typing import Any

import numpy as np

from curate.errors import CurateError
from curate.files import read_table
from curate.labels import read_labels_frame
from curate.stats import bootstrap_spearman, pearson, rowwise_pearson, spearman

N_CATEGORIES = 6  # scores 0..5
OVERALL = "overall"


@dataclass
class Estimate:
    """A statistic with its bootstrap interval (``nan`` when undefined)."""

    value: float
    ci_low: float = math.nan
    ci_high: float = math.nan
    n: int = 0

    def to_json(self) -> dict[str, Any]:
        return {"value": _finite(self.value), "ci": [_finite(self.ci_low), _finite(self.ci_high)], "n": self.n}


def _finite(x: float) -> float | None:
    return None if x is None or not math.isfinite(x) else round(float(x), 6)


# ---- the statistics, on plain arrays ----------------------------------------------------------------


def categories(scores: np.ndarray) -> np.ndarray:
    """Scores as integer categories 0..5 (rounded, clipped)."""
    return np.clip(np.rint(scores), 0, N_CATEGORIES - 1).astype(np.int64)


def weighted_kappa(a: np.ndarray, b: np.ndarray) -> float:
    """Quadratic-weighted Cohen's kappa of two raters over the same documents (nan if undefined)."""
    from statsmodels.stats.inter_rater import cohens_kappa

    if len(a) < 2:
        return math.nan
    ca, cb = categories(a), categories(b)
    if ca.min() == ca.max() == cb.min() == cb.max():
        return math.nan  # one score everywhere: expected disagreement is 0, kappa is 0/0
    table = np.bincount(ca * N_CATEGORIES + cb, minlength=N_CATEGORIES**2).reshape(N_CATEGORIES, N_CATEGORIES)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return float(cohens_kappa(table, wt="quadratic", return_results=False))


def fleiss(matrix: np.ndarray) -> float:
    """Fleiss' kappa of a complete documents x judges matrix (nan if undefined)."""
    from statsmodels.stats.inter_rater import aggregate_raters, fleiss_kappa

    if matrix.shape[0] < 2 or matrix.shape[1] < 2:
        return math.nan
    cats = categories(matrix)
    if cats.min() == cats.max():
        return math.nan
    table, _ = aggregate_raters(cats, n_cat=N_CATEGORIES)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return float(fleiss_kappa(table, method="fleiss"))


def kripp_alpha(matrix: np.ndarray) -> float:
    """Ordinal Krippendorff's alpha of a documents x judges matrix with nan for missing (nan if undefined)."""
    import krippendorff

    if matrix.shape[1] < 2:
        return math.nan
    data = np.where(np.isnan(matrix), np.nan, categories(np.nan_to_num(matrix))).T.astype(float)
    pairable = (~np.isnan(data)).sum(axis=0) >= 2
    values = data[~np.isnan(data)]
    if pairable.sum() < 1 or values.size < 2 or values.min() == values.max():
        return math.nan
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            return float(krippendorff.alpha(reliability_data=data, level_of_measurement="ordinal",
                                            value_domain=list(range(N_CATEGORIES))))
    except (ValueError, ZeroDivisionError):
        return math.nan


# ---- the same statistics over a whole bootstrap at once ----------------------------------------------
#
# A bootstrap resamples documents: ``idx`` (resamples x n) holds each resample's document indices. Rather than
# one library call per resample, these compute every resample in one pass from per-document pieces that do not
# change between resamples. Each gives what its function above gives on ``x[idx[r]]`` (same formula, same order
# of operations where it matters, same ``nan`` rules; tests compare every resample).

_CELLS = N_CATEGORIES * N_CATEGORIES
_GRID = np.arange(N_CATEGORIES, dtype=float)
_QUADRATIC = (_GRID[:, None] - _GRID) ** 2 / (_GRID[-1] - _GRID[0]) ** 2  # statsmodels' quadratic weights
_LOWER = np.minimum.outer(np.arange(N_CATEGORIES), np.arange(N_CATEGORIES))  # per cell (c, k): min(c, k)
_HIGHER = np.maximum.outer(np.arange(N_CATEGORIES), np.arange(N_CATEGORIES))  # max(c, k)


def _resample_counts(idx: np.ndarray, n: int) -> np.ndarray:
    """How often each document appears in each resample: (resamples x n), as floats for matrix products."""
    n_boot = idx.shape[0]
    offsets = (np.arange(n_boot) * n)[:, None]
    return np.bincount((idx + offsets).ravel(), minlength=n_boot * n).reshape(n_boot, n).astype(float)


def _value_counts(cats: np.ndarray, present: np.ndarray) -> np.ndarray:
    """Per document, how many judges gave each category: (documents x 6)."""
    return ((cats[:, :, None] == np.arange(N_CATEGORIES)) & present[:, :, None]).sum(axis=1)


def bootstrap_weighted_kappa(a: np.ndarray, b: np.ndarray, idx: np.ndarray) -> np.ndarray:
    """`weighted_kappa` of ``a[i], b[i]`` for every resample ``i`` in ``idx``: each resample's 6x6 table from
    one bincount over (resample, cell), then statsmodels' quadratic-weighted formula."""
    n_boot, n = idx.shape
    if n < 2:
        return np.full(n_boot, math.nan)
    cells = categories(a) * N_CATEGORIES + categories(b)
    flat = (cells[idx] + (np.arange(n_boot) * _CELLS)[:, None]).ravel()
    tables = np.bincount(flat, minlength=n_boot * _CELLS).reshape(n_boot, N_CATEGORIES, N_CATEGORIES).astype(float)
    nobs = float(n)
    freq_row = tables.sum(axis=2) / nobs
    freq_col = tables.sum(axis=1) / nobs
    prob_exp = freq_col[:, None, :] * freq_row[:, :, None]
    observed = (_QUADRATIC * tables).reshape(n_boot, _CELLS).sum(axis=1)
    expected = (_QUADRATIC * prob_exp).reshape(n_boot, _CELLS).sum(axis=1)
    # One score everywhere from both judges: observed and expected disagreement are both exactly 0, and 0/0
    # is nan, `weighted_kappa`'s rule.
    with np.errstate(invalid="ignore", divide="ignore"):
        return 1 - observed / nobs / expected


def bootstrap_fleiss(matrix: np.ndarray, idx: np.ndarray) -> np.ndarray:
    """`fleiss` of ``matrix[i]`` for every resample ``i`` in ``idx``: each document's agreement P_i and category
    counts are fixed, so a resample's mean agreement and category shares are sums over its documents."""
    n_boot, n = idx.shape
    n_rat = matrix.shape[1]
    if n < 2 or n_rat < 2:
        return np.full(n_boot, math.nan)
    table = _value_counts(categories(matrix), np.ones(matrix.shape, bool)).astype(float)
    p_rat = ((table * table).sum(axis=1) - n_rat) / (n_rat * (n_rat - 1.0))
    p_mean = p_rat[idx].mean(axis=1)  # the library's mean, in the library's order
    counts = _resample_counts(idx, n) @ table  # category totals per resample (exact: small integers)
    p_cat = counts / float(n * n_rat)
    p_mean_exp = (p_cat * p_cat).sum(axis=1)
    # One category everywhere: p_mean and p_mean_exp are exactly 1, and 0/0 is nan, `fleiss`'s rule.
    with np.errstate(invalid="ignore", divide="ignore"):
        return (p_mean - p_mean_exp) / (1 - p_mean_exp)


def bootstrap_kripp_alpha(matrix: np.ndarray, idx: np.ndarray) -> np.ndarray:
    """`kripp_alpha` of ``matrix[i]`` (nan = missing) for every resample ``i`` in ``idx``.

    Each document adds a fixed 6x6 coincidence matrix (its pairs of values over m_u - 1; none with fewer than
    two values), so a resample's coincidences are a product of its document counts with those matrices. The
    ordinal distances depend on each resample's value totals, and come from their cumulative sums.
    """
    n_boot, n = idx.shape
    if matrix.shape[1] < 2 or n == 0:
        return np.full(n_boot, math.nan)
    present = ~np.isnan(matrix)
    counts = _value_counts(categories(np.nan_to_num(matrix)), present).astype(float)
    pairable = np.maximum(counts.sum(axis=1), 2)
    pairs = counts[:, :, None] * counts[:, None, :] - counts[:, None, :] * np.eye(N_CATEGORIES)
    units = (pairs / (pairable - 1)[:, None, None]).reshape(n, _CELLS)
    o = (_resample_counts(idx, n) @ units).reshape(n_boot, N_CATEGORIES, N_CATEGORIES)
    n_v = o.sum(axis=1)
    total = n_v.sum(axis=1)
    e = (n_v[:, :, None] * n_v[:, None, :] - n_v[:, None, :] * np.eye(N_CATEGORIES)) / (total - 1)[:, None, None]
    # Ordinal distance of values c <= k: (n_c + ... + n_k - (n_c + n_k) / 2) ** 2, from the cumulative sums.
    cum = np.concatenate([np.zeros((n_boot, 1)), np.cumsum(n_v, axis=1)], axis=1)
    between = cum[:, _HIGHER + 1] - cum[:, _LOWER]
    d = (between - (n_v[:, _LOWER] + n_v[:, _HIGHER]) / 2) ** 2
    # Fewer than two distinct pairable values (no document scored twice, or one score everywhere): both sums
    # are exactly 0, and 0/0 is nan, `kripp_alpha`'s rule.
    with np.errstate(invalid="ignore", divide="ignore"):
        return 1 - (o * d).reshape(n_boot, _CELLS).sum(axis=1) / (e * d).reshape(n_boot, _CELLS).sum(axis=1)


def mse(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.mean((a - b) ** 2)) if len(a) else math.nan


def _interval(samples: np.ndarray | list[float], level: float) -> tuple[float, float]:
    arr = np.asarray(samples, dtype=float)
    finite = arr[np.isfinite(arr)]
    if arr.size == 0 or finite.size < arr.size / 2:
        return math.nan, math.nan
    tail = (1 - level) / 2 * 100
    lo, hi = np.percentile(finite, [tail, 100 - tail])
    return float(lo), float(hi)


# ---- putting labels into matrices ------------------------------------------------------------------


@dataclass
class Ratings:
    """Scores as a documents x judges matrix (nan where a judge has no score), with each document's language."""

    doc_ids: list[str]
    langs: list[str]
    judges: list[str]
    matrix: np.ndarray
    failures: np.ndarray | None = None  # documents x judges: failed labels (score null), counted
    gold: np.ndarray | None = None  # per document, nan where no gold label

    def subset(self, mask: np.ndarray) -> Ratings:
        idx = np.flatnonzero(mask)
        return Ratings([self.doc_ids[i] for i in idx], [self.langs[i] for i in idx], self.judges,
                       self.matrix[idx], None if self.failures is None else self.failures[idx],
                       None if self.gold is None else self.gold[idx])

    @property
    def failed(self) -> dict[str, int]:
        counts = np.zeros(len(self.judges), int) if self.failures is None else self.failures.sum(axis=0)
        return {j: int(c) for j, c in zip(self.judges, counts, strict=True)}


def load_ratings(paths: Sequence[str | Path], gold: str | Path | None = None) -> Ratings:
    """Read one or more labels files (doc_id, judge, score[, lang]; `curate.labels`) and optional gold
    (doc_id, score)."""
    import polars as pl

    frames = [read_labels_frame(path, required=("doc_id", "judge", "score"), hint=" (is this a labels parquet?)")
              .select("doc_id", "judge", "score", "lang") for path in paths]
    labels = pl.concat(frames)
    if labels.is_empty():
        raise CurateError("no labels to compare")
    scored = labels.filter(pl.col("score").is_not_null() & pl.col("score").is_not_nan())
    # A failure counts once per (document, judge), and not at all when another labels file has that score.
    fails = (labels.filter(pl.col("score").is_null() | pl.col("score").is_nan()).select("doc_id", "judge").unique()
             .join(scored.select("doc_id", "judge").unique(), on=["doc_id", "judge"], how="anti")
             .group_by(["doc_id", "judge"]).len()
             .pivot(on="judge", index="doc_id", values="len"))
    judges = sorted(labels.get_column("judge").unique().to_list())
    langs = (labels.group_by("doc_id", maintain_order=True)
             .agg(pl.col("lang").drop_nulls().first().fill_null("und")))
    wide = (scored.group_by(["doc_id", "judge"]).agg(pl.col("score").mean())
            .pivot(on="judge", index="doc_id", values="score"))
    table = langs.join(wide, on="doc_id", how="left")
    for judge in judges:
        if judge not in table.columns:
            table = table.with_columns(pl.lit(None, dtype=pl.Float64).alias(judge))
    matrix = table.select(judges).to_numpy().astype(float)
    failed = langs.select("doc_id").join(fails, on="doc_id", how="left")
    failures = np.column_stack([
        failed.get_column(j).fill_null(0).to_numpy() if j in failed.columns else np.zeros(len(failed), int)
        for j in judges
    ]).astype(int)
    doc_ids = table.get_column("doc_id").to_list()
    ratings = Ratings(doc_ids, table.get_column("lang").to_list(), judges, matrix, failures)
    if gold is not None:
        g = read_table(gold, "gold labels")
        if not {"doc_id", "score"} <= set(g.columns):
            raise CurateError(f"{gold}: gold labels need columns doc_id and score")
        g = (g.select(pl.col("doc_id").cast(pl.String), pl.col("score").cast(pl.Float64))
             .drop_nulls().group_by("doc_id").agg(pl.col("score").mean()))
        lookup = dict(g.iter_rows())
        ratings.gold = np.array([lookup.get(d, np.nan) for d in doc_ids], dtype=float)
        if np.isnan(ratings.gold).all():
            raise CurateError(f"{gold}: no gold doc_id matches a labelled document")
    return ratings


# ---- the report --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class AgreeOptions:
    n_boot: int = 1000
    seed: int = 0
    level: float = 0.95


def _estimate(point: float, boots: np.ndarray | list[float], n: int, level: float) -> Estimate:
    lo, hi = _interval(boots, level) if math.isfinite(point) else (math.nan, math.nan)
    return Estimate(point, lo, hi, n)


def _pair_stats(a: np.ndarray, b: np.ndarray, idx: np.ndarray, level: float) -> dict[str, Estimate | float]:
    """Weighted kappa and Spearman of two judges on their common documents, bootstrapped with ``idx``."""
    n = len(a)
    kappa = weighted_kappa(a, b)
    rho = spearman(a, b)
    kappa_boot = bootstrap_weighted_kappa(a, b, idx) if math.isfinite(kappa) else []
    rho_boot = bootstrap_spearman(a, b, idx) if math.isfinite(rho) else []
    exact = float(np.mean(categories(a) == categories(b))) if n else math.nan
    return {"weighted_kappa": _estimate(kappa, kappa_boot, n, level),
            "spearman": _estimate(rho, rho_boot, n, level),
            "exact_agreement": exact}


def scope_report(r: Ratings, name: str, options: AgreeOptions) -> dict[str, Any]:
    """Every statistic for one set of documents (one language, or all of them)."""
    rng = np.random.default_rng([options.seed, len(name), *name.encode()])
    notes: list[str] = []
    matrix = r.matrix
    n_docs = matrix.shape[0]
    present = ~np.isnan(matrix)
    out: dict[str, Any] = {
        "n_docs": n_docs,
        "n_scored": {j: int(present[:, k].sum()) for k, j in enumerate(r.judges)},
        "n_failed": r.failed,
        "mean_score": {j: _finite(float(np.nanmean(matrix[:, k]))) if present[:, k].any() else None
                       for k, j in enumerate(r.judges)},
    }
    for k, j in enumerate(r.judges):
        col = matrix[present[:, k], k]
        if col.size >= 2 and np.ptp(col) == 0:
            notes.append(f"{j} gave every document the same score ({col[0]:g}): its correlations are undefined")
    scored = matrix[~np.isnan(matrix)]
    if scored.size >= 2 and np.ptp(scored) == 0:
        notes.append("every judge gave every document the same score: agreement is perfect but chance "
                     "agreement is too, so kappa and alpha are undefined")

    def boot(n: int) -> np.ndarray:
        return rng.integers(0, n, size=(options.n_boot, n)) if n and options.n_boot else np.empty((0, n), int)

    pairs = []
    for (ia, ja), (ib, jb) in combinations(enumerate(r.judges), 2):
        both = present[:, ia] & present[:, ib]
        a, b = matrix[both, ia], matrix[both, ib]
        stats = _pair_stats(a, b, boot(len(a)), options.level)
        pairs.append({"judges": [ja, jb], "n": len(a),
                      **{k: v.to_json() if isinstance(v, Estimate) else _finite(v) for k, v in stats.items()}})
    out["pairs"] = pairs

    complete = present.all(axis=1)
    full = matrix[complete]
    if len(r.judges) < 2:
        notes.append("one judge only: no agreement between judges to measure")
    else:
        if complete.sum() < n_docs:
            notes.append(f"Fleiss' kappa uses the {int(complete.sum())} of {n_docs} documents every judge scored")
        fk = fleiss(full)
        idx = boot(len(full))
        out["fleiss_kappa"] = _estimate(fk, bootstrap_fleiss(full, idx) if math.isfinite(fk) else [],
                                        len(full), options.level).to_json()
        pairable = present.sum(axis=1) >= 2
        some = matrix[pairable]
        alpha = kripp_alpha(some)
        idx = boot(len(some))
        out["krippendorff_alpha"] = _estimate(alpha, bootstrap_kripp_alpha(some, idx) if math.isfinite(alpha)
                                              else [], len(some), options.level).to_json()
        rhos = [p["spearman"]["value"] for p in pairs if p["spearman"]["value"] is not None]
        out["mean_spearman"] = _finite(float(np.mean(rhos))) if rhos else None

    if r.gold is not None:
        has_gold = ~np.isnan(r.gold)
        gold_stats = {}
        for k, j in enumerate(r.judges):
            both = has_gold & present[:, k]
            a, g = matrix[both, k], r.gold[both]
            idx = boot(len(a))
            p, s = pearson(a, g), spearman(a, g)
            gold_stats[j] = {
                "n": len(a),
                "pearson": _estimate(p, rowwise_pearson(a[idx], g[idx]) if math.isfinite(p) else [], len(a),
                                     options.level).to_json(),
                "spearman": _estimate(s, bootstrap_spearman(a, g, idx) if math.isfinite(s) else [], len(a),
                                      options.level).to_json(),
                "mse": _estimate(mse(a, g), ((a[idx] - g[idx]) ** 2).mean(axis=1) if len(a) else [], len(a),
                                 options.level).to_json(),
            }
        g = r.gold[has_gold]
        if g.size >= 2 and np.ptp(g) == 0:
            notes.append("gold labels are constant: correlations with gold are undefined")
        out["gold"] = gold_stats
    out["notes"] = notes
    return out


def agreement_report(r: Ratings, options: AgreeOptions | None = None, langs: Sequence[str] | None = None
                     ) -> dict[str, Any]:
    """The full report: overall first, then every language (or the ones asked for)."""
    options = options or AgreeOptions()
    present_langs = sorted(set(r.langs))
    chosen = [lang for lang in present_langs if not langs or lang in langs]
    scopes = {OVERALL: scope_report(r, OVERALL, options)}
    arr = np.array(r.langs, dtype=object)
    for lang in chosen:
        scopes[lang] = scope_report(r.subset(arr == lang), lang, options)
    return {
        "judges": r.judges,
        "n_docs": len(r.doc_ids),
        "failed": r.failed,
        "gold": r.gold is not None,
        "bootstrap": {"resamples": options.n_boot, "seed": options.seed, "level": options.level},
        "scopes": scopes,
    }


def is_agreement_folder(out: Path) -> bool:
    """A `curate judges agree --out` folder written by a curate that left no marker yet: its agreement.json
    has the fields `agreement_report` writes."""
    import json

    try:
        data = json.loads((Path(out) / "agreement.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(data, dict) and {"judges", "n_docs", "bootstrap", "scopes"} <= data.keys()


# ---- the heatmap -------------------------------------------------------------------------------------


def heatmap_values(report: dict[str, Any]) -> tuple[str, list[str], list[str], np.ndarray]:
    """(metric title, judges, languages, judges x languages values) for the plot.

    With gold labels: each judge's Spearman with gold. Otherwise: each judge's mean weighted kappa with the
    other judges. With a single judge and no gold: its mean score.
    """
    judges = report["judges"]
    langs = [k for k in report["scopes"] if k != OVERALL] + [OVERALL]
    values = np.full((len(judges), len(langs)), np.nan)
    if report["gold"]:
        title = "Spearman with gold labels"
    elif len(judges) >= 2:
        title = "mean weighted kappa with the other judges"
    else:
        title = "mean score"
    for c, lang in enumerate(langs):
        scope = report["scopes"][lang]
        for r, judge in enumerate(judges):
            if report["gold"]:
                v = scope["gold"][judge]["spearman"]["value"]
            elif len(judges) >= 2:
                ks = [p["weighted_kappa"]["value"] for p in scope["pairs"] if judge in p["judges"]]
                ks = [k for k in ks if k is not None]
                v = float(np.mean(ks)) if ks else None
            else:
                v = scope["mean_score"][judge]
            values[r, c] = np.nan if v is None else v
    return title, judges, langs, values


def plot_heatmap(report: dict[str, Any], path: str | Path) -> Path:
    """Judge x language heatmap (PNG or SVG by suffix); undefined cells are left blank."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    title, judges, langs, values = heatmap_values(report)
    vmin, vmax = (0.0, 5.0) if title == "mean score" else (-1.0, 1.0)
    fig, ax = plt.subplots(figsize=(1.0 + 0.9 * len(langs), 1.2 + 0.5 * len(judges)), dpi=120)
    image = ax.imshow(np.ma.masked_invalid(values), cmap="RdYlGn", vmin=vmin, vmax=vmax, aspect="auto")
    ax.set_xticks(range(len(langs)), langs)
    ax.set_yticks(range(len(judges)), judges)
    for (r, c), v in np.ndenumerate(values):
        ax.text(c, r, "n/a" if np.isnan(v) else f"{v:.2f}", ha="center", va="center", fontsize=8)
    ax.set_title(title, fontsize=10)
    fig.colorbar(image, ax=ax, fraction=0.05)
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
    return path
