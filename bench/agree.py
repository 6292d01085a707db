"""Benchmark: `curate judges agree`'s report with its bootstrap computed at once vs one library call per resample.

The agreement report bootstraps weighted kappa, Fleiss' kappa and Krippendorff's alpha over documents (1,000
resamples x every pair of judges x every language). curate computes every resample in one numpy pass
(`curate.judges.agree.bootstrap_*`); the reference is the loop it replaced, calling statsmodels and
krippendorff once per resample (`tests/agree_reference.py`). Both run on the same generated ratings in one
process (imports warmed up first), best of `--repeat`; the two reports must be identical.

    python bench/agree.py [--docs 300] [--langs 4] [--judges 2 3] [--bootstrap 1000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np

from curate.judges.agree import AgreeOptions, Ratings, agreement_report
from tests.agree_reference import per_resample_bootstrap

LANGS = ["en", "ko", "ja", "zh", "es", "fr", "de", "ar"]


def ratings(docs: int, langs: int, judges: int, seed: int = 0) -> Ratings:
    """Judges that agree up to one point around a true score, 5% of labels missing (failed)."""
    rng = np.random.default_rng(seed)
    truth = rng.integers(0, 6, docs)
    m = np.stack([np.clip(truth + rng.integers(-1, 2, docs), 0, 5) for _ in range(judges)], axis=1).astype(float)
    m[rng.random(m.shape) < 0.05] = np.nan
    return Ratings([f"d{i}" for i in range(docs)], [LANGS[i % langs] for i in range(docs)],
                   [f"judge{k}" for k in range(judges)], m)


def best_of(repeat: int, run: Callable[[], dict[str, Any]]) -> tuple[float, dict[str, Any]]:
    times, report = [], {}
    for _ in range(repeat):
        started = time.perf_counter()
        report = run()
        times.append(time.perf_counter() - started)
    return min(times), report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--docs", type=int, default=300, help="documents, spread over the languages")
    parser.add_argument("--langs", type=int, default=4, choices=range(1, len(LANGS) + 1))
    parser.add_argument("--judges", type=int, nargs="+", default=[2, 3])
    parser.add_argument("--bootstrap", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    options = AgreeOptions(n_boot=args.bootstrap)
    agreement_report(ratings(20, 2, 2), AgreeOptions(n_boot=5))  # imports (scipy, statsmodels, krippendorff)
    print(f"{args.docs} documents over {args.langs} languages, {args.bootstrap} resamples, best of {args.repeat}")
    for judges in args.judges:
        r = ratings(args.docs, args.langs, judges)
        new_s, new = best_of(args.repeat, lambda r=r: agreement_report(r, options))
        with per_resample_bootstrap():
            old_s, old = best_of(args.repeat, lambda r=r: agreement_report(r, options))
        same = json.dumps(new, sort_keys=True) == json.dumps(old, sort_keys=True)
        print(f"{judges} judges: per-resample loop {old_s:.3f}s, at once {new_s:.3f}s = {old_s / new_s:.1f}x faster; "
              f"reports identical: {same}")
        if not same:
            raise SystemExit("the reports differ")


if __name__ == "__main__":
    main()
