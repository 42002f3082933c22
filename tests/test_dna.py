"""course_lib.dna: the synthetic motif task and the chapter-06 feature helpers.

Oracles: string searches on the generated sequences (where the motif and decoy sit), collections
Counter for k-mer counts, plain loops for pooling and cosine search, and logistic regression on
base counts (must be near chance) and 6-mer counts (must be near perfect).
"""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest

from course_lib import dna
from course_lib.config import ModelConfig
from course_lib.numpy import LLM
from course_lib.vocab import DNAVocab, kmers

# --- the generator --------------------------------------------------------------------------


def test_same_seed_gives_the_same_data() -> None:
    a = dna.make_motif_dataset(50, seed=3)
    b = dna.make_motif_dataset(50, seed=3)
    assert a.sequences == b.sequences
    assert np.array_equal(a.labels, b.labels)
    assert np.array_equal(a.starts, b.starts)


def test_a_different_seed_gives_different_data() -> None:
    a = dna.make_motif_dataset(50, seed=3)
    b = dna.make_motif_dataset(50, seed=4)
    assert a.sequences != b.sequences
    assert sum(x == y for x, y in zip(a.sequences, b.sequences, strict=True)) == 0


@pytest.mark.parametrize("n", [2, 7, 100, 301])
def test_labels_are_balanced(n: int) -> None:
    data = dna.make_motif_dataset(n, seed=1)
    assert len(data) == n
    assert int(data.labels.sum()) == n // 2
    assert set(np.unique(data.labels)) == {0, 1}


def test_sequences_have_the_asked_length_and_only_acgt() -> None:
    data = dna.make_motif_dataset(40, length=73, seed=0)
    assert all(len(s) == 73 for s in data.sequences)
    assert set("".join(data.sequences)) == set("ACGT")


def test_positives_carry_the_motif_once_and_negatives_the_decoy_once() -> None:
    data = dna.make_motif_dataset(300, seed=0)
    for sequence, label, (start,) in zip(data.sequences, data.labels, data.starts, strict=True):
        planted, absent = (dna.MOTIF, dna.DECOY) if label == 1 else (dna.DECOY, dna.MOTIF)
        assert dna.find_all(sequence, planted) == [start]
        assert dna.find_all(sequence, absent) == []


def test_the_decoy_has_the_motif_letters_in_another_order() -> None:
    assert sorted(dna.DECOY) == sorted(dna.MOTIF) and dna.DECOY != dna.MOTIF
    data = dna.make_motif_dataset(10, motif="GGATCC", seed=2)
    assert sorted(data.decoy) == sorted("GGATCC") and data.decoy != "GGATCC"
    negative = data.sequences[int(np.argmin(data.labels))]
    assert data.decoy in negative and "GGATCC" not in negative


def test_the_motif_sits_anywhere() -> None:
    # Oracle: with 400 sequences of 100 bases the starts spread over (almost) all of 0..94.
    data = dna.make_motif_dataset(400, seed=0)
    starts = data.starts[:, 0]
    assert starts.min() <= 3 and starts.max() >= 91
    assert len(np.unique(starts)) > 80


def test_base_counts_are_no_shortcut_but_6mer_counts_are() -> None:
    data = dna.make_motif_dataset(1000, seed=0)
    one = dna.probe_accuracy(dna.kmer_counts(data.sequences, 1), data.labels, scale=False)
    six = dna.probe_accuracy(dna.kmer_counts(data.sequences, 6), data.labels, scale=False)
    assert 0.40 <= one <= 0.60, one  # chance is 0.5; 300 test rows give +-0.06 at 2 sigma
    assert six >= 0.97, six


def test_random_negatives_would_leak_the_composition() -> None:
    # The reason for the decoy: with an A/T-rich motif and plain random negatives, base counts
    # alone beat chance. Oracle: same data with the decoy replaced by random bases.
    data = dna.make_motif_dataset(1000, seed=0)
    rng = np.random.default_rng(0)
    plain = []
    for sequence, label, (start,) in zip(data.sequences, data.labels, data.starts, strict=True):
        if label == 0:
            noise = "".join(rng.choice(list("ACGT"), size=6))
            sequence = sequence[:start] + noise + sequence[start + 6 :]
        plain.append(sequence)
    leak = dna.probe_accuracy(dna.kmer_counts(plain, 1), data.labels, scale=False)
    fair = dna.probe_accuracy(dna.kmer_counts(data.sequences, 1), data.labels, scale=False)
    assert leak > fair + 0.05, (leak, fair)


def test_mutation_rate_changes_planted_letters_at_that_rate() -> None:
    rate = 0.2
    data = dna.make_motif_dataset(1000, seed=0, mutation_rate=rate)
    changed, letters = 0, 0
    for sequence, label, (start,), (word,) in zip(
        data.sequences, data.labels, data.starts, data.planted, strict=True
    ):
        original = dna.MOTIF if label == 1 else dna.DECOY
        assert sequence[start : start + 6] == word
        changed += sum(a != b for a, b in zip(word, original, strict=True))
        letters += 6
    share = changed / letters
    assert abs(share - rate) < 0.02, share  # 6000 letters: sd 0.005
    exact = np.mean(
        [dna.MOTIF in s for s, y in zip(data.sequences, data.labels, strict=True) if y == 1]
    )
    assert abs(exact - (1 - rate) ** 6) < 0.07, exact  # (0.8)**6 = 0.26 keep the whole motif


def test_mutation_makes_the_task_harder() -> None:
    clean = dna.make_motif_dataset(600, seed=0)
    noisy = dna.make_motif_dataset(600, seed=0, mutation_rate=0.3)
    accuracy = [
        dna.probe_accuracy(dna.kmer_counts(d.sequences, 6), d.labels, scale=False)
        for d in (clean, noisy)
    ]
    assert accuracy[1] < accuracy[0] - 0.1, accuracy


def test_zero_mutation_rate_plants_the_exact_words() -> None:
    data = dna.make_motif_dataset(100, seed=5, mutation_rate=0.0)
    assert all(
        w == [dna.MOTIF if y else dna.DECOY] for w, y in zip(data.planted, data.labels, strict=True)
    )


def test_two_motif_rule_labels_by_order() -> None:
    data = dna.make_motif_dataset(300, seed=0, rule="two_motif")
    assert int(data.labels.sum()) == 150
    for sequence, label, starts in zip(data.sequences, data.labels, data.starts, strict=True):
        first = dna.find_all(sequence, dna.MOTIF)
        second = dna.find_all(sequence, dna.SECOND_MOTIF)
        assert len(first) == 1 and len(second) == 1
        assert dna.find_all(sequence, dna.DECOY) == []
        assert int(first[0] < second[0]) == label
        assert sorted(starts.tolist()) == sorted([first[0], second[0]])


def test_two_motif_rule_defeats_kmer_counts() -> None:
    # Every sequence has the same planted words; only their order differs.
    data = dna.make_motif_dataset(1000, seed=0, rule="two_motif")
    six = dna.probe_accuracy(dna.kmer_counts(data.sequences, 6), data.labels, scale=False)
    assert 0.40 <= six <= 0.62, six


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"n": 1}, "n must be an int >= 2"),
        ({"n": 10, "motif": "TATAXT"}, "only the letters A, C, G, T"),
        ({"n": 10, "decoy": "GGGGGG"}, "letters of motif"),
        ({"n": 10, "decoy": dna.MOTIF}, "another order"),
        ({"n": 10, "rule": "three"}, "rule must be"),
        ({"n": 10, "mutation_rate": 1.5}, "mutation_rate"),
        ({"n": 10, "length": 7}, "too short"),
        ({"n": 10, "motif": "AAAA"}, "one distinct letter"),
    ],
)
def test_bad_arguments_say_what_to_fix(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        dna.make_motif_dataset(**kwargs)


def test_scramble_is_seeded_and_keeps_the_letters() -> None:
    assert dna.scramble("GATTACA", 1) == dna.scramble("GATTACA", 1)
    word = dna.scramble("GATTACA", 1)
    assert sorted(word) == sorted("GATTACA") and word != "GATTACA"


# --- k-mer counts -----------------------------------------------------------------------------


@pytest.mark.parametrize("overlapping", [True, False])
@pytest.mark.parametrize("k", [1, 2, 3])
def test_kmer_counts_match_a_counter(k: int, overlapping: bool) -> None:
    sequences = dna.make_motif_dataset(6, length=31, seed=0).sequences
    counts = dna.kmer_counts(sequences, k, overlapping=overlapping)
    columns = dna.kmer_columns(k)
    assert counts.shape == (6, 4**k)
    for row, sequence in zip(counts, sequences, strict=True):
        want = Counter(kmers(sequence, k, overlapping=overlapping))
        assert {c: row[i] for i, c in enumerate(columns) if row[i]} == dict(want)


def test_kmer_columns_follow_the_dna_vocab() -> None:
    assert dna.kmer_columns(2) == DNAVocab(2).id_to_token[3:]


def test_kmer_counts_skip_unknown_bases() -> None:
    counts = dna.kmer_counts(["ACNGT"], 2)
    assert counts.sum() == 2  # AC and GT; CN and NG hold an N
    with pytest.raises(TypeError, match="wrap it"):
        dna.kmer_counts("ACGT", 2)


# --- pooling ------------------------------------------------------------------------------------


def _padded_batch() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    hidden = rng.normal(size=(3, 5, 4))  # (B, T, D)
    mask = np.array([[1, 1, 1, 1, 1], [1, 1, 0, 0, 0], [1, 1, 1, 0, 0]], dtype=bool)
    return hidden, mask


def test_mean_pool_averages_only_real_positions() -> None:
    hidden, mask = _padded_batch()
    want = np.stack([hidden[b, : mask[b].sum()].mean(axis=0) for b in range(3)])
    assert np.allclose(dna.mean_pool(hidden, mask), want)
    assert np.allclose(dna.pool(hidden, mask, "mean"), want)


def test_last_and_max_pooling_look_only_at_real_positions() -> None:
    hidden, mask = _padded_batch()
    lengths = mask.sum(axis=1)
    want_last = np.stack([hidden[b, lengths[b] - 1] for b in range(3)])
    want_max = np.stack([hidden[b, : lengths[b]].max(axis=0) for b in range(3)])
    assert np.allclose(dna.pool(hidden, mask, "last"), want_last)
    assert np.allclose(dna.pool(hidden, mask, "max"), want_max)


def test_pooling_rejects_bad_input() -> None:
    hidden, mask = _padded_batch()
    with pytest.raises(ValueError, match="pooling must be"):
        dna.pool(hidden, mask, "median")
    with pytest.raises(ValueError, match="need hidden"):
        dna.pool(hidden[0], mask)
    empty = mask.copy()
    empty[1] = False
    with pytest.raises(ValueError, match="no real token"):
        dna.mean_pool(hidden, empty)


def test_encode_batch_pads_with_pad_id() -> None:
    vocab = DNAVocab(2)
    ids, mask = dna.encode_batch(vocab, ["ACGTAC", "ACG"])
    assert ids.shape == mask.shape == (2, 3)
    assert ids[1].tolist() == [vocab.token_to_id["AC"], 0, 0]
    assert mask.sum(axis=1).tolist() == [3, 1]


# --- hidden states of a model -------------------------------------------------------------------


def _model(positional: str = "learned") -> tuple[LLM, DNAVocab]:
    vocab = DNAVocab(1)
    config = ModelConfig(
        vocab_size=len(vocab), d_model=16, d_hidden=32, n_layers=2, max_seq_len=40,
        positional=positional,
    )  # fmt: skip
    return LLM(config, seed=0), vocab


def test_hidden_state_features_give_one_matrix_per_layer_in_any_batch_size() -> None:
    model, vocab = _model()
    sequences = dna.make_motif_dataset(10, length=30, seed=0).sequences + ["ACGTACGTAC"]
    whole = dna.hidden_state_features(model, vocab, sequences, batch_size=64)
    chunked = dna.hidden_state_features(model, vocab, sequences, batch_size=3)
    assert len(whole) == 3 and all(f.shape == (11, 16) for f in whole)
    for a, b in zip(whole, chunked, strict=True):
        assert np.allclose(a, b, atol=1e-5)
    both = dna.hidden_state_features(model, vocab, sequences, ["mean", "max"])
    assert set(both) == {"mean", "max"} and np.allclose(both["mean"][2], whole[2], atol=1e-5)


@pytest.mark.parametrize("positional", ["learned", "sinusoidal"])
def test_mean_pooled_layer_zero_is_a_bag_of_tokens(positional: str) -> None:
    # Oracle: counts @ token table / length + the mean of the position rows used.
    model, vocab = _model(positional)
    sequences = dna.make_motif_dataset(8, length=30, seed=1).sequences
    layer0 = dna.hidden_state_features(model, vocab, sequences)[0]
    table = model.embeddings.token.weight  # (vocab, d)
    counts = dna.kmer_counts(sequences, 1)  # (n, 4): columns A, C, G, T = ids 3..6
    ids, mask = dna.encode_batch(vocab, sequences)
    positions = model.embeddings(np.zeros_like(ids))[0] - table[0]  # (T, d), the position rows
    want = counts @ table[3:7] / 30 + positions.mean(axis=0)
    assert np.allclose(layer0, want, atol=1e-5)


# --- probes and search --------------------------------------------------------------------------


def test_probe_accuracy_is_perfect_on_separable_data_and_chance_on_noise() -> None:
    rng = np.random.default_rng(0)
    labels = np.repeat([0, 1], 100)
    separable = rng.normal(size=(200, 3)) + labels[:, None] * 10
    assert dna.probe_accuracy(separable, labels) == 1.0
    noise = rng.normal(size=(200, 3))
    assert 0.3 <= dna.probe_accuracy(noise, labels) <= 0.7


def test_cosine_top_k_matches_a_loop_and_leaves_out_the_query() -> None:
    rng = np.random.default_rng(1)
    matrix = rng.normal(size=(20, 5)) + 3.0
    for centre in (True, False):
        used = matrix - matrix.mean(axis=0) if centre else matrix
        scores = [
            float(used[i] @ used[4] / np.linalg.norm(used[i]) / np.linalg.norm(used[4]))
            for i in range(20)
        ]
        want = sorted((i for i in range(20) if i != 4), key=lambda i: -scores[i])[:6]
        got, sims = dna.cosine_top_k(matrix, 4, k=6, centre=centre)
        assert got.tolist() == want
        assert np.allclose(sims, [scores[i] for i in want])


def test_centring_removes_a_shared_offset() -> None:
    # Two clusters far from the origin: uncentred, every row points the same way.
    rng = np.random.default_rng(2)
    labels = np.repeat([0, 1], 30)
    matrix = rng.normal(size=(60, 4)) * 0.3 + 50.0
    matrix[:, 0] += np.where(labels == 1, 1.0, -1.0)
    assert dna.precision_at_k(matrix, labels, k=5, centre=True) > 0.9
    _, uncentred = dna.cosine_top_k(matrix, 0, k=5, centre=False)
    assert uncentred.min() > 0.99  # everything looks alike without centring


def test_cosine_top_k_rejects_bad_k() -> None:
    with pytest.raises(ValueError, match="k must be"):
        dna.cosine_top_k(np.eye(3), 0, k=3)
