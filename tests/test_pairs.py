"""format: pairs (rnnctl.data.pairs, rnnctl.data.pairset): reading, bad lines, vocabularies, batches."""

import numpy as np
import pytest

from rnnctl.data import FORMATS, assign_splits, load
from rnnctl.data.files import from_file
from rnnctl.data.pairs import build_vocab, from_pairs, load_pairs, read_pairs
from rnnctl.data.pairset import END, UNK
from rnnctl.errors import DataError


def write(tmp_path, text, name="p.tsv"):
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return p


def test_pairs_is_a_format_everywhere():
    from typing import get_args, get_type_hints

    from rnnctl.config.schema import TaskConfig
    assert "pairs" in FORMATS
    assert "pairs" in get_args(get_args(get_type_hints(TaskConfig)["format"])[0])


def test_tab_separated_pairs_with_markers_and_separate_vocabularies(tmp_path):
    p = write(tmp_path, "ab\txyz\n\nba\tzy\tattribution, ignored\n")
    ds = load(p, "pairs", fractions=(1.0, 0.0, 0.0))
    assert ds.texts == (("ab", "xyz"), ("ba", "zy"))
    assert ds.src_vocab[:2] == ds.tgt_vocab[:2] == ("<unk>", "</s>")
    assert set(ds.src_vocab[2:]) == {"a", "b"} and set(ds.tgt_vocab[2:]) == {"x", "y", "z"}
    assert ds.src_lengths.tolist() == [3, 3] and ds.tgt_lengths.tolist() == [4, 3]   # END closes each
    a, b = ds.src_vocab.index("a"), ds.src_vocab.index("b")
    assert ds.src[:3].tolist() == [a, b, END]
    assert ds.decode(ds.tgt[:4]) == "xyz"


def test_csv_with_named_columns(tmp_path):
    p = write(tmp_path, "id,en,fr\n1,cat,chat\n2,dog,chien\n", "p.csv")
    ds = load_pairs(p, source_column="en", target_column="fr", fractions=(1.0, 0.0, 0.0))
    assert ds.texts == (("cat", "chat"), ("dog", "chien"))
    with pytest.raises(DataError, match="line 1.*no column 'source'"):
        load_pairs(p)


@pytest.mark.parametrize("text, where, what", [
    ("ab\tba\nno tab here\n", "line 2", "no tab"),
    ("ab\tba\n\t x\n", "line 2", "source side is empty"),
    ("ab\tba\ncd\t  \n", "line 2", "target side is empty"),
])
def test_bad_lines_name_the_line(tmp_path, text, where, what):
    p = write(tmp_path, text)
    with pytest.raises(DataError, match=f"p.tsv: {where}: .*{what}"):
        load_pairs(p)


def test_a_pair_over_the_length_cap_names_its_line(tmp_path):
    p = write(tmp_path, "ab\tba\nabcdef\tfedcba\n")
    with pytest.raises(DataError, match=r"line 2: the source side has 6 char tokens, more than task.max_pair_length = 5"):
        load_pairs(p, max_pair_length=5)
    assert len(load_pairs(p, max_pair_length=6)) == 2


def test_empty_csv_side_names_the_line(tmp_path):
    p = write(tmp_path, "source,target\na,b\n,c\n", "p.csv")
    with pytest.raises(DataError, match="line 3: the source side is empty"):
        read_pairs(p)


def test_word_level_vocabulary_cap_and_unknown_token(tmp_path):
    lines = ["the cat sat\tle chat assis", "the dog sat\tle chien assis", "the cat ran\tle chat courut",
             "a bird flew\tun oiseau vola"]
    p = write(tmp_path, "\n".join(lines) + "\n")
    ds = load_pairs(p, level="word", vocab_size=5, fractions=(1.0, 0.0, 0.0))
    # the 3 most frequent words after the two markers; ties in code-point order
    assert ds.src_vocab == ("<unk>", "</s>", "the", "cat", "sat")
    assert ds.tgt_vocab == ("<unk>", "</s>", "le", "assis", "chat")
    first = ds.src[:ds.src_lengths[0]].tolist()
    assert first == [2, 3, 4, END]
    last = ds.src[ds.src_offsets[3]:].tolist()
    assert last == [UNK, UNK, UNK, END]
    assert ds.decode(ds.tgt[ds.tgt_offsets[1]:ds.tgt_offsets[2]]) == "le <unk> assis"
    assert len(load_pairs(p, level="word", fractions=(1.0, 0.0, 0.0)).src_vocab) == 2 + 8


def test_vocabularies_come_from_the_train_split_only():
    rows = [(i + 1, s, t) for i, (s, t) in enumerate([("ab", "x"), ("ab", "y"), ("cq", "z")])]
    ds = from_pairs(rows, split=[0, 0, 2])
    assert "q" not in ds.src_vocab and "z" not in ds.tgt_vocab
    assert ds.src[ds.src_offsets[2] + 1] == UNK and ds.tgt[ds.tgt_offsets[2]] == UNK


def test_split_rule_is_the_common_one(tmp_path):
    p = write(tmp_path, "".join(f"{i}\t{i}\n" for i in range(50)))
    ds = from_file(p, "pairs", fractions=(0.6, 0.2, 0.2), split_seed=3)
    assert np.array_equal(ds.split, assign_splits(50, (0.6, 0.2, 0.2), 3))
    assert ds.sizes() == {"train": 30, "valid": 10, "test": 10}


def test_reverse_source_keeps_the_end_marker_last():
    rows = [(1, "abc", "x")]
    fwd, rev = from_pairs(rows, split=[0]), from_pairs(rows, split=[0], reverse_source=True)
    assert rev.src.tolist() == fwd.src[:3][::-1].tolist() + [END]
    assert rev.tgt.tolist() == fwd.tgt.tolist() and rev.hash != fwd.hash


def test_padded_batches_carry_both_lengths_and_mask(tmp_path):
    p = write(tmp_path, "a\txyz\nabcd\tx\n")
    ds = load_pairs(p, fractions=(1.0, 0.0, 0.0))
    b = ds.batch([0, 1])
    assert b.u.shape == (5, 2, ds.n_in) and b.target.shape == (4, 2)
    assert b.lengths.tolist() == [2, 5] and b.target_lengths.tolist() == [4, 2]
    assert b.u[2:, 0].sum() == 0 and (b.u[:, 1].sum(axis=1) == 1).all()     # zeros at padded steps
    assert b.target[2:, 1].tolist() == [0, 0] and b.mask[:, 1].tolist() == [True, True, False, False]
    assert b.target[3, 0] == END and b.target[1, 1] == END


def test_epochs_bucket_by_length_and_cover_the_split(tmp_path):
    rng = np.random.default_rng(0)
    lines = ["".join(rng.choice(list("abc"), size=n)) for n in rng.integers(1, 30, size=200)]
    p = write(tmp_path, "".join(f"{w}\t{w}\n" for w in lines))
    ds = load_pairs(p)
    batches = ds.order("train", 8, np.random.default_rng(1))
    seen = np.sort(np.concatenate(batches))
    assert np.array_equal(seen, ds.indices("train"))
    spread = np.mean([np.ptp(ds.src_lengths[i]) for i in batches])
    plain = np.mean([np.ptp(ds.src_lengths[i]) for i in ds.order("train", 8, np.random.default_rng(1), bucket=None)])
    assert spread < plain / 3


def test_build_vocab_counts_and_caps():
    assert build_vocab([["b", "a"], ["b"]]) == ("<unk>", "</s>", "b", "a")
    assert build_vocab([["b", "a"], ["b"]], 3) == ("<unk>", "</s>", "b")
    with pytest.raises(DataError, match="vocab_size must be at least 3"):
        from_pairs([(1, "a", "b")], vocab_size=2)
