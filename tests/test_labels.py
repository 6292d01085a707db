"""One labels reader: the agreement report and the annotator's training count the same documents."""

from __future__ import annotations

from pathlib import Path

import polars as pl


def test_agreement_and_training_agree_on_what_a_document_is(tmp_path: Path) -> None:
    from curate.annotators.training import read_labels
    from curate.judges.agree import load_ratings

    path = tmp_path / "labels.parquet"
    pl.DataFrame({"doc_id": ["a", "a", None, "", "b"], "judge": ["j1", "j2", "j1", "j1", "j2"],
                  "score": [1.0, 2.0, 3.0, 4.0, None], "lang": ["ko"] * 5,
                  "text": ["alpha", "alpha", "gamma", "delta", "beta"]}).write_parquet(path)
    ratings = load_ratings([path])
    trained = read_labels(path)
    # rows without a doc_id are their texts, two documents, not one "None" document
    assert len(ratings.doc_ids) == 4 and sum(d.startswith("text:") for d in ratings.doc_ids) == 2
    assert set(trained.doc_ids) <= set(ratings.doc_ids)  # b has no score: training drops it, agreement counts it
    assert ratings.failed == {"j1": 0, "j2": 1}
