"""Chapter 01: tokenize, build_vocab, encode, kmers."""

from check_corpus import Answers, Mistake

CORPUS: dict[str, Answers] = {}

# ----------------------------------------------------------------------------- 1.1 tokenize

CORPUS["ch01_tokenize"] = Answers(
    valid={
        "character loop": """
import string
def tokenize(text):
    tokens = []
    for chunk in text.split():
        word, i = "", 0
        while i < len(chunk):
            if chunk.startswith("</s>", i):
                if word:
                    tokens.append(word)
                word = ""
                tokens.append("</s>")
                i += 4
            elif chunk[i] in string.punctuation:
                if word:
                    tokens.append(word)
                word = ""
                tokens.append(chunk[i])
                i += 1
            else:
                word += chunk[i]
                i += 1
        if word:
            tokens.append(word)
    return tokens
""",
        "one regular expression": """
import re
import string
_P = re.escape(string.punctuation)
def tokenize(text):
    return re.findall(r"</s>|[" + _P + r"]|[^\\s" + _P + r"]+", text)
""",
        "split around </s>, then pad punctuation with spaces": """
import string
def tokenize(text):
    out = []
    for chunk in text.split():
        pieces = chunk.split("</s>")
        for n, piece in enumerate(pieces):
            if n:
                out.append("</s>")
            out.extend("".join(f" {c} " if c in string.punctuation else c for c in piece).split())
    return out
""",
    },
    mistakes={
        "split on whitespace only": Mistake(
            "punctuation is glued to a word",
            "def tokenize(text):\n    return text.split()\n",
        ),
        "</s> not protected": Mistake(
            "was cut into '<', '/', 's', '>'",
            """
import string
def tokenize(text):
    return "".join(f" {c} " if c in string.punctuation else c for c in text).split()
""",
        ),
        "</s> kept with whatever touches it": Mistake(
            "'</s>' is glued to a word or to punctuation",
            """
import string
def tokenize(text):
    out = []
    for chunk in text.split():
        if "</s>" in chunk:
            out.append(chunk)
        else:
            out.extend("".join(f" {c} " if c in string.punctuation else c for c in chunk).split())
    return out
""",
        ),
        "lower-cased": Mistake(
            "keep the case of every letter",
            """
import re
import string
_P = re.escape(string.punctuation)
def tokenize(text):
    return re.findall(r"</s>|[" + _P + r"]|[^\\s" + _P + r"]+", text.lower())
""",
        ),
        "split on single spaces": Mistake(
            "your tokens include empty strings",
            """
import string
def tokenize(text):
    out = []
    for chunk in text.split(" "):
        if chunk == "</s>":
            out.append(chunk)
            continue
        word = ""
        for c in chunk:
            if c in string.punctuation:
                out += [word, c] if word else [c]
                word = ""
            else:
                word += c
        out.append(word)
    return out
""",
        ),
        "runs of punctuation kept together": Mistake(
            "is one token, but every punctuation character is a token of its own",
            "import re\n"
            "def tokenize(text):\n"
            "    return re.findall(r'</s>|\\w+|[^\\w\\s]+', text)\n",
        ),
        "every non-alphanumeric character split off": Mistake(
            "only ASCII punctuation (string.punctuation) splits words",
            """
def tokenize(text):
    out = []
    for chunk in text.split():
        chunk = chunk.replace("</s>", "\\0")
        word = ""
        for c in chunk:
            if c == "\\0" or not c.isalnum():
                if word:
                    out.append(word)
                out.append("</s>" if c == "\\0" else c)
                word = ""
            else:
                word += c
        if word:
            out.append(word)
    return out
""",
        ),
        "a tuple instead of a list": Mistake(
            "tokenize should return a list of strings",
            """
import re
import string
_P = re.escape(string.punctuation)
def tokenize(text):
    return tuple(re.findall(r"</s>|[" + _P + r"]|[^\\s" + _P + r"]+", text))
""",
        ),
    },
)

# ----------------------------------------------------------------------------- 1.2 build_vocab

_TOKENIZE = "from course_lib.vocab import tokenize\nSPECIALS = ['<pad>', '</s>', '<unk>']\n"

CORPUS["ch01_build_vocab"] = Answers(
    valid={
        "set, then sorted": _TOKENIZE
        + """
def build_vocab(texts):
    found = set()
    for text in texts:
        found.update(tokenize(text))
    return SPECIALS + sorted(found - set(SPECIALS))
""",
        "a list without repeats, sorted in place": _TOKENIZE
        + """
def build_vocab(texts):
    seen = []
    for text in texts:
        for token in tokenize(text):
            if token not in seen and token not in SPECIALS:
                seen.append(token)
    seen.sort()
    return list(SPECIALS) + seen
""",
        "dict keys and a set union": _TOKENIZE
        + """
def build_vocab(texts):
    tokens = set().union(*(tokenize(t) for t in texts)) if texts else set()
    rest = sorted(dict.fromkeys(t for t in tokens if t not in SPECIALS))
    return [*SPECIALS, *rest]
""",
    },
    mistakes={
        "order of first appearance": Mistake(
            "the tokens after the specials are not sorted",
            _TOKENIZE
            + """
def build_vocab(texts):
    found = dict.fromkeys(t for text in texts for t in tokenize(text) if t not in SPECIALS)
    return SPECIALS + list(found)
""",
        ),
        "specials sorted in with the rest": Mistake(
            "special tokens are not at their fixed ids",
            _TOKENIZE
            + """
def build_vocab(texts):
    return sorted({t for text in texts for t in tokenize(text)} | set(SPECIALS))
""",
        ),
        "specials missing": Mistake(
            "are missing: start the list with",
            _TOKENIZE + "def build_vocab(texts):\n"
            "    return sorted({t for x in texts for t in tokenize(x)})\n",
        ),
        "</s> twice": Mistake(
            "'</s>' appears twice",
            _TOKENIZE + "def build_vocab(texts):\n"
            "    return SPECIALS + sorted({t for x in texts for t in tokenize(x)})\n",
        ),
        "str.split instead of tokenize": Mistake(
            "have punctuation glued on",
            _TOKENIZE + "def build_vocab(texts):\n"
            "    return SPECIALS + sorted({t for x in texts for t in x.split()} - set(SPECIALS))\n",
        ),
        "case-insensitive sort": Mistake(
            "a case-insensitive sort",
            _TOKENIZE
            + """
def build_vocab(texts):
    found = {t for x in texts for t in tokenize(x)} - set(SPECIALS)
    return SPECIALS + sorted(found, key=str.lower)
""",
        ),
        "repeated tokens kept": Mistake(
            "appear more than once",
            _TOKENIZE + "def build_vocab(texts):\n"
            "    found = [t for x in texts for t in tokenize(x) if t not in SPECIALS]\n"
            "    return SPECIALS + sorted(found)\n",
        ),
        "a dict instead of a list": Mistake(
            "not a dict",
            _TOKENIZE
            + """
def build_vocab(texts):
    found = sorted({t for x in texts for t in tokenize(x)} - set(SPECIALS))
    return {token: i for i, token in enumerate(SPECIALS + found)}
""",
        ),
    },
)

# ----------------------------------------------------------------------------- 1.3 encode

_ENCODE = "from course_lib.vocab import tokenize\n"

CORPUS["ch01_encode"] = Answers(
    valid={
        "loop with a branch per policy": _ENCODE
        + """
def encode(text, token_to_id, unknown="error"):
    ids = []
    for token in tokenize(text):
        if token in token_to_id:
            ids.append(token_to_id[token])
        elif unknown == "unk":
            ids.append(token_to_id["<unk>"])
        else:
            raise ValueError(f"unknown word {token!r}: pass unknown='unk' to map it to <unk>")
    return ids
""",
        "try/except KeyError": _ENCODE
        + """
def encode(text, token_to_id, unknown="error"):
    out = []
    for token in tokenize(text):
        try:
            out.append(token_to_id[token])
        except KeyError:
            if unknown != "unk":
                raise ValueError(f"{token} is not in the vocabulary") from None
            out.append(2)
    return out
""",
        "unknown words found first, then a comprehension": _ENCODE
        + """
def encode(text, token_to_id, unknown="error"):
    tokens = tokenize(text)
    missing = [t for t in tokens if t not in token_to_id]
    if missing and unknown == "error":
        raise ValueError("not in the vocabulary: " + ", ".join(missing))
    return [token_to_id.get(t, token_to_id.get("<unk>", 2)) for t in tokens]
""",
    },
    mistakes={
        "unknown words dropped with unk": Mistake(
            "with unknown='unk' the unknown word 'green' was dropped",
            _ENCODE + "def encode(text, token_to_id, unknown='error'):\n"
            "    return [token_to_id[t] for t in tokenize(text) if t in token_to_id]\n",
        ),
        "unknown words dropped instead of raising": Mistake(
            "with unknown='error' the unknown word 'green' was dropped without a word",
            _ENCODE
            + """
def encode(text, token_to_id, unknown="error"):
    ids = []
    for t in tokenize(text):
        if t in token_to_id:
            ids.append(token_to_id[t])
        elif unknown == "unk":
            ids.append(2)
    return ids
""",
        ),
        "always <unk>": Mistake(
            "must raise ValueError, not become <unk>",
            _ENCODE + "def encode(text, token_to_id, unknown='error'):\n"
            "    return [token_to_id.get(t, 2) for t in tokenize(text)]\n",
        ),
        "<unk> given a new id": Mistake(
            "<unk> has the fixed id 2",
            _ENCODE
            + """
def encode(text, token_to_id, unknown="error"):
    ids = []
    for t in tokenize(text):
        if t in token_to_id:
            ids.append(token_to_id[t])
        elif unknown == "unk":
            ids.append(len(token_to_id))
        else:
            raise ValueError(f"unknown word {t!r}")
    return ids
""",
        ),
        "bare KeyError": Mistake(
            "raised a bare KeyError",
            _ENCODE
            + """
def encode(text, token_to_id, unknown="error"):
    if unknown == "unk":
        return [token_to_id.get(t, 2) for t in tokenize(text)]
    return [token_to_id[t] for t in tokenize(text)]
""",
        ),
        "an error that does not name the word": Mistake(
            "the error for an unknown word should name it ('green')",
            _ENCODE
            + """
def encode(text, token_to_id, unknown="error"):
    ids = []
    for t in tokenize(text):
        if t not in token_to_id and unknown != "unk":
            raise ValueError("unknown word in the text")
        ids.append(token_to_id.get(t, 2))
    return ids
""",
        ),
        "str.split instead of tokenize": Mistake(
            "not text.split()",
            """
def encode(text, token_to_id, unknown="error"):
    ids = []
    for t in text.split():
        if t in token_to_id:
            ids.append(token_to_id[t])
        elif unknown == "unk":
            ids.append(2)
        else:
            raise ValueError(f"unknown word {t!r}")
    return ids
""",
        ),
        "<unk> by default": Mistake(
            "make unknown='error' the default",
            _ENCODE
            + """
def encode(text, token_to_id, unknown="unk"):
    ids = []
    for t in tokenize(text):
        if t in token_to_id:
            ids.append(token_to_id[t])
        elif unknown == "unk":
            ids.append(2)
        else:
            raise ValueError(f"unknown word {t!r}")
    return ids
""",
        ),
    },
)

# ----------------------------------------------------------------------------- 1.4 kmers

CORPUS["ch01_kmers"] = Answers(
    valid={
        "comprehension over the starts": """
def kmers(seq, k, overlapping=False):
    step = 1 if overlapping else k
    return [seq[i : i + k] for i in range(0, len(seq) - k + 1, step)]
""",
        "while loop": """
def kmers(seq, k, overlapping=False):
    out, i = [], 0
    while i + k <= len(seq):
        out.append(seq[i : i + k])
        i += 1 if overlapping else k
    return out
""",
        "every start, short pieces filtered out": """
def kmers(seq, k, overlapping=False):
    pieces = [seq[i : i + k] for i in range(0, len(seq), 1 if overlapping else k)]
    return [p for p in pieces if len(p) == k]
""",
    },
    mistakes={
        "last k-mer dropped": Mistake(
            "off by one",
            "def kmers(seq, k, overlapping=False):\n"
            "    return [seq[i:i+k] for i in range(0, len(seq) - k, 1 if overlapping else k)]\n",
        ),
        "short tail kept": Mistake(
            "shorter than k=3",
            "def kmers(seq, k, overlapping=False):\n"
            "    return [seq[i:i+k] for i in range(0, len(seq), 1 if overlapping else k)]\n",
        ),
        "overlap swapped": Mistake(
            "gave overlapping k-mers; without overlap",
            "def kmers(seq, k, overlapping=False):\n"
            "    step = k if overlapping else 1\n"
            "    return [seq[i:i+k] for i in range(0, len(seq) - k + 1, step)]\n",
        ),
        "always side by side": Mistake(
            "with overlapping=True a k-mer starts at every base",
            "def kmers(seq, k, overlapping=False):\n"
            "    return [seq[i:i+k] for i in range(0, len(seq) - k + 1, k)]\n",
        ),
        "overlapping by default": Mistake(
            "should not overlap by default",
            "def kmers(seq, k, overlapping=True):\n"
            "    step = 1 if overlapping else k\n"
            "    return [seq[i:i+k] for i in range(0, len(seq) - k + 1, step)]\n",
        ),
        "a generator instead of a list": Mistake(
            "is a builtins.generator",
            "def kmers(seq, k, overlapping=False):\n"
            "    step = 1 if overlapping else k\n"
            "    return (seq[i:i+k] for i in range(0, len(seq) - k + 1, step))\n",
        ),
    },
)
