"""LLM judges: label documents through OpenAI-compatible endpoints and measure how far judges agree.

- `rubrics`: rubric files (``data/rubrics/<name>/<lang>.md``) and prompt construction;
- `parse`: a 0-5 score out of whatever text a model returns;
- `client`: the async HTTP client (bounded concurrency, retries, structured output);
- `cache`: a content-hash cache so re-runs cost nothing;
- `sample`: seeded, language-stratified sampling of a corpus;
- `run`: the labelling run that ties them together and writes the labels parquet;
- `agree`: agreement statistics between judges, and against gold labels.
"""
