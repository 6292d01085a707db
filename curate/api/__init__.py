"""curate's Python API: one function per command, each returning a typed result and recording its run.

The CLI (`curate.cli`) only parses arguments, calls one of these and prints the result, so a notebook or a
pipeline script can do everything a shell user can, with the same defaults and the same errors
(`curate.errors.CurateError`; `curate.errors.UsageError` for arguments that do not fit together).
``import curate`` gives these names lazily (`curate.__getattr__`), so importing curate stays cheap.

- `snapshot`: a dated snapshot of the Hub's top datasets per language, into the store;
  `snapshot_from_dump`: every dataset at once, from a published dump of dataset cards.
- `report`: the Hub study's measurements of a snapshot (and, with ``out``, the report folder and figures);
  `trends`: the same measurements month by month over many snapshots.
- `check_contamination`: benchmark items inside corpora; the run is stored.
- `judge` / `agreement`: LLM judge labels for a corpus sample, and how far judges agree.
- `train_annotator` / `annotate`: JQL-style heads on frozen embeddings, trained and applied.
- `filter_corpus`: keep the best documents, optionally decontaminated, as parquet shards with a card.

Runs go to the store ``db`` (default: ``CURATE_DB`` or ``./curate.duckdb``, as for the CLI): snapshots and
contamination checks are stored in their own tables, judge, train-annotator, annotate and filter in ``runs``
(their result's ``run_id``; None with a warning when the store could not take the record).
"""

from curate.api.annotation import TrainedAnnotator, annotate, train_annotator
from curate.api.contamination import ContaminationRun, check_contamination
from curate.api.filtering import FilterRun, filter_corpus
from curate.api.hub import Report, report, snapshot, snapshot_from_dump, trends
from curate.api.judging import Agreement, JudgeRun, agreement, judge

__all__ = [
    "Agreement",
    "ContaminationRun",
    "FilterRun",
    "JudgeRun",
    "Report",
    "TrainedAnnotator",
    "agreement",
    "annotate",
    "check_contamination",
    "filter_corpus",
    "judge",
    "report",
    "snapshot",
    "snapshot_from_dump",
    "train_annotator",
    "trends",
]
