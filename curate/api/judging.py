"""`judge` (LLM labels for a corpus sample) and `agreement` (how far judges agree), from the Python side."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from curate.errors import CurateError, UsageError
from curate.http import DEFAULT_MAX_WAIT_S
from curate.judges.client import DEFAULT_KEY_ENV, DEFAULT_MAX_RESPONSE_BYTES

if TYPE_CHECKING:
    from curate.judges.client import JudgeSpec
    from curate.judges.run import JudgeTally



@dataclass
class JudgeRun:
    """What a `judge` run did: the labels file, the sample per language, each judge's tally, the run id."""

    out: Path
    n_docs: int
    per_lang: dict[str, int]
    tallies: dict[str, JudgeTally]
    seconds: float
    skipped_records: list[str] = field(default_factory=list)
    run_id: int | None = None

    @property
    def failed(self) -> dict[str, JudgeTally]:
        """The judges with failed documents (kept in the labels with an empty score and the error)."""
        return {name: t for name, t in self.tallies.items() if t.failed}


def judge_specs(*, model: str | None = None, api_base: str | None = None,
                judges: Sequence[str | JudgeSpec] = (), key_envs: Mapping[str, str] | None = None
                ) -> list[JudgeSpec]:
    """The judges of a run: ``model`` at ``api_base`` (named after the model) and each of ``judges``
    (``NAME=MODEL@URL`` or `JudgeSpec`); ``key_envs`` maps a judge's name to the variable holding its key."""
    from curate.judges.client import JudgeSpec, chat_completions_url, parse_judge_spec

    specs: list[JudgeSpec] = []
    if model or api_base:
        if not (model and api_base):
            raise UsageError("--model and --api-base go together (or use --judge NAME=MODEL@URL)", "--model")
        chat_completions_url(api_base)
        specs.append(JudgeSpec(model, model, api_base))
    specs.extend(j if isinstance(j, JudgeSpec) else parse_judge_spec(j) for j in judges)
    if not specs:
        raise UsageError("give a judge: --model NAME --api-base URL, or --judge NAME=MODEL@URL", "--judge")
    names = [s.name for s in specs]
    if len(set(names)) != len(names):
        raise UsageError(f"judge names must be unique, got {names}", "--judge")
    for name, var in (key_envs or {}).items():
        if name not in names or not var:
            raise UsageError(f"--judge-key-env {name}={var}: expected NAME=VAR with NAME one of {names}",
                             "--judge-key-env")
        specs = [replace(s, api_key_env=var) if s.name == name else s for s in specs]
    return specs


def judge(input: str | Path, *, out: str | Path = "labels.parquet", model: str | None = None,
          api_base: str | None = None, judges: Sequence[str | JudgeSpec] = (),
          key_envs: Mapping[str, str] | None = None, sample: int = 1000, rubric: str = "educational",
          prompt_language: str = "en", concurrency: int = 32, text_field: str = "text", id_field: str = "id",
          lang_field: str | None = "lang", langs: Sequence[str] | None = None, seed: int = 0,
          cache: str | Path | None = None, use_cache: bool = True, api_key_env: str = DEFAULT_KEY_ENV,
          max_chars: int = 12_000, max_tokens: int = 512, timeout: float = 120.0, max_retries: int = 5,
          max_wait: float = DEFAULT_MAX_WAIT_S, max_response_kb: int = DEFAULT_MAX_RESPONSE_BYTES // 1024,
          structured: bool = True, db: str | Path | None = None,
          on_sample: Callable[[dict[str, int], list[str]], None] | None = None) -> JudgeRun:
    """Label a seeded, language-stratified sample of ``input`` with one or more LLM judges (0-5) on any
    OpenAI-compatible server and write the labels parquet ``out``; record the run.

    Answers are cached by content beside ``out`` (or in ``cache``), so a rerun sends no request twice.
    Failed documents stay in the labels with an empty score and the error; a run where every request
    failed raises `CurateError`. ``on_sample(per_language, skipped_records)`` hears what was drawn before the
    judges are asked.
    """
    from curate.corpus import ReadSpec
    from curate.files import check_output_file, refuse_output_over_input
    from curate.judges.cache import FILENAME, open_cache
    from curate.judges.client import ClientOptions, display_url
    from curate.judges.rubrics import PromptLanguage, load_rubric
    from curate.judges.run import RunOptions, is_labels_file, run_judges, write_labels
    from curate.judges.sample import sample_corpus
    from curate.progress import track
    from curate.runs import record

    out = Path(out)
    refuse_output_over_input(out, [input], "--out")  # before any work: never write over the corpus
    check_output_file(out, "--out", written_by_curate=is_labels_file)  # nor over a file curate did not write
    specs = judge_specs(model=model, api_base=api_base, judges=judges, key_envs=key_envs)
    loaded = load_rubric(rubric)
    errors: list[str] = []
    with track("reading and sampling", unit="docs") as reading:
        read = ReadSpec(text_field=text_field, id_field=id_field, lang_field=lang_field or None)
        docs = sample_corpus(input, sample, read=read, seed=seed, langs=list(langs) if langs else None,
                             on_error=errors.append, tracker=reading)
    if not docs:
        unreadable = f" ({len(errors)} unreadable records; first: {errors[0]})" if errors else ""
        raise CurateError(f"{input}: no documents to judge{unreadable}")
    per_lang = dict(Counter(d.lang or "und" for d in docs).most_common())
    if on_sample is not None:
        on_sample(per_lang, errors)
    options = RunOptions(
        rubric=loaded, prompt_mode=PromptLanguage(prompt_language), max_chars=max_chars, api_key_env=api_key_env,
        client=ClientOptions(concurrency=concurrency, timeout_s=timeout, max_retries=max_retries,
                             max_tokens=max_tokens, structured=structured, max_wait_s=max_wait,
                             max_response_bytes=max_response_kb * 1024),
    )
    answers = open_cache((Path(cache) if cache else out.resolve().parent) / FILENAME) if use_cache else None
    try:
        with track("judging", total=len(docs) * len(specs), unit="labels") as tracker:
            result = run_judges(docs, specs, options, answers, tracker)
    finally:
        if answers is not None:
            answers.close()
    write_labels(result.rows, out)
    # Endpoints as display_url gives them: a user:token@ in an API base is sent, never stored.
    run_id = record(db, "judge", [str(input)], out,
                    {"judges": {s.name: s.model for s in specs},
                     "endpoints": {s.name: display_url(s.api_base) for s in specs},
                     "rubric": rubric, "prompt_language": str(PromptLanguage(prompt_language)),
                     "sample": sample, "seed": seed},
                    n_docs=len(docs), seconds=result.elapsed_s)
    run = JudgeRun(out, len(docs), per_lang, result.tallies, result.elapsed_s, errors, run_id)
    if run.failed and all(t.scored == 0 for t in result.tallies.values()):
        first = next(iter(run.failed.values())).first_error
        raise CurateError(f"every request failed (first error: {first}); failures recorded in {out}")
    return run


@dataclass
class Agreement:
    """The agreement report: judges, documents, failed labels, and per scope (``overall``, then each
    language) the statistics with bootstrap CIs; ``data`` is the documented JSON object (docs/judges.md)."""

    data: dict[str, Any]
    out: Path | None = None

    @property
    def judges(self) -> list[str]:
        return list(self.data["judges"])

    @property
    def scopes(self) -> dict[str, dict[str, Any]]:
        return dict(self.data["scopes"])


def agreement(labels: str | Path | Sequence[str | Path], *, gold: str | Path | None = None,
              langs: Sequence[str] | None = None, bootstrap: int = 1000, seed: int = 0,
              out: str | Path | None = None) -> Agreement:
    """Agreement of LLM judges, overall and per language (weighted Cohen's kappa, Fleiss' kappa,
    Krippendorff's alpha, Spearman), and against ``gold`` labels (Pearson, Spearman, MSE), with bootstrap
    CIs; with ``out``, also write agreement.json and the judge x language heatmap (PNG, SVG)."""
    import json

    from curate.files import check_output_dir, claim_output_dir, write_text_atomic
    from curate.judges.agree import (
        AgreeOptions,
        agreement_report,
        is_agreement_folder,
        load_ratings,
        plot_heatmap,
    )

    if out is not None:  # before any work: a folder curate did not write is refused, untouched
        check_output_dir(out, written_by_curate=is_agreement_folder)
    paths = [labels] if isinstance(labels, (str, Path)) else list(labels)
    ratings = load_ratings(paths, gold)
    unknown = [lang for lang in langs or [] if lang not in set(ratings.langs)]
    if unknown:
        raise UsageError(f"--lang {unknown[0]}: no labelled document in that language (the labels have: "
                         f"{', '.join(sorted(set(ratings.langs)))})", "--lang")
    data = agreement_report(ratings, AgreeOptions(n_boot=bootstrap, seed=seed), langs=langs)
    folder = Path(out) if out is not None else None
    if folder is not None:
        claim_output_dir(folder, "judges agree", written_by_curate=is_agreement_folder)
        write_text_atomic(folder / "agreement.json", json.dumps(data, ensure_ascii=False, indent=2) + "\n")
        for suffix in ("png", "svg"):
            plot_heatmap(data, folder / f"heatmap.{suffix}")
    return Agreement(data, folder)
