"""Agreement statistics checked against values worked out by hand on small tables, degenerate cases included."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from scipy.stats import spearmanr

from curate.judges.agree import (
    AgreeOptions,
    Ratings,
    agreement_report,
    fleiss,
    kripp_alpha,
    load_ratings,
    mse,
    weighted_kappa,
)
from curate.stats import bootstrap_spearman, pearson, spearman

nan = math.nan
FAST = AgreeOptions(n_boot=200, seed=0)


def arr(*xs: float) -> np.ndarray:
    return np.array(xs, dtype=float)


def test_weighted_kappa_by_hand() -> None:
    # a = 0 0 1 1, b = 0 1 1 1. Observed: one disagreement at distance 1 -> sum w*O = 1/4.
    # Marginals a (1/2, 1/2), b (1/4, 3/4): expected cells (0,1) = 3/8, (1,0) = 1/8 -> sum w*E = 1/2.
    # kappa = 1 - (1/4) / (1/2) = 0.5.
    assert weighted_kappa(arr(0, 0, 1, 1), arr(0, 1, 1, 1)) == pytest.approx(0.5)
    # Perfect agreement with variation: 1. A distance-2 disagreement weighs 4x a distance-1 one.
    assert weighted_kappa(arr(0, 2, 5), arr(0, 2, 5)) == pytest.approx(1.0)
    # a = 0 0 2 2, b = 0 2 2 2: sum w*O = 4/4 = 1; expected (0,2) = 3/8, (2,0) = 1/8, w = 4 -> 2; kappa = 0.5.
    assert weighted_kappa(arr(0, 0, 2, 2), arr(0, 2, 2, 2)) == pytest.approx(0.5)


def test_weighted_kappa_matches_scikit_learn() -> None:
    sklearn = pytest.importorskip("sklearn.metrics")
    rng = np.random.default_rng(1)
    a = rng.integers(0, 6, 50)
    b = np.clip(a + rng.integers(-2, 3, 50), 0, 5)
    expected = sklearn.cohen_kappa_score(a, b, labels=list(range(6)), weights="quadratic")
    assert weighted_kappa(a.astype(float), b.astype(float)) == pytest.approx(expected)


def test_fleiss_kappa_by_hand() -> None:
    # Three judges, four documents: (1,1,1) (2,2,2) (1,1,2) (3,3,3).
    # P_i = 1, 1, 1/3, 1 -> mean 5/6. Category shares 5/12, 4/12, 3/12 -> P_e = 50/144.
    # kappa = (5/6 - 50/144) / (1 - 50/144) = 35/47.
    m = np.array([[1, 1, 1], [2, 2, 2], [1, 1, 2], [3, 3, 3]], dtype=float)
    assert fleiss(m) == pytest.approx(35 / 47)


def test_krippendorff_alpha_ordinal_by_hand() -> None:
    # Judges (1,2,3) and (1,2,2). Value counts n1=2, n2=3, n3=1, n=6; coincidences off the diagonal o23=o32=1.
    # Ordinal distances: d(1,2) = (5 - 2.5)^2 = 6.25, d(2,3) = (4 - 2)^2 = 4, d(1,3) = (6 - 1.5)^2 = 20.25.
    # alpha = 1 - (n-1) * sum(o*d) / sum(n_c*n_k*d) = 1 - 5 * 8 / 180 = 7/9.
    m = np.array([[1, 1], [2, 2], [3, 2]], dtype=float)
    assert kripp_alpha(m) == pytest.approx(7 / 9)
    # A missing rating leaves the document out of the pairable values; adding an unpaired value changes nothing.
    assert kripp_alpha(np.vstack([m, [[4, nan]]])) == pytest.approx(7 / 9)


def test_correlations_and_mse_by_hand() -> None:
    # d = 0 1 1 0 -> rho = 1 - 6 * 2 / (4 * 15) = 0.8.
    assert spearman(arr(1, 2, 3, 4), arr(1, 3, 2, 4)) == pytest.approx(0.8)
    # judge 1 2 3 vs gold 2 2 4: Pearson = 2 / sqrt(2 * 24/9) = sqrt(3)/2; ranks (1,2,3) vs (1.5,1.5,3) too.
    assert pearson(arr(1, 2, 3), arr(2, 2, 4)) == pytest.approx(math.sqrt(3) / 2)
    assert spearman(arr(1, 2, 3), arr(2, 2, 4)) == pytest.approx(math.sqrt(3) / 2)
    assert mse(arr(1, 2, 3), arr(2, 2, 4)) == pytest.approx(2 / 3)


@pytest.mark.parametrize("distinct", [2, 6, None])  # None: continuous scores (gold labels), every value distinct
def test_bootstrap_spearman_matches_scipy(distinct: int | None) -> None:
    """Counted ranks per resample are scipy's average ranks, so each resample's rho is scipy's."""
    from scipy.stats import rankdata

    from curate.stats import resampled_ranks

    rng = np.random.default_rng(2)
    a = rng.integers(0, distinct, 15).astype(float) if distinct else rng.normal(size=15)
    b = rng.integers(0, 6, 15).astype(float) + 0.5 * (rng.random(15) < 0.3)  # ties and half points
    idx = rng.integers(0, 15, (200, 15))
    assert np.array_equal(resampled_ranks(a, idx), rankdata(a[idx], axis=1))
    ours = bootstrap_spearman(a, b, idx)
    assert ours == pytest.approx([spearmanr(a[i], b[i]).statistic for i in idx], nan_ok=True, abs=1e-12)


def test_degenerate_all_agree() -> None:
    # Everyone gives 3 everywhere: perfect agreement, but kappa/alpha are 0/0 -> nan, exact agreement 1.
    same = np.full((5, 3), 3.0)
    assert math.isnan(weighted_kappa(same[:, 0], same[:, 1]))
    assert math.isnan(fleiss(same)) and math.isnan(kripp_alpha(same))
    report = agreement_report(Ratings([f"d{i}" for i in range(5)], ["en"] * 5, ["a", "b", "c"], same), FAST)
    overall = report["scopes"]["overall"]
    assert overall["fleiss_kappa"]["value"] is None and overall["krippendorff_alpha"]["value"] is None
    assert all(p["exact_agreement"] == 1.0 and p["weighted_kappa"]["value"] is None for p in overall["pairs"])
    assert any("kappa and alpha are undefined" in n for n in overall["notes"])
    json.dumps(report, allow_nan=False)  # nan never leaks into the JSON
    # Agreeing with variation: every statistic is exactly 1, intervals included.
    varied = np.array([[0, 0], [3, 3], [5, 5], [1, 1]], dtype=float)
    rep = agreement_report(Ratings(list("wxyz"), ["en"] * 4, ["a", "b"], varied), FAST)["scopes"]["overall"]
    assert rep["fleiss_kappa"]["value"] == 1.0 and rep["krippendorff_alpha"]["value"] == 1.0
    assert rep["pairs"][0]["weighted_kappa"] == {"value": 1.0, "ci": [1.0, 1.0], "n": 4}


def test_degenerate_constant_judge() -> None:
    # Judge c always says 2: kappa with it is 0 (chance by construction), its correlations are nan with a note.
    m = np.array([[0, 0, 2], [1, 2, 2], [3, 3, 2], [5, 4, 2]], dtype=float)
    assert weighted_kappa(m[:, 0], m[:, 2]) == pytest.approx(0.0)
    assert math.isnan(spearman(m[:, 0], m[:, 2]))
    gold = arr(0, 1, 3, 5)
    r = Ratings(list("wxyz"), ["ko"] * 4, ["a", "b", "c"], m, gold=gold)
    rep = agreement_report(r, FAST)["scopes"]["ko"]
    pairs = {tuple(p["judges"]): p for p in rep["pairs"]}
    assert pairs[("a", "c")]["spearman"]["value"] is None
    assert pairs[("a", "c")]["weighted_kappa"]["value"] == pytest.approx(0.0)
    assert pairs[("a", "b")]["spearman"]["value"] == pytest.approx(1.0)
    assert rep["gold"]["c"]["spearman"]["value"] is None and rep["gold"]["c"]["mse"]["value"] == pytest.approx(
        (4 + 1 + 1 + 9) / 4)
    assert rep["gold"]["a"]["pearson"]["value"] == pytest.approx(1.0)
    assert any("c gave every document the same score (2)" in n for n in rep["notes"])
    assert rep["mean_spearman"] == pytest.approx(1.0)  # only the defined pair counts


def test_tiny_and_single_judge_inputs_never_crash() -> None:
    one = agreement_report(Ratings(["d"], ["en"], ["a", "b"], np.array([[1.0, 2.0]])), FAST)
    assert one["scopes"]["overall"]["fleiss_kappa"]["value"] is None
    single = agreement_report(Ratings(["d", "e"], ["en", "en"], ["a"], np.array([[1.0], [2.0]])), FAST)
    assert "fleiss_kappa" not in single["scopes"]["overall"]
    assert any("one judge only" in n for n in single["scopes"]["overall"]["notes"])


def test_bootstrap_is_seeded_and_brackets_the_estimate() -> None:
    rng = np.random.default_rng(3)
    truth = rng.integers(0, 6, 80)
    m = np.stack([np.clip(truth + rng.integers(-1, 2, 80), 0, 5) for _ in range(3)], axis=1).astype(float)
    r = Ratings([str(i) for i in range(80)], ["en"] * 40 + ["ja"] * 40, ["a", "b", "c"], m)
    first = agreement_report(r, FAST)
    assert first == agreement_report(r, FAST)
    assert first != agreement_report(r, AgreeOptions(n_boot=200, seed=1))
    for scope in first["scopes"].values():
        for stat in [scope["fleiss_kappa"], scope["krippendorff_alpha"],
                     *(p["weighted_kappa"] for p in scope["pairs"])]:
            lo, hi = stat["ci"]
            assert lo <= stat["value"] <= hi
    assert set(first["scopes"]) == {"overall", "en", "ja"}


def labels_file(path: Path, rows: list[tuple[str, str, str, float | None]]) -> Path:
    table = pa.table({"doc_id": [r[0] for r in rows], "lang": [r[1] for r in rows], "judge": [r[2] for r in rows],
                      "score": pa.array([r[3] for r in rows], pa.float64()), "text": ["t"] * len(rows)})
    pq.write_table(table, path)
    return path


def test_load_ratings_pivots_and_counts_failures(tmp_path: Path) -> None:
    path = labels_file(tmp_path / "l.parquet", [
        ("1", "en", "a", 0), ("1", "en", "b", 0), ("2", "en", "a", 1), ("2", "en", "b", None),
        ("3", "ko", "a", 2), ("3", "ko", "b", 3), ("4", "ko", "a", None), ("4", "ko", "b", None),
    ])
    gold = tmp_path / "gold.csv"
    gold.write_text("doc_id,score\n1,0\n3,2\n", encoding="utf-8")
    r = load_ratings([path], gold)
    assert r.judges == ["a", "b"] and r.doc_ids == ["1", "2", "3", "4"] and r.langs == ["en", "en", "ko", "ko"]
    np.testing.assert_array_equal(r.matrix, [[0, 0], [1, nan], [2, 3], [nan, nan]])
    np.testing.assert_array_equal(r.gold, [0, nan, 2, nan])
    assert r.failed == {"a": 1, "b": 2}
    scopes = agreement_report(r, FAST)["scopes"]
    assert scopes["en"]["n_failed"] == {"a": 0, "b": 1} and scopes["ko"]["n_failed"] == {"a": 1, "b": 1}
    assert scopes["ko"]["n_scored"] == {"a": 1, "b": 1}


def test_cli_agree_table_json_and_heatmap(cli, tmp_path: Path) -> None:
    rows = []
    for i, (a, b, lang) in enumerate([(0, 0, "en"), (1, 1, "en"), (2, 3, "en"), (4, 4, "en"), (5, 5, "en"),
                                      (1, 2, "ko"), (2, 2, "ko"), (3, 3, "ko"), (4, 5, "ko"), (0, 0, "ko")]):
        rows += [(f"d{i}", lang, "a", a), (f"d{i}", lang, "b", b)]
    path = labels_file(tmp_path / "l.parquet", rows)
    gold = labels_file(tmp_path / "g.parquet", [(f"d{i}", "", "human", s) for i, s in enumerate([0, 1, 2, 4, 5])])
    res = cli("judges", "agree", path, "--gold", gold, "--format", "json", "--bootstrap", 50, "--out", tmp_path / "o")
    assert res.code == 0, res.err
    report = json.loads(res.out)
    assert set(report["scopes"]) == {"overall", "en", "ko"}
    en = report["scopes"]["en"]
    assert en["pairs"][0]["exact_agreement"] == pytest.approx(0.8)
    assert en["gold"]["a"]["mse"]["value"] == 0.0 and en["gold"]["b"]["mse"]["value"] == pytest.approx(0.2)
    assert report["scopes"]["ko"]["gold"]["a"]["n"] == 0
    assert (tmp_path / "o" / "heatmap.png").stat().st_size > 1000
    assert json.loads((tmp_path / "o" / "agreement.json").read_text()) == report
    table = cli("judges", "agree", path, "--bootstrap", 20)
    assert table.code == 0 and "Fleiss" in table.out and "a / b" in table.out
    bad = cli("judges", "agree", tmp_path / "missing.parquet")
    assert bad.code == 1 and "no such file" in bad.err


def test_cli_agree_one_judge_unknown_language_and_no_bootstrap(cli, tmp_path: Path) -> None:
    """One judge still gets a table (its documents and mean score per scope); a --lang with no labelled
    document is a usage error; without resamples no title promises intervals."""
    path = labels_file(tmp_path / "one.parquet", [(f"d{i}", "ko" if i % 2 else "en", "solo", i % 6) for i in range(8)])
    res = cli("judges", "agree", path, "--bootstrap", 10)
    assert res.code == 0, res.err
    rows = [line for line in res.out.splitlines() if "solo" in line]
    assert [line.rstrip(" │").split()[-1] for line in rows] == ["2.00", "1.50", "2.50"]  # overall, en, ko
    assert "one judge only" in res.out
    bad = cli("judges", "agree", path, "--lang", "xx")
    assert bad.code == 2 and "--lang xx: no labelled document in that language (the labels have: en, ko)" in bad.err
    two = labels_file(tmp_path / "two.parquet", [(f"d{i}", "en", j, (i + k) % 6) for i in range(6)
                                                 for k, j in enumerate("ab")])
    plain = cli("judges", "agree", two, "--bootstrap", 0)
    assert plain.code == 0 and "no bootstrap" in plain.out and "bootstrap CI" not in plain.out


def test_a_failure_retried_in_a_later_labels_file_is_not_counted(tmp_path) -> None:
    import polars as pl

    from curate.judges.agree import AgreeOptions, agreement_report, load_ratings

    pl.DataFrame({"doc_id": ["d1", "d2", "d3", "d4"] * 2, "judge": ["A"] * 4 + ["B"] * 4,
                  "score": [1.0, 2, 3, 4, 1, 2, None, 4], "lang": ["ko"] * 8}).write_parquet(tmp_path / "run1.parquet")
    pl.DataFrame({"doc_id": ["d3"], "judge": ["B"], "score": [3.0], "lang": ["ko"]}).write_parquet(tmp_path / "run2.parquet")
    report = agreement_report(load_ratings([tmp_path / "run1.parquet", tmp_path / "run2.parquet"]), AgreeOptions(n_boot=20))
    assert report["failed"] == {"A": 0, "B": 0}
    assert report["scopes"]["overall"]["pairs"][0]["n"] == 4
    only_first = agreement_report(load_ratings([tmp_path / "run1.parquet"]), AgreeOptions(n_boot=20))
    assert only_first["failed"] == {"A": 0, "B": 1}


# ---- the vectorized bootstrap equals one library call per resample -----------------------------------


def random_ratings(seed: int, n: int, judges: int, missing: float = 0.0) -> np.ndarray:
    """Scores spread over a random sub-range of 0-5 (narrow ranges make constant resamples), a few of them
    non-integer (rounded to categories), some missing."""
    rng = np.random.default_rng(seed)
    lo = int(rng.integers(0, 5))
    hi = int(rng.integers(lo + 1, 6))
    m = rng.integers(lo, hi + 1, (n, judges)).astype(float) + rng.choice([0.0, 0.0, 0.3, -0.4], (n, judges))
    m[rng.random(m.shape) < missing] = nan
    return m


def assert_same_per_resample(vectorized: np.ndarray, reference: np.ndarray) -> None:
    assert vectorized.shape == reference.shape
    np.testing.assert_array_equal(np.isnan(vectorized), np.isnan(reference))
    np.testing.assert_allclose(vectorized, reference, rtol=0, atol=1e-9, equal_nan=True)


@pytest.mark.parametrize("seed", range(8))
def test_bootstrap_statistics_equal_the_library_per_resample(seed: int) -> None:
    from curate.judges.agree import bootstrap_fleiss, bootstrap_kripp_alpha, bootstrap_weighted_kappa
    from tests.agree_reference import loop_fleiss, loop_kripp_alpha, loop_weighted_kappa

    rng = np.random.default_rng(100 + seed)
    n = [3, 6, 25, 60][seed % 4]  # small n: many resamples repeat one document, so are constant (nan)
    judges = 2 + seed % 4
    m = random_ratings(seed, n, judges)
    idx = rng.integers(0, n, (150, n))
    kappa = bootstrap_weighted_kappa(m[:, 0], m[:, 1], idx)
    assert_same_per_resample(kappa, loop_weighted_kappa(m[:, 0], m[:, 1], idx))
    assert_same_per_resample(bootstrap_fleiss(m, idx), loop_fleiss(m, idx))
    with_missing = random_ratings(seed, n, judges, missing=0.35)
    alpha = bootstrap_kripp_alpha(with_missing, idx)
    assert_same_per_resample(alpha, loop_kripp_alpha(with_missing, idx))
    if n == 3:  # the degenerate resamples are there, and the others too
        assert np.isnan(kappa).any() and np.isfinite(kappa).any()


def test_bootstrap_statistics_degenerate_inputs() -> None:
    from curate.judges.agree import bootstrap_fleiss, bootstrap_kripp_alpha, bootstrap_weighted_kappa

    one = np.array([[2.0, 3.0]])
    assert np.isnan(bootstrap_weighted_kappa(one[:, 0], one[:, 1], np.zeros((4, 1), int))).all()
    assert np.isnan(bootstrap_fleiss(one, np.zeros((4, 1), int))).all()
    assert bootstrap_kripp_alpha(one, np.zeros((0, 1), int)).shape == (0,)
    # Constant everywhere: kappa, Fleiss and alpha are 0/0 in every resample.
    same = np.full((5, 3), 4.0)
    idx = np.random.default_rng(0).integers(0, 5, (10, 5))
    assert np.isnan(bootstrap_weighted_kappa(same[:, 0], same[:, 1], idx)).all()
    assert np.isnan(bootstrap_fleiss(same, idx)).all() and np.isnan(bootstrap_kripp_alpha(same, idx)).all()
    # Two judges that never agree on a constant: kappa 0 (chance), not nan.
    assert bootstrap_weighted_kappa(arr(1, 1, 1), arr(3, 3, 3), idx[:, :3] % 3) == pytest.approx([0.0] * 10)
    # Alpha: a document scored once counts for nothing; a resample of such documents only is nan, and a
    # resample whose only pairable document has one value (the lone 5 does not pair) is nan too.
    m = np.array([[1, 1], [2, 3], [5, nan], [0, nan]], dtype=float)
    alpha = bootstrap_kripp_alpha(m, np.array([[0, 1, 2, 3], [2, 3, 2, 3], [0, 0, 2, 2]]))
    assert alpha[0] == pytest.approx(kripp_alpha(m)) and np.isnan(alpha[1]) and np.isnan(alpha[2])


@pytest.mark.parametrize("judges", [2, 3, 4])
def test_agreement_report_is_the_per_resample_report(judges: int) -> None:
    from tests.agree_reference import per_resample_bootstrap

    n = 90
    rng = np.random.default_rng(judges)
    truth = rng.integers(0, 6, n)
    m = np.stack([np.clip(truth + rng.integers(-1, 2, n), 0, 5) for _ in range(judges)], axis=1).astype(float)
    m[rng.random(m.shape) < 0.1] = nan
    m[60:70] = 2.0  # one language where every judge agrees on one score: nan everywhere
    langs = ["en"] * 30 + ["ko"] * 30 + ["ja"] * 10 + ["zh"] * 20
    gold = np.where(rng.random(n) < 0.5, truth, nan).astype(float)
    r = Ratings([str(i) for i in range(n)], langs, [f"j{k}" for k in range(judges)], m, gold=gold)
    options = AgreeOptions(n_boot=120, seed=7)
    new = agreement_report(r, options)
    with per_resample_bootstrap():
        old = agreement_report(r, options)
    assert json.dumps(new, sort_keys=True) == json.dumps(old, sort_keys=True)
    assert new["scopes"]["ja"]["fleiss_kappa"]["value"] is None
    assert new["scopes"]["overall"]["krippendorff_alpha"]["ci"][0] is not None
