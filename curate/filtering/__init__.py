"""Quality filtering and export of pretraining data from annotator scores (the JQL recipe's last step).

The pieces are small modules so each rule can be read and tested on its own:

- `curate.filtering.langs`: language codes as a polars expression, and the unknown bucket;
- `curate.filtering.scores`: reading and checking a scores parquet from ``curate annotate``;
- `curate.filtering.contaminated`: the document ids to drop for decontamination;
- `curate.filtering.rules`: thresholds (top x% per language, absolute, all heads) and the keep decision;
- `curate.filtering.sources`: the per-source scan and export steps both engines run;
- `curate.filtering.shards`: parquet shards of bounded size, written to temp files then renamed;
- `curate.filtering.card`: the README.md dataset card and the manifest JSON;
- `curate.filtering.pipeline`: the whole run, with a local or a Ray engine (`curate.filtering.ray_engine`).
"""
