"""Chapter 07: count_pairs, merge_pair, learn_merges, bpe_encode, decode, encode."""

from check_corpus import Answers, Mistake

CORPUS: dict[str, Answers] = {}

# ----------------------------------------------------------------------------- 7.1 count_pairs

CORPUS["ch07_count_pairs"] = Answers(
    valid={
        "dict.get in a loop over zip": """
def count_pairs(ids):
    counts = {}
    for pair in zip(ids, ids[1:]):
        counts[pair] = counts.get(pair, 0) + 1
    return counts
""",
        "Counter over itertools.pairwise": """
from collections import Counter
from itertools import pairwise
def count_pairs(ids):
    return Counter(pairwise(ids))
""",
        "index loop with a defaultdict": """
from collections import defaultdict
def count_pairs(ids):
    counts = defaultdict(int)
    for i in range(len(ids) - 1):
        counts[(ids[i], ids[i + 1])] += 1
    return dict(counts)
""",
    },
    mistakes={
        "overlapping pairs counted once": Mistake(
            "it counts 2: count every adjacent position",
            """
def count_pairs(ids):
    counts, i = {}, 0
    while i < len(ids) - 1:
        pair = (ids[i], ids[i + 1])
        counts[pair] = counts.get(pair, 0) + 1
        i += 2 if pair[0] == pair[1] else 1
    return counts
""",
        ),
        "last pair missed": Mistake(
            "the last pair is missing",
            """
def count_pairs(ids):
    counts = {}
    for i in range(len(ids) - 2):
        pair = (ids[i], ids[i + 1])
        counts[pair] = counts.get(pair, 0) + 1
    return counts
""",
        ),
        "wraps around": Mistake(
            "a pair wraps around from the last id to the first",
            """
def count_pairs(ids):
    counts = {}
    for pair in zip(ids, ids[1:] + ids[:1]):
        counts[pair] = counts.get(pair, 0) + 1
    return counts if len(ids) > 1 else {}
""",
        ),
        "pairs the other way round": Mistake(
            "yours are the other way round",
            """
def count_pairs(ids):
    counts = {}
    for a, b in zip(ids, ids[1:]):
        counts[(b, a)] = counts.get((b, a), 0) + 1
    return counts
""",
        ),
        "a set of pairs": Mistake(
            "every pair has count 1",
            "def count_pairs(ids):\n    return {pair: 1 for pair in zip(ids, ids[1:])}\n",
        ),
        "string keys": Mistake(
            "the keys should be pairs (tuples) of ids",
            """
def count_pairs(ids):
    counts = {}
    for a, b in zip(ids, ids[1:]):
        counts[f"{a},{b}"] = counts.get(f"{a},{b}", 0) + 1
    return counts
""",
        ),
        "a list of pairs": Mistake(
            "should return a dict from each pair to its count",
            "def count_pairs(ids):\n    return list(zip(ids, ids[1:]))\n",
        ),
    },
)

# ----------------------------------------------------------------------------- 7.2 merge_pair

CORPUS["ch07_merge_pair"] = Answers(
    valid={
        "while loop that skips two": """
def merge_pair(ids, pair, new_id):
    out, i = [], 0
    while i < len(ids):
        if i + 1 < len(ids) and (ids[i], ids[i + 1]) == tuple(pair):
            out.append(new_id)
            i += 2
        else:
            out.append(ids[i])
            i += 1
    return out
""",
        "for loop with a skip flag": """
def merge_pair(ids, pair, new_id):
    out, skip = [], False
    for i, token in enumerate(ids):
        if skip:
            skip = False
            continue
        if i + 1 < len(ids) and token == pair[0] and ids[i + 1] == pair[1]:
            out.append(new_id)
            skip = True
        else:
            out.append(token)
    return out
""",
        "a stack: merge onto the last id written": """
def merge_pair(ids, pair, new_id):
    out, merged_last = [], False
    for token in ids:
        if out and not merged_last and out[-1] == pair[0] and token == pair[1]:
            out[-1] = new_id
            merged_last = True
        else:
            out.append(token)
            merged_last = False
    return out
""",
    },
    mistakes={
        "overlapping occurrences both merged": Mistake(
            "skip both of its ids (i += 2)",
            """
def merge_pair(ids, pair, new_id):
    out = []
    for i in range(len(ids)):
        if i + 1 < len(ids) and ids[i] == pair[0] and ids[i + 1] == pair[1]:
            out.append(new_id)
        elif not (i > 0 and ids[i - 1] == pair[0] and ids[i] == pair[1] and out[-1:] == [new_id]):
            out.append(ids[i])
    return out
""",
        ),
        "right to left": Mistake(
            "read the ids from left to right",
            """
def merge_pair(ids, pair, new_id):
    out, i = [], len(ids) - 1
    while i >= 0:
        if i > 0 and ids[i - 1] == pair[0] and ids[i] == pair[1]:
            out.append(new_id)
            i -= 2
        else:
            out.append(ids[i])
            i -= 1
    return out[::-1]
""",
        ),
        "first occurrence only": Mistake(
            "only the first occurrence was merged",
            """
def merge_pair(ids, pair, new_id):
    for i in range(len(ids) - 1):
        if ids[i] == pair[0] and ids[i + 1] == pair[1]:
            return list(ids[:i]) + [new_id] + list(ids[i + 2:])
    return list(ids)
""",
        ),
        "either order": Mistake(
            "(b, a) was merged too",
            """
def merge_pair(ids, pair, new_id):
    out, i = [], 0
    while i < len(ids):
        if i + 1 < len(ids) and {ids[i], ids[i + 1]} == set(pair) and ids[i] != ids[i + 1]:
            out.append(new_id)
            i += 2
        elif i + 1 < len(ids) and ids[i] == ids[i + 1] == pair[0] == pair[1]:
            out.append(new_id)
            i += 2
        else:
            out.append(ids[i])
            i += 1
    return out
""",
        ),
        "last id dropped": Mistake(
            "the last id was lost",
            """
def merge_pair(ids, pair, new_id):
    out, i = [], 0
    while i < len(ids) - 1:
        if ids[i] == pair[0] and ids[i + 1] == pair[1]:
            out.append(new_id)
            i += 2
        else:
            out.append(ids[i])
            i += 1
    return out
""",
        ),
        "changes the caller's list": Mistake(
            "merge_pair changed its argument `ids` in place",
            """
def merge_pair(ids, pair, new_id):
    i = 0
    while i < len(ids) - 1:
        if ids[i] == pair[0] and ids[i + 1] == pair[1]:
            ids[i:i + 2] = [new_id]
        i += 1
    return ids
""",
        ),
    },
)

# ----------------------------------------------------------------------------- 7.3 learn_merges

_HELPERS = """
def _counts(sequences):
    counts = {}
    for seq in sequences:
        for pair in zip(seq, seq[1:]):
            if min(pair) >= 3:
                counts[pair] = counts.get(pair, 0) + 1
    return counts

def _merge(seq, pair, new_id):
    out, i = [], 0
    while i < len(seq):
        if i + 1 < len(seq) and (seq[i], seq[i + 1]) == pair:
            out.append(new_id)
            i += 2
        else:
            out.append(seq[i])
            i += 1
    return out
"""

CORPUS["ch07_learn_merges"] = Answers(
    valid={
        "recount every time, max with the smallest pair on ties": _HELPERS
        + """
def learn_merges(sequences, n_merges):
    sequences = [list(s) for s in sequences]
    merges = []
    for i in range(n_merges):
        counts = _counts(sequences)
        if not counts:
            break
        pair = min(counts, key=lambda p: (-counts[p], p))
        if counts[pair] < 2:
            break
        merges.append(pair)
        sequences = [_merge(s, pair, 259 + i) for s in sequences]
    return merges
""",
        "Counter.most_common, ties as they come": """
from collections import Counter
from course_lib.bpe import merge_pair
def learn_merges(sequences, n_merges):
    seqs = [list(s) for s in sequences]
    merges = []
    while len(merges) < n_merges:
        counts = Counter(p for s in seqs for p in zip(s, s[1:]) if p[0] > 2 and p[1] > 2)
        if not counts or counts.most_common(1)[0][1] < 2:
            break
        pair = counts.most_common(1)[0][0]
        seqs = [merge_pair(s, pair, 259 + len(merges)) for s in seqs]
        merges.append(pair)
    return merges
""",
        "unique sequences with their counts": _HELPERS
        + """
def learn_merges(sequences, n_merges):
    words = {}
    for s in sequences:
        words[tuple(s)] = words.get(tuple(s), 0) + 1
    merges = []
    for i in range(n_merges):
        counts = {}
        for word, n in words.items():
            for pair, k in _counts([list(word)]).items():
                counts[pair] = counts.get(pair, 0) + k * n
        best = max(counts.values(), default=0)
        if best < 2:
            break
        pair = max(p for p, k in counts.items() if k == best)
        merges.append(pair)
        merged = {}
        for word, n in words.items():
            key = tuple(_merge(list(word), pair, 259 + i))
            merged[key] = merged.get(key, 0) + n
        words = merged
    return merges
""",
    },
    mistakes={
        "special tokens merged": Mistake(
            "holds a special token's id",
            """
from collections import Counter
from course_lib.bpe import merge_pair
def learn_merges(sequences, n_merges):
    seqs = [list(s) for s in sequences]
    merges = []
    while len(merges) < n_merges:
        counts = Counter(p for s in seqs for p in zip(s, s[1:]))
        if not counts or counts.most_common(1)[0][1] < 2:
            break
        pair = counts.most_common(1)[0][0]
        seqs = [merge_pair(s, pair, 259 + len(merges)) for s in seqs]
        merges.append(pair)
    return merges
""",
        ),
        "pairs across sequences": Mistake(
            "only forms across the end of one sequence",
            _HELPERS
            + """
def learn_merges(sequences, n_merges):
    ids = [x for s in sequences for x in s]
    merges = []
    for i in range(n_merges):
        counts = _counts([ids])
        if not counts or max(counts.values()) < 2:
            break
        pair = min(counts, key=lambda p: (-counts[p], p))
        merges.append(pair)
        ids = _merge(ids, pair, 259 + i)
    return merges
""",
        ),
        "counted once, never recounted": Mistake(
            "which no longer occurs after the merges before it",
            _HELPERS
            + """
def learn_merges(sequences, n_merges):
    counts = _counts(sequences)
    ranked = sorted(counts, key=lambda p: (-counts[p], p))
    return [p for p in ranked if counts[p] >= 2][:n_merges]
""",
        ),
        "new ids from 256": Mistake(
            "an id that no merge has made yet",
            _HELPERS
            + """
def learn_merges(sequences, n_merges):
    sequences = [list(s) for s in sequences]
    merges = []
    for i in range(n_merges):
        counts = _counts(sequences)
        if not counts or max(counts.values()) < 2:
            break
        pair = min(counts, key=lambda p: (-counts[p], p))
        merges.append(pair)
        sequences = [_merge(s, pair, 256 + i) for s in sequences]
    return merges
""",
        ),
        "least frequent pair": Mistake(
            "the fewest: take the most frequent pair",
            _HELPERS
            + """
def learn_merges(sequences, n_merges):
    sequences = [list(s) for s in sequences]
    merges = []
    for i in range(n_merges):
        counts = _counts(sequences)
        if not counts:
            break
        pair = min(counts, key=lambda p: (counts[p], p))
        merges.append(pair)
        sequences = [_merge(s, pair, 259 + i) for s in sequences]
    return merges
""",
        ),
        "never stops early": Mistake(
            "stop learning when the most frequent pair occurs fewer than 2 times",
            _HELPERS
            + """
def learn_merges(sequences, n_merges):
    sequences = [list(s) for s in sequences]
    merges = []
    for i in range(n_merges):
        counts = _counts(sequences)
        if not counts:
            break
        pair = min(counts, key=lambda p: (-counts[p], p))
        merges.append(pair)
        sequences = [_merge(s, pair, 259 + i) for s in sequences]
    return merges
""",
        ),
        "stops too soon": Mistake(
            "stopped after",
            _HELPERS
            + """
def learn_merges(sequences, n_merges):
    sequences = [list(s) for s in sequences]
    merges = []
    for i in range(n_merges):
        counts = _counts(sequences)
        if not counts or max(counts.values()) < 3:
            break
        pair = min(counts, key=lambda p: (-counts[p], p))
        merges.append(pair)
        sequences = [_merge(s, pair, 259 + i) for s in sequences]
    return merges
""",
        ),
    },
)

# ----------------------------------------------------------------------------- 7.4 bpe_encode

_BYTES = "def _byte_ids(text):\n    return [b + 3 for b in text.encode('utf-8')]\n"

CORPUS["ch07_bpe_encode"] = Answers(
    valid={
        "lowest-ranked pair present, again and again": """
from course_lib.bpe import merge_pair
def bpe_encode(text, merges):
    ranks = {tuple(p): r for r, p in enumerate(merges)}
    ids = [b + 3 for b in text.encode("utf-8")]
    while len(ids) > 1:
        pair = min(zip(ids, ids[1:]), key=lambda p: ranks.get(p, float("inf")))
        if pair not in ranks:
            break
        ids = merge_pair(ids, pair, 259 + ranks[pair])
    return ids
""",
        "every merge in order, each everywhere": _BYTES
        + """
def bpe_encode(text, merges):
    ids = _byte_ids(text)
    for rank, (a, b) in enumerate(merges):
        out, i = [], 0
        while i < len(ids):
            if i + 1 < len(ids) and ids[i] == a and ids[i + 1] == b:
                out.append(259 + rank)
                i += 2
            else:
                out.append(ids[i])
                i += 1
        ids = out
    return ids
""",
        "a rank per position, merged one at a time": _BYTES
        + """
def bpe_encode(text, merges):
    ranks = {tuple(p): r for r, p in enumerate(merges)}
    ids = _byte_ids(text)
    while True:
        pairs = enumerate(zip(ids, ids[1:]))
        found = [(ranks[(a, b)], i) for i, (a, b) in pairs if (a, b) in ranks]
        if not found:
            return ids
        rank, i = min(found)
        ids[i:i + 2] = [259 + rank]
""",
    },
    mistakes={
        "longest match from the left": Mistake(
            "this is the longest match from the left, not BPE",
            """
def bpe_encode(text, merges):
    table = {b + 3: bytes([b]) for b in range(256)}
    for rank, (a, b) in enumerate(merges):
        table[259 + rank] = table[a] + table[b]
    by_bytes = {v: k for k, v in table.items()}
    data, out, i = text.encode("utf-8"), [], 0
    while i < len(data):
        j = max(j for j in range(i + 1, len(data) + 1) if data[i:j] in by_bytes)
        out.append(by_bytes[data[i:j]])
        i = j
    return out
""",
        ),
        "last-learned merge first": Mistake(
            "the merges were applied last-learned first",
            """
from course_lib.bpe import merge_pair
def bpe_encode(text, merges):
    ids = [b + 3 for b in text.encode("utf-8")]
    for rank in reversed(range(len(merges))):
        ids = merge_pair(ids, tuple(merges[rank]), 259 + rank)
    return ids
""",
        ),
        "first occurrence only": Mistake(
            "each merge was applied to its first occurrence only",
            _BYTES
            + """
def bpe_encode(text, merges):
    ids = _byte_ids(text)
    for rank, pair in enumerate(merges):
        for i in range(len(ids) - 1):
            if (ids[i], ids[i + 1]) == tuple(pair):
                ids[i:i + 2] = [259 + rank]
                break
    return ids
""",
        ),
        "leftmost mergeable pair first": Mistake(
            "the leftmost mergeable pair was merged first",
            _BYTES
            + """
def bpe_encode(text, merges):
    ranks = {tuple(p): r for r, p in enumerate(merges)}
    ids = _byte_ids(text)
    changed = True
    while changed:
        changed = False
        for i in range(len(ids) - 1):
            if (ids[i], ids[i + 1]) in ranks:
                ids[i:i + 2] = [259 + ranks[(ids[i], ids[i + 1])]]
                changed = True
                break
    return ids
""",
        ),
        "raw bytes": Mistake(
            "these are the raw bytes",
            """
from course_lib.bpe import merge_pair
def bpe_encode(text, merges):
    ids = list(text.encode("utf-8"))
    for rank, pair in enumerate(merges):
        ids = merge_pair(ids, tuple(pair), 259 + rank)
    return ids
""",
        ),
        "merge ids from 256": Mistake(
            "not 256 + i",
            """
from course_lib.bpe import merge_pair
def bpe_encode(text, merges):
    ids = [b + 3 for b in text.encode("utf-8")]
    for rank, pair in enumerate(merges):
        ids = merge_pair(ids, tuple(pair), 256 + rank)
    return ids
""",
        ),
    },
)

# ----------------------------------------------------------------------------- 7.5 decode

_TABLE = """
def _table(merges):
    table = [s.encode() for s in ("<pad>", "</s>", "<unk>")] + [bytes([b]) for b in range(256)]
    for a, b in merges:
        table.append(table[a] + table[b])
    return table
"""

CORPUS["ch07_decode"] = Answers(
    valid={
        "a list of bytes per id": _TABLE
        + """
def decode(ids, merges):
    table = _table(merges)
    return b"".join(table[i] for i in ids).decode("utf-8", errors="replace")
""",
        "recursion down to the bytes": """
SPECIALS = ["<pad>", "</s>", "<unk>"]
def decode(ids, merges):
    def expand(i):
        if i < 3:
            return SPECIALS[i].encode()
        if i < 259:
            return bytes([i - 3])
        a, b = merges[i - 259]
        return expand(a) + expand(b)
    return b"".join(expand(i) for i in ids).decode("utf-8", errors="replace")
""",
        "a bytearray and a dict": """
def decode(ids, merges):
    table = {0: b"<pad>", 1: b"</s>", 2: b"<unk>"}
    table.update({b + 3: bytes([b]) for b in range(256)})
    for rank, (a, b) in enumerate(merges):
        table[259 + rank] = table[a] + table[b]
    data = bytearray()
    for i in ids:
        data += table[i]
    return bytes(data).decode("utf-8", "replace")
""",
    },
    mistakes={
        "each token decoded on its own": Mistake(
            "each token was decoded on its own",
            _TABLE
            + """
def decode(ids, merges):
    table = _table(merges)
    return "".join(table[i].decode("utf-8", errors="replace") for i in ids)
""",
        ),
        "strict decoding": Mistake(
            "a token alone can hold half a character",
            _TABLE
            + """
def decode(ids, merges):
    table = _table(merges)
    return b"".join(table[i] for i in ids).decode("utf-8")
""",
        ),
        "halves of a merge swapped": Mistake(
            "a merge's bytes are its first token's bytes followed by its second token's",
            """
def decode(ids, merges):
    table = [s.encode() for s in ("<pad>", "</s>", "<unk>")] + [bytes([b]) for b in range(256)]
    for a, b in merges:
        table.append(table[b] + table[a])
    return b"".join(table[i] for i in ids).decode("utf-8", errors="replace")
""",
        ),
        "offset of the specials forgotten": Mistake(
            "id i of a byte stands for the byte i - 3",
            """
def decode(ids, merges):
    table = [s.encode() for s in ("<pad>", "</s>", "<unk>")]
    table += [bytes([(b + 3) % 256]) for b in range(256)]
    for a, b in merges:
        table.append(table[a] + table[b])
    return b"".join(table[i] for i in ids).decode("utf-8", errors="replace")
""",
        ),
        "special tokens left out": Mistake(
            "the special tokens were left out",
            _TABLE
            + """
def decode(ids, merges):
    table = _table(merges)
    return b"".join(table[i] for i in ids if i > 2).decode("utf-8", errors="replace")
""",
        ),
        "special ids read as bytes": Mistake(
            "ids 0, 1 and 2 are the special tokens, not bytes",
            """
def decode(ids, merges):
    def expand(i):
        if i < 259:
            return bytes([i - 3])
        a, b = merges[i - 259]
        return expand(a) + expand(b)
    return b"".join(expand(i) for i in ids).decode("utf-8", errors="replace")
""",
        ),
    },
)

# ----------------------------------------------------------------------------- 7.6 encode

_ENCODE = (
    "import re\n"
    "from course_lib.bpe import pretokenize\n"
    "from course_lib.checks.ch07 import reference_bpe_encode as bpe_encode\n"
    "SPECIALS = ['<pad>', '</s>', '<unk>']\n"
)

CORPUS["ch07_encode"] = Answers(
    valid={
        "re.split with a group": _ENCODE
        + """
def encode(text, merges):
    ids = []
    for piece in re.split("(<pad>|</s>|<unk>)", text):
        if piece in SPECIALS:
            ids.append(SPECIALS.index(piece))
        elif piece:
            for chunk in pretokenize(piece):
                ids += bpe_encode(chunk, merges)
    return ids
""",
        "scan for the next special token": _ENCODE
        + """
def encode(text, merges):
    ids, start = [], 0
    while start <= len(text):
        found = [(text.find(s, start), s) for s in SPECIALS if text.find(s, start) >= 0]
        end, special = min(found) if found else (len(text), None)
        for chunk in pretokenize(text[start:end]):
            ids.extend(bpe_encode(chunk, merges))
        if special is None:
            break
        ids.append(SPECIALS.index(special))
        start = end + len(special)
    return ids
""",
        "re.finditer over specials and text": _ENCODE
        + """
def encode(text, merges):
    ids = []
    for match in re.finditer(r"<pad>|</s>|<unk>|(?:(?!<pad>|</s>|<unk>).)+", text, re.S):
        piece = match.group()
        if piece in SPECIALS:
            ids.append(SPECIALS.index(piece))
        else:
            ids += [i for c in pretokenize(piece) for i in bpe_encode(c, merges)]
    return ids
""",
    },
    mistakes={
        "special tokens encoded as bytes": Mistake(
            "a special token was split into bytes",
            _ENCODE
            + """
def encode(text, merges):
    return [i for chunk in pretokenize(text) for i in bpe_encode(chunk, merges)]
""",
        ),
        "only </s> kept whole": Mistake(
            "'</s>' is kept whole but '<pad>' or '<unk>' was split into bytes",
            _ENCODE
            + """
def encode(text, merges):
    ids = []
    for n, piece in enumerate(text.split("</s>")):
        if n:
            ids.append(1)
        for chunk in pretokenize(piece):
            ids += bpe_encode(chunk, merges)
    return ids
""",
        ),
        "no chunks": Mistake(
            "a merge crossed from one chunk to the next",
            _ENCODE
            + """
def encode(text, merges):
    ids = []
    for piece in re.split("(<pad>|</s>|<unk>)", text):
        if piece in SPECIALS:
            ids.append(SPECIALS.index(piece))
        elif piece:
            ids += bpe_encode(piece, merges)
    return ids
""",
        ),
        "</s> only at the end": Mistake(
            "'</s>' is only recognised at the end of the text",
            _ENCODE
            + """
def encode(text, merges):
    end = text.endswith("</s>")
    body = text[:-4] if end else text
    ids = [i for chunk in pretokenize(body) for i in bpe_encode(chunk, merges)]
    return ids + [1] if end else ids
""",
        ),
        "special tokens dropped": Mistake(
            "the special tokens were dropped",
            _ENCODE
            + """
def encode(text, merges):
    ids = []
    for piece in re.split("<pad>|</s>|<unk>", text):
        for chunk in pretokenize(piece):
            ids += bpe_encode(chunk, merges)
    return ids
""",
        ),
    },
)
