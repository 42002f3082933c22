"""BPE training time against the number of merges: a full recount after every merge (naive) and
the incremental pair counts `BPEVocab.train` uses. Both must learn the same merges (asserted).

The corpus is the course's own text, large enough for 1024 merges: the bundled facts and
conversations, README.md, CONTRIBUTING.md and every solutions/*.py. Each (algorithm, N) pair is
timed `--repeats` times, the two algorithms alternating, and the median is printed with the ratio.

Then encoding one long chunk (letters of the corpus without spaces, so every length is one
chunk) with the 1024 merges: `apply_merges` (one pass per merge that applies) against the linked
list `BPEVocab` uses for chunks longer than 64 bytes; both must give the same ids (asserted).

    python benchmarks/bench_bpe.py [--merges 256 512 1024] [--repeats 3]
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections import Counter
from pathlib import Path

from course_lib.bpe import (
    _apply_merges_linked,
    apply_merges,
    learn_merges,
    pretokenize,
    split_specials,
    text_ids,
)
from course_lib.corpus import chat_texts, pretraining_texts
from course_lib.vocab import SPECIAL_TOKENS

ROOT = Path(__file__).resolve().parents[1]


def corpus() -> list[str]:
    """The course's texts: the bundled corpus, the two guides and the solution notebooks."""
    texts = pretraining_texts() + chat_texts()
    for path in [
        ROOT / "README.md",
        ROOT / "CONTRIBUTING.md",
        *sorted(ROOT.glob("solutions/*.py")),
    ]:
        texts.append(path.read_text(encoding="utf-8"))
    return texts


def chunk_ids(texts: list[str]) -> list[list[int]]:
    """Every chunk of every text (special tokens left out) as byte ids, as `BPEVocab.train`."""
    counts: Counter[str] = Counter()
    for text in texts:
        for piece in split_specials(text):
            if piece not in SPECIAL_TOKENS:
                counts.update(pretokenize(piece))
    return [text_ids(chunk) for chunk, n in counts.items() for _ in range(n)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--merges", type=int, nargs="+", default=[256, 512, 1024])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    texts = corpus()
    sequences = chunk_ids(texts)
    size = sum(len(t.encode("utf-8")) for t in texts)
    print(f"corpus: {len(texts)} texts, {size / 1e3:.0f} kB, {len(sequences):,} chunks "
          f"({len({tuple(s) for s in sequences}):,} distinct)")  # fmt: skip
    print("| merges | naive recount (s) | incremental (s) | naive / incremental |")
    print("|---:|---:|---:|---:|")
    for n in args.merges:
        times: dict[bool, list[float]] = {False: [], True: []}
        learned: dict[bool, list] = {}
        for _ in range(args.repeats):
            for incremental in (False, True):
                start = time.perf_counter()
                learned[incremental] = learn_merges(sequences, n, incremental=incremental)
                times[incremental].append(time.perf_counter() - start)
        assert learned[False] == learned[True], f"the two algorithms disagree at N = {n}"
        assert len(learned[True]) == n, f"the corpus ran out of pairs before {n} merges"
        naive, fast = statistics.median(times[False]), statistics.median(times[True])
        print(f"| {n} | {naive:.2f} | {fast:.3f} | {naive / fast:.0f}x |")
    encode_long_chunks(texts, learned[True], args.repeats)


def encode_long_chunks(texts: list[str], merges: list, repeats: int) -> None:
    """Median seconds to encode one chunk of 1k to 64k letters, both encoders."""
    ranks = {pair: rank for rank, pair in enumerate(merges)}
    letters = "".join(ch for text in texts for ch in text if ch.isascii() and ch.isalpha())
    print(f"\n| letters in one chunk ({len(merges)} merges) | apply_merges (s) | linked list (s) "
          "| ratio |\n|---:|---:|---:|---:|")  # fmt: skip
    for n in (1_000, 4_000, 16_000, 64_000):
        ids = text_ids((letters * (1 + n // len(letters)))[:n])
        times: dict[str, list[float]] = {"plain": [], "linked": []}
        out = {}
        for _ in range(repeats):
            for name, encode in (("plain", apply_merges), ("linked", _apply_merges_linked)):
                start = time.process_time()
                out[name] = encode(ids, ranks)
                times[name].append(time.process_time() - start)
        assert out["plain"] == out["linked"], f"the two encoders disagree at {n} letters"
        plain, linked = statistics.median(times["plain"]), statistics.median(times["linked"])
        print(f"| {n:,} | {plain:.3f} | {linked:.4f} | {plain / linked:.0f}x |")


if __name__ == "__main__":
    main()
