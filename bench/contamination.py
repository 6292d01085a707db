"""Benchmark: `curate contamination` against a straightforward pure-Python set-of-n-grams check, side by side.

A seeded synthetic corpus (JSONL, English / Korean / Chinese / Japanese documents of 200 B to 50 KB) of
``--gb`` gigabytes is written to a temporary folder, with a benchmark of ~2,000 items (30-80 tokens each).
About 200 items are planted mid-document: exact copies and normalized variants (letter case, whitespace and
newlines, punctuation, full-width ASCII, spaces between CJK characters, all of these at once).

1. curate checks the whole corpus with one worker per core: wall time, MB/s in total and per core, CPU time,
   and peak memory (main process plus workers, sampled from /proc or psutil while the check runs, and the
   kernel's ru_maxrss as a cross-check), and the recall of the plants per kind.
2. On the first ``--naive-mb`` MB of the corpus, the naive check (NFKC + casefold + a punctuation regex +
   whitespace collapse, word tokens for space-delimited text and character tokens for CJK, a Python set of
   n-gram tuples, the same n as curate: 13 words / 15 characters) runs in this process, and curate runs on the
   same slice with one worker; both report MB/s on one core and the ratio.

MB is 10**6 bytes of document text (UTF-8); GB is 10**9 bytes of JSONL. Polars is limited to one thread
(POLARS_MAX_THREADS=1) so that "one worker" means one core.

    python bench/contamination.py [--gb 1.0] [--naive-mb 50] [--workers N] [--workdir DIR] [--seed 0]
"""

from __future__ import annotations

import os

os.environ["POLARS_MAX_THREADS"] = "1"  # before polars is imported: a worker is one core

import argparse
import contextlib
import json
import math
import random
import re
import resource
import sys
import tempfile
import threading
import time
import unicodedata
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np

from analyses.contamination import Settings, Source, run_check

LANGS = ("en", "ko", "zh", "ja")
MB = 1_000_000
POOL_CHARS = {"en": 6_000_000, "ko": 2_000_000, "zh": 2_000_000, "ja": 2_000_000}  # unique text per language
N_ITEMS = 2000
N_PLANTS = 200
KINDS = ("exact", "case", "whitespace", "punct", "fullwidth", "cjk_spaces", "mixed")

# --- synthetic text -------------------------------------------------------------------------------------------


def _zipf(n: int, s: float = 1.05) -> np.ndarray:
    w = 1.0 / np.arange(1, n + 1) ** s
    return w / w.sum()


class TextMaker:
    """Random text per language: synthetic English words, Hangul eojeol, Han characters, kana with kanji."""

    def __init__(self, seed: int) -> None:
        self.rng = np.random.default_rng(seed)
        self.py = random.Random(seed)
        onsets = ["b", "c", "d", "f", "g", "h", "j", "k", "l", "m", "n", "p", "r", "s", "t", "v", "w", "z",
                  "br", "ch", "cl", "dr", "fl", "gr", "pl", "sh", "st", "th", "tr", ""]
        vowels = ["a", "e", "i", "o", "u", "ai", "ea", "ou", "ie", "oo"]
        codas = ["", "", "n", "r", "s", "t", "l", "m", "nd", "st", "ng", "ck"]
        words: set[str] = set()
        while len(words) < 4000:
            k = self.py.choice((1, 1, 2, 2, 2, 3, 3, 4))
            words.add("".join(self.py.choice(onsets) + self.py.choice(vowels) for _ in range(k))
                      + self.py.choice(codas))
        self.words = sorted(words, key=lambda w: (len(w), w))  # short words are the frequent ones
        self.py.shuffle(self.words[200:])
        self.word_cw = list(np.cumsum(_zipf(len(self.words))))
        self.hangul = self.rng.choice(np.arange(0xAC00, 0xD7A4), 2400, replace=False).astype(np.uint32)
        self.han = self.rng.choice(np.arange(0x4E00, 0x9FA6), 3500, replace=False).astype(np.uint32)
        self.hira = np.arange(0x3041, 0x3097, dtype=np.uint32)
        self.kata = np.arange(0x30A1, 0x30FB, dtype=np.uint32)

    def en(self, n_words: int) -> str:
        words = self.py.choices(self.words, cum_weights=self.word_cw, k=n_words)
        out, i = [], 0
        while i < n_words:
            n = self.py.randint(6, 22)
            sentence = words[i:i + n]
            sentence[0] = sentence[0].capitalize()
            if len(sentence) > 5 and self.py.random() < 0.5:
                j = self.py.randrange(2, len(sentence) - 2)
                sentence[j] += ","
            out.append(" ".join(sentence) + self.py.choice(".....?!"))
            i += n
            if self.py.random() < 0.08:
                out.append("\n\n")
        return " ".join(out).replace(" \n\n ", "\n\n")

    def _decode(self, cps: np.ndarray) -> str:
        return cps.astype("<u4").tobytes().decode("utf-32-le")

    def cjk(self, lang: str, n_chars: int) -> str:
        rng = self.rng
        if lang == "ko":
            cps = self.hangul[rng.choice(len(self.hangul), n_chars, p=_zipf(len(self.hangul)))]
            cps[rng.random(n_chars) < 0.3] = 0x20  # eojeol of about three syllables
            period = np.flatnonzero(rng.random(n_chars - 1) < 0.02)
            cps[period], cps[period + 1] = ord("."), 0x20
        else:
            if lang == "zh":
                cps = self.han[rng.choice(len(self.han), n_chars, p=_zipf(len(self.han)))]
            else:
                kind = rng.random(n_chars)
                cps = self.hira[rng.integers(0, len(self.hira), n_chars)]
                kanji = kind < 0.35
                cps[kanji] = self.han[rng.choice(len(self.han), int(kanji.sum()), p=_zipf(len(self.han)))]
                kata = kind > 0.9
                cps[kata] = self.kata[rng.integers(0, len(self.kata), int(kata.sum()))]
            mark = rng.random(n_chars)
            cps[mark < 0.05] = 0xFF0C if lang == "zh" else 0x3001  # ，/ 、
            cps[(mark >= 0.05) & (mark < 0.08)] = 0x3002  # 。
        cps[rng.random(n_chars) < 0.002] = 0x0A
        return self._decode(cps)

    def text(self, lang: str, n_chars: int) -> str:
        return self.en(max(1, n_chars // 6)) if lang == "en" else self.cjk(lang, n_chars)

    def item(self, lang: str) -> str:
        """A benchmark item of 30-80 tokens; CJK items carry one Latin term and a number, as real ones do."""
        n = self.py.randint(30, 80)
        if lang == "en":
            return self.en(n)
        body = self.cjk(lang, n).replace("\n", "").strip()
        term = self.py.choice(self.words[100:]).capitalize()
        a, b = sorted(self.py.sample(range(1, len(body)), 2))
        return f"{body[:a]} {term} {body[a:b]}{self.py.randint(2, 999)}{body[b:]}"


# --- planted variants -----------------------------------------------------------------------------------------

CJK_CHAR = re.compile(r"[\u3040-\u30ff\u4e00-\u9fff\uac00-\ud7a3]")
CJK_PAIR = re.compile(r"(?<=[\u3040-\u30ff\u4e00-\u9fff\uac00-\ud7a3])(?=[\u3040-\u30ff\u4e00-\u9fff\uac00-\ud7a3])")
FULLWIDTH = {c: c + 0xFEE0 for c in range(0x21, 0x7F)} | {0x20: 0x3000}


def variant(kind: str, text: str, lang: str, rng: random.Random) -> str:
    """``text`` changed in ways normalization undoes (see analyses/contamination/normalize.py)."""
    if kind == "exact":
        return text
    if kind == "case":
        return text.upper() if rng.random() < 0.5 else text.swapcase()
    if kind == "whitespace":
        out = re.sub(" ", lambda m: rng.choice(("  ", "\n", " \t ", "\n\n", "   ", "\u00a0")), text)
        if lang != "en":  # line breaks inside runs of CJK characters (hard-wrapped text)
            out = CJK_PAIR.sub(lambda m: "\n" if rng.random() < 0.08 else "", out)
        return f"\n {out} \n"
    if kind == "punct":
        if lang == "en":
            out = re.sub(" ", lambda m: rng.choice((" ", " ", " ", ", ", " - ", "; ", " (", ") ")), text)
            out = re.sub(r"[.?!]", lambda m: rng.choice(("?", "!", "...", ".", "", ":")), out)
            return f"“{out}”"
        out = text.translate({0xFF0C: ",", 0x3001: ",", 0x3002: "."}).replace(".", rng.choice(("。", "!", "")))
        out = CJK_PAIR.sub(lambda m: rng.choice(("・", "「", "」", "…")) if rng.random() < 0.05 else "", out)
        return f"「{out}」"
    if kind == "fullwidth":
        return text.translate(FULLWIDTH)
    if kind == "cjk_spaces":
        return CJK_PAIR.sub(" ", text)
    if kind == "mixed":
        out = variant("punct", variant("case", text, lang, rng), lang, rng)
        out = variant("whitespace", out, lang, rng)
        if lang != "en":
            out = CJK_PAIR.sub(lambda m: " " if rng.random() < 0.5 else "", out)
        return variant("fullwidth", out, lang, rng)
    raise ValueError(kind)


def kinds_for(lang: str) -> tuple[str, ...]:
    return tuple(k for k in KINDS if lang != "en" or k != "cjk_spaces")


# --- corpus generation ----------------------------------------------------------------------------------------


@dataclass
class Plant:
    item: str
    doc: str
    kind: str
    lang: str
    in_slice: bool


def generate(work: Path, gb: float, naive_mb: float, seed: int,
             langs: tuple[str, ...] = LANGS) -> tuple[Path, Path, Path, list[Plant]]:
    """Write the benchmark (always all four languages), the corpus (documents in ``langs``, shards of ~128 MB)
    and the slice for the naive check."""
    maker = TextMaker(seed)
    py = random.Random(seed + 1)
    items = {f"{lang}-{k:04d}": (lang, maker.item(lang)) for lang in LANGS for k in range(N_ITEMS // len(LANGS))}
    bench = work / "bench.jsonl"
    with bench.open("w", encoding="utf-8") as f:
        f.write("".join(json.dumps({"id": k, "text": t, "lang": lang}, ensure_ascii=False) + "\n"
                        for k, (lang, t) in items.items()))
    pools = {lang: maker.text(lang, POOL_CHARS[lang]) for lang in LANGS}
    chosen = [k for lang in LANGS for k in py.sample([k for k in items if k.startswith(lang)], N_PLANTS // 4)]
    py.shuffle(chosen)
    total = int(gb * 1e9)
    slice_bytes = int(naive_mb * MB)
    # Plants at uniform byte offsets of the corpus; a few land in the naive slice too.
    offsets = sorted(py.randrange(total) for _ in chosen)
    plants: list[Plant] = []
    corpus = work / "corpus"
    corpus.mkdir(exist_ok=True)
    slice_path = work / "slice.jsonl"
    written, shard, doc_no = 0, -1, 0
    out = None
    slice_out = slice_path.open("w", encoding="utf-8")
    slice_done = False
    buf: list[str] = []
    buf_size = 0
    per_lang_kind: dict[str, int] = defaultdict(int)
    while written < total:
        if written >= (shard + 1) * 128 * MB:
            if out is not None:
                out.write("".join(buf))
                out.close()
                buf, buf_size = [], 0
            shard += 1
            out = (corpus / f"shard-{shard:03d}.jsonl").open("w", encoding="utf-8")
        lang = py.choice(langs)
        size = int(math.exp(py.uniform(math.log(200), math.log(50_000))))
        n_chars = size if lang == "en" else size // 3
        start = py.randrange(len(pools[lang]) - n_chars)
        text = pools[lang][start:start + n_chars]
        doc_id = f"d{doc_no:07d}"
        if offsets and written >= offsets[0]:
            offsets.pop(0)
            item_id = chosen[len(plants)]
            item_lang, item_text = items[item_id]
            kinds = kinds_for(item_lang)
            kind = kinds[per_lang_kind[item_lang] % len(kinds)]
            per_lang_kind[item_lang] += 1
            cut = py.randrange(len(text) + 1)
            sep = py.choice((" ", "\n", "\n\n", ". "))
            text = text[:cut] + sep + variant(kind, item_text, item_lang, py) + py.choice((" ", "\n")) + text[cut:]
            plants.append(Plant(item_id, doc_id, kind, item_lang, not slice_done))
        line = json.dumps({"id": doc_id, "lang": lang, "text": text}, ensure_ascii=False) + "\n"
        n = len(line.encode("utf-8"))
        if not slice_done:
            slice_out.write(line)
            slice_done = written + n >= slice_bytes
        buf.append(line)
        buf_size += n
        written += n
        doc_no += 1
        if buf_size >= 8 * MB:
            assert out is not None
            out.write("".join(buf))
            buf, buf_size = [], 0
    assert out is not None
    out.write("".join(buf))
    out.close()
    slice_out.close()
    return bench, corpus, slice_path, plants


# --- the naive check ------------------------------------------------------------------------------------------


def _category_class(prefixes: tuple[str, ...]) -> str:
    """A regex character class of every code point whose Unicode category starts with one of ``prefixes``."""
    ranges, start, prev = [], None, None
    for cp in range(sys.maxunicode + 1):
        if unicodedata.category(chr(cp)).startswith(prefixes):
            if start is None:
                start = cp
            prev = cp
        elif start is not None:
            ranges.append((start, prev))
            start = None
    if start is not None:
        ranges.append((start, prev))
    return "[" + "".join(re.escape(chr(a)) if a == b else f"{re.escape(chr(a))}-{re.escape(chr(b))}"
                         for a, b in ranges) + "]"


class NaiveCheck:
    """What one writes first: normalize with unicodedata and re, tokens in a list, n-gram tuples in a set."""

    CJK = "\u0e00-\u0eff\u1100-\u11ff\u3040-\u30ff\u3130-\u318f\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7ff\uf900-\ufaff"

    def __init__(self, items: dict[str, str], word_n: int = 13, char_n: int = 15, threshold: float = 0.5) -> None:
        self.punct = re.compile(_category_class(("P", "S")))
        self.space = re.compile(r"\s+")
        self.cjk_gap = re.compile(f"(?<=[{self.CJK}]) (?=[{self.CJK}])")
        self.token = re.compile(f"[{self.CJK}]|[^\\s{self.CJK}]+")
        self.threshold = threshold
        self.grams: dict[tuple[str, ...], list[str]] = defaultdict(list)
        self.n_distinct: dict[str, int] = {}
        self.lengths: set[int] = set()
        for item_id, text in items.items():
            tokens = self.tokens(text)
            chars = sum(1 for t in tokens if len(t) == 1 and re.match(f"[{self.CJK}]", t))
            n = char_n if chars * 2 > len(tokens) else word_n
            grams = {tuple(tokens[i:i + n]) for i in range(len(tokens) - n + 1)}
            self.n_distinct[item_id] = len(grams)
            self.lengths.add(n)
            for g in grams:
                self.grams[g].append(item_id)

    def normalize(self, text: str) -> str:
        text = unicodedata.normalize("NFKC", text).casefold()
        text = self.space.sub(" ", self.punct.sub(" ", text)).strip()
        return self.cjk_gap.sub("", text)

    def tokens(self, text: str) -> list[str]:
        return self.token.findall(self.normalize(text))

    def check(self, doc_id: str, text: str) -> list[str]:
        """Items with at least ``threshold`` of their distinct n-grams in this document."""
        tokens = self.tokens(text)
        found: dict[str, set[tuple[str, ...]]] = defaultdict(set)
        for n in self.lengths:
            for i in range(len(tokens) - n + 1):
                g = tuple(tokens[i:i + n])
                for item_id in self.grams.get(g, ()):
                    found[item_id].add(g)
        return [i for i, gs in found.items() if len(gs) / self.n_distinct[i] >= self.threshold]


def run_naive(bench: Path, corpus: Path) -> tuple[set[tuple[str, str]], int, float, float]:
    """(item, doc) pairs found, text bytes, wall seconds and CPU seconds of the scan (index build excluded)."""
    with bench.open(encoding="utf-8") as f:
        items = {r["id"]: r["text"] for r in map(json.loads, f)}
    naive = NaiveCheck(items)
    pairs: set[tuple[str, str]] = set()
    n_bytes = 0
    t0, c0 = time.perf_counter(), time.process_time()
    with corpus.open(encoding="utf-8") as f:
        for line in f:
            doc = json.loads(line)
            n_bytes += len(doc["text"].encode("utf-8"))
            pairs.update((i, doc["id"]) for i in naive.check(doc["id"], doc["text"]))
    return pairs, n_bytes, time.perf_counter() - t0, time.process_time() - c0


# --- memory ---------------------------------------------------------------------------------------------------


def _children(pid: int) -> list[int]:
    out: list[int] = []
    try:
        for tid in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{tid}/children") as f:
                out.extend(int(c) for c in f.read().split())
    except OSError:
        pass
    return out


def _rss(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


class MemorySampler(threading.Thread):
    """Samples the resident memory of this process and all its descendants every ``interval`` seconds."""

    def __init__(self, interval: float = 0.1) -> None:
        super().__init__(daemon=True)
        self.interval = interval
        self.samples: list[tuple[float, int, int, int]] = []  # (time, main, largest child, total)
        self._stop_event = threading.Event()
        try:
            import psutil  # optional: /proc is read directly when it is missing

            self._psutil = psutil.Process()
        except ImportError:
            self._psutil = None

    def sample(self) -> tuple[int, int, int]:
        if self._psutil is not None:
            main = self._psutil.memory_info().rss
            kids = []
            for c in self._psutil.children(recursive=True):
                with contextlib.suppress(Exception):  # exited between listing and reading
                    kids.append(c.memory_info().rss)
        else:
            me = os.getpid()
            main, todo, kids = _rss(me), _children(me), []
            while todo:
                pid = todo.pop()
                kids.append(_rss(pid))
                todo.extend(_children(pid))
        return main, max(kids, default=0), main + sum(kids)

    def run(self) -> None:
        while not self._stop_event.is_set():
            self.samples.append((time.perf_counter(), *self.sample()))
            self._stop_event.wait(self.interval)

    def stop(self) -> None:
        self._stop_event.set()
        self.join()

    def peak(self, field: int, lo: float = 0.0, hi: float = 1.0) -> int:
        """Largest sample of ``field`` (1 main, 2 largest child, 3 total) within a share of the run's duration."""
        if not self.samples:
            return 0
        t0, t1 = self.samples[0][0], self.samples[-1][0]
        a, b = t0 + lo * (t1 - t0), t0 + hi * (t1 - t0)
        return max((s[field] for s in self.samples if a <= s[0] <= b), default=0)


def _maxrss(who: int) -> int:
    """ru_maxrss in bytes (kilobytes on Linux)."""
    return resource.getrusage(who).ru_maxrss * 1024


def _cpu() -> float:
    self_, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return self_.ru_utime + self_.ru_stime + kids.ru_utime + kids.ru_stime


# --- main -----------------------------------------------------------------------------------------------------


def _items_by_id(result) -> dict[str, dict]:
    (bench,) = result.to_json()["benchmarks"].values()
    return {i["id"]: i for i in bench["items"]}


def _recall(plants: list[Plant], items: dict[str, dict]) -> list[tuple[str, int, int, list[str]]]:
    rows = []
    for kind in KINDS:
        mine = [p for p in plants if p.kind == kind]
        missed = [f"{p.item} in {p.doc}" for p in mine if p.doc not in items[p.item]["doc_ids"]]
        rows.append((kind, len(mine), len(mine) - len(missed), missed))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--gb", type=float, default=1.0, help="corpus size in GB of JSONL (10**9 bytes)")
    parser.add_argument("--naive-mb", type=float, default=50.0, help="slice (MB of JSONL) for the naive check")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--workdir", type=Path, help="folder for the temporary corpus (default: the system temp dir)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--langs", default=",".join(LANGS),
                        help="languages of the corpus documents (one language shows its memory peak)")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(dir=args.workdir) as tmp:
        work = Path(tmp)
        t0 = time.perf_counter()
        bench, corpus, slice_path, plants = generate(work, args.gb, args.naive_mb, args.seed,
                                                    tuple(args.langs.split(",")))
        corpus_bytes = sum(p.stat().st_size for p in corpus.iterdir())
        print(f"corpus: {corpus_bytes / 1e9:.2f} GB JSONL in {len(list(corpus.iterdir()))} shards, "
              f"generated in {time.perf_counter() - t0:.0f} s; benchmark: {N_ITEMS} items; "
              f"{len(plants)} planted ({sum(p.in_slice for p in plants)} in the naive slice)")
        bench_src, settings = Source.parse(str(bench)), Settings()

        # 1. curate, all cores, whole corpus.
        sampler = MemorySampler()
        cpu0 = _cpu()
        sampler.start()
        full = run_check([bench_src], [Source.parse(str(corpus))], settings, workers=args.workers)
        sampler.stop()
        full_cpu = _cpu() - cpu0
        maxrss_self, maxrss_child = _maxrss(resource.RUSAGE_SELF), _maxrss(resource.RUSAGE_CHILDREN)
        full_items = _items_by_id(full)

        # 2. the slice: curate with one worker, then the naive check, both in this process.
        c0 = _cpu()
        one = run_check([bench_src], [Source.parse(str(slice_path))], settings, workers=1)
        one_cpu = _cpu() - c0
        naive_pairs, naive_bytes, naive_s, naive_cpu = run_naive(bench, slice_path)

    full_mbs = full.n_bytes / MB / full.seconds
    one_mbs = one.n_bytes / MB / one.seconds
    naive_mbs = naive_bytes / MB / naive_s
    print()
    print(f"{'run':<34} {'text MB':>9} {'wall s':>8} {'MB/s':>8} {'MB/s/core':>10} {'MB/cpu-s':>9}")
    print(f"{f'curate, {args.workers} workers, whole corpus':<34} {full.n_bytes / MB:9.0f} {full.seconds:8.1f} "
          f"{full_mbs:8.1f} {full_mbs / args.workers:10.1f} {full.n_bytes / MB / full_cpu:9.1f}")
    print(f"{'curate, 1 worker, slice':<34} {one.n_bytes / MB:9.0f} {one.seconds:8.1f} "
          f"{one_mbs:8.1f} {one_mbs:10.1f} {one.n_bytes / MB / one_cpu:9.1f}")
    print(f"{'naive pure Python, slice':<34} {naive_bytes / MB:9.0f} {naive_s:8.1f} "
          f"{naive_mbs:8.1f} {naive_mbs:10.1f} {naive_bytes / MB / naive_cpu:9.1f}")
    print("(MB/cpu-s: text MB per CPU second of all processes involved, which is steadier than wall time on a "
          "shared machine)")
    print()
    ratio_core = (full_mbs / args.workers) / naive_mbs
    print(f"curate per core (1 worker, slice) / naive : {one_mbs / naive_mbs:6.1f}x")
    print(f"curate per core (whole corpus)   / naive  : {ratio_core:6.1f}x")
    print(f"curate total ({args.workers} cores)         / naive  : {full_mbs / naive_mbs:6.1f}x")
    cpu_ratio = (one.n_bytes / one_cpu) / (naive_bytes / naive_cpu)
    full_cpu_ratio = (full.n_bytes / full_cpu) / (naive_bytes / naive_cpu)
    print(f"per CPU second (1 worker, slice) / naive  : {cpu_ratio:6.1f}x")
    print(f"per CPU second (whole corpus)    / naive  : {full_cpu_ratio:6.1f}x")
    print(f"cores curate actually got on the whole corpus: {full_cpu / full.seconds:.2f} of {args.workers} "
          f"(CPU seconds / wall seconds; less than {args.workers} on a shared machine)")

    gib = 1024**3
    print()
    print(f"peak memory while checking (sampled {len(sampler.samples)}x): main + workers "
          f"{sampler.peak(3) / 2**20:.0f} MiB, main {sampler.peak(1) / 2**20:.0f} MiB, "
          f"largest worker {sampler.peak(2) / 2**20:.0f} MiB")
    print(f"  main + workers, first third of the run {sampler.peak(3, 0, 1 / 3) / 2**20:.0f} MiB, "
          f"last third {sampler.peak(3, 2 / 3, 1) / 2**20:.0f} MiB")
    print(f"  each worker adds up to {sampler.peak(2) / 2**20:.0f} MiB: with 8 workers about "
          f"{(sampler.peak(1) + 8 * sampler.peak(2)) / 2**20:.0f} MiB")
    print(f"ru_maxrss: main {maxrss_self / 2**20:.0f} MiB (includes corpus generation), largest reaped child "
          f"{maxrss_child / 2**20:.0f} MiB; main + {args.workers} x child <= "
          f"{(maxrss_self + args.workers * maxrss_child) / 2**20:.0f} MiB")

    print()
    print(f"{'plant kind':<12} {'planted':>8} {'found':>6} {'recall':>7}")
    recall_rows = _recall(plants, full_items)
    for kind, n, found, _ in recall_rows:
        if n:
            print(f"{kind:<12} {n:8d} {found:6d} {found / n:7.3f}")
    n_plants = len(plants)
    n_found = sum(r[2] for r in recall_rows)
    print(f"{'all':<12} {n_plants:8d} {n_found:6d} {n_found / max(n_plants, 1):7.3f}")
    for kind, _, _, missed in recall_rows:
        for m in missed[:10]:
            print(f"  missed ({kind}): {m}")
    planted = {p.item for p in plants}
    exact = sum(full_items[p.item]["match"] == "exact" for p in plants)
    false_pos = sorted(i for i, r in full_items.items() if r["contaminated"] and i not in planted)
    print(f"planted items reported as exact matches: {exact}/{n_plants}; unplanted items reported contaminated: "
          f"{len(false_pos)} {false_pos[:5] if false_pos else ''}")
    curate_pairs = {(i, d) for i, r in _items_by_id(one).items() if r["contaminated"] for d in r["doc_ids"]}
    slice_plants = {(p.item, p.doc) for p in plants if p.in_slice}
    print(f"slice: curate found {len(curate_pairs)} (item, doc) pairs, naive {len(naive_pairs)}, "
          f"agree: {curate_pairs == naive_pairs}; naive found {len(slice_plants & naive_pairs)}/{len(slice_plants)} "
          f"planted pairs")

    print()
    peak = sampler.peak(3)
    recall = n_found / max(n_plants, 1)
    for ok, line in (
        (full_mbs / naive_mbs >= 10, f"curate on all {args.workers} cores >= 10x the naive check on one "
                                     f"({full_mbs / naive_mbs:.1f}x)"),
        (ratio_core >= 10, f"curate per core >= 10x naive ({ratio_core:.1f}x, whole corpus vs slice)"),
        (one_mbs / naive_mbs >= 10, f"curate 1 worker >= 10x naive on the same slice ({one_mbs / naive_mbs:.1f}x)"),
        (cpu_ratio >= 10, f"curate >= 10x naive per CPU second on the same slice ({cpu_ratio:.1f}x)"),
        (peak < gib, f"peak memory (main + workers) < 1 GiB ({peak / 2**20:.0f} MiB)"),
        (recall == 1.0, f"recall 1.0 on exact and normalized plants ({recall:.3f})"),
    ):
        print(f"{'PASS' if ok else 'FAIL'}  {line}")


if __name__ == "__main__":
    main()
