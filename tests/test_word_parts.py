"""The word-level parts between the encoder and the heads: char-CNN and hashed word features,
the padding-proof BiLSTM, the learned CRF (training loss, Viterbi, marginals), pair features,
word dropout, and the model with every part on (learning, save/load, version checks)."""
import itertools
import json

import numpy as np
import pytest
import torch

from rasd.inference.decoding import TagTransitions, crf_marginals, decode_spans, pair_features, viterbi_bio
from rasd.inference.text import stem_guess
from rasd.inference.word_features import WordFeaturizer, char_id, word_shape

TAGS = ["O", "B-GPE", "I-GPE", "B-FORCE", "I-FORCE"]
PARTS = dict(char_embedding_size=8, char_filters=6, word_features=["word", "affixes", "stem", "shape", "gazetteer"],
             feature_buckets=997, feature_embedding_size=8, lstm_hidden_size=12, lstm_layers=2, crf=True,
             pair_features=True, word_dropout_rate=0.1)


# ---------------------------------------------------------------------------------------- words
@pytest.mark.parametrize("word, stem", [("وبالقوات", "قوات"), ("للجيش", "جيش"), ("بحلب", "حلب"), ("الحسكه", "حسكه")])
def test_stem_guess_peels_conjunction_preposition_and_article(word, stem):
    assert stem_guess(word) == stem


def test_gazetteer_membership_reads_names_through_clitics():
    featurizer = WordFeaturizer(["gazetteer"])
    no_place = featurizer.features("الطائرات")
    for word in ("بحلب", "وحلب", "لحلب", "حلب", "الموصل", "بالموصل", "بغداد"):
        assert featurizer.features(word) != no_place, word
    # countries come from pycountry's Arabic catalogue
    assert WordFeaturizer(["gazetteer"]).features("والعراق") != no_place


def test_features_are_stable_hashes_within_their_buckets():
    featurizer = WordFeaturizer(["word", "affixes", "stem", "shape", "gazetteer"], buckets=101)
    ids = featurizer.features("والقوات")
    assert len(ids) == featurizer.slots == 13 and all(1 <= i < 101 for i in ids)
    assert WordFeaturizer(["word", "affixes", "stem", "shape", "gazetteer"], buckets=101).features("والقوات") == ids
    assert featurizer.features("القوات")[7] == ids[7]  # the same stem under other clitics
    assert word_shape("2,000") == "number" and word_shape("AFP") == "latin" and word_shape("،") == "punct،"
    with pytest.raises(ValueError, match="unknown word features"):
        WordFeaturizer(["lemma"])


def test_character_ids_are_fixed_by_code_point_and_long_words_keep_both_ends():
    featurizer = WordFeaturizer(max_chars=6)
    assert featurizer.chars("حلب") == (char_id("ح"), char_id("ل"), char_id("ب"))
    assert char_id("ح") != char_id("خ") and char_id("a") != char_id("ا")
    long = featurizer.chars("abcdefghij")
    assert len(long) == 6 and long[:3] == featurizer.chars("abc") and long[3:] == featurizer.chars("hij")


# ---------------------------------------------------------------------------------------- BiLSTM
def test_bilstm_outputs_do_not_depend_on_padding():
    from rasd.inference.modeling import BiLSTM

    torch.manual_seed(0)
    lstm = BiLSTM(5, 4, layers=2, dropout=0.0).eval()
    x = torch.randn(1, 6, 5)
    alone = lstm(x, torch.ones(1, 6))
    padded = torch.cat([x, torch.randn(1, 3, 5)], dim=1)
    in_batch = lstm(torch.cat([padded, torch.randn(1, 9, 5)]), torch.tensor([[1] * 6 + [0] * 3, [1] * 9]))
    assert torch.allclose(in_batch[0, :6], alone[0], atol=1e-6)
    # and the backward half really reads right to left: the first word sees the last one
    changed = x.clone()
    changed[0, -1] += 1
    assert not torch.allclose(lstm(changed, torch.ones(1, 6))[0, 0, 4:], alone[0, 0, 4:])


# ---------------------------------------------------------------------------------------- CRF
def _random_learned(seed: int) -> TagTransitions:
    rng = np.random.default_rng(seed)
    return TagTransitions(rng.normal(size=(5, 5)).astype(np.float32), rng.normal(size=5).astype(np.float32),
                          rng.normal(size=5).astype(np.float32))


def _brute_force_paths(emissions, learned):
    from rasd.inference.decoding import _moves

    trans, start, end = _moves(TAGS, learned)
    scores = {}
    for path in itertools.product(range(len(TAGS)), repeat=len(emissions)):
        s = start[path[0]] + emissions[0, path[0]] + end[path[-1]]
        s += sum(trans[a, b] + emissions[t + 1, b] for t, (a, b) in enumerate(zip(path, path[1:])))
        scores[path] = s
    return scores


@pytest.mark.parametrize("seed", range(3))
def test_crf_viterbi_and_marginals_equal_brute_force(seed):
    learned = _random_learned(seed)
    emissions = np.random.default_rng(10 + seed).normal(size=(4, 5)).astype(np.float32)
    scores = _brute_force_paths(emissions, learned)
    best = max(scores, key=scores.get)
    assert tuple(viterbi_bio(emissions, TAGS, learned)) == best
    finite = {p: s for p, s in scores.items() if np.isfinite(s)}
    weights = np.exp(np.array(list(finite.values())) - max(finite.values()))
    marginals = np.zeros((4, 5))
    for (path, _), w in zip(finite.items(), weights):
        marginals[np.arange(4), list(path)] += w
    marginals /= weights.sum()
    assert np.allclose(crf_marginals(emissions, TAGS, learned), marginals, atol=1e-5)
    spans = decode_spans(emissions, [(0, 1), (2, 3), (4, 5), (6, 7)], TAGS, learned=learned)
    assert all(0 < s.score <= 1 for s in spans)


def _random_crf(seed: int):
    from rasd.inference.modeling import LinearChainCRF

    torch.manual_seed(seed)
    crf = LinearChainCRF(TAGS)
    with torch.no_grad():
        for p in crf.parameters():
            p.normal_()
    return crf


def test_crf_loss_is_the_negative_log_likelihood_of_the_gold_path():
    crf = _random_crf(1)
    emissions = torch.randn(2, 4, 5)
    gold = torch.tensor([[1, 2, 0, 3], [3, 4, 0, -100]])
    mask = torch.tensor([[1, 1, 1, 1], [1, 1, 1, 0]])
    learned = TagTransitions(*(t.detach().numpy() for t in crf.transition_scores()))
    want = 0.0
    for b, n in ((0, 4), (1, 3)):
        scores = _brute_force_paths(emissions[b, :n].numpy(), learned)
        log_z = np.logaddexp.reduce(np.array(list(scores.values())))
        want += log_z - scores[tuple(gold[b, :n].tolist())]
    assert crf.nll(emissions, gold, mask).item() == pytest.approx(want, rel=1e-4)


def test_crf_loss_spares_a_window_cut_inside_a_span():
    """A window beginning with gold I-X (cut from a long document) is scored with the learned start
    scores, not the document-start rule; windows that begin a document keep the rule."""
    crf = _random_crf(2)
    emissions = torch.randn(2, 3, 5)
    gold = torch.tensor([[2, 0, 1], [1, 2, 0]])  # I-GPE first (a cut window), then a document start
    mask = torch.ones(2, 3)
    trans, start, end = (t.detach().double().numpy() for t in crf.transition_scores())
    want = []
    for b, first_scores in ((0, crf.start.detach().double().numpy()), (1, start)):
        e = emissions[b].double().numpy()
        scores = {path: first_scores[path[0]] + e[0, path[0]] + end[path[-1]]
                  + sum(trans[x, y] + e[i + 1, y] for i, (x, y) in enumerate(zip(path, path[1:])))
                  for path in itertools.product(range(len(TAGS)), repeat=3)}
        log_z = np.logaddexp.reduce(np.array(list(scores.values())))
        want.append(log_z - scores[tuple(gold[b].tolist())])
    assert want[0] < 100  # not the 10,000 of a forbidden first tag
    for b in (0, 1):
        assert crf.nll(emissions[b:b + 1], gold[b:b + 1], mask[b:b + 1]).item() == pytest.approx(want[b], rel=1e-4)


# ---------------------------------------------------------------------------------------- pairs
def test_pair_features_follow_their_definition(schema):
    labels = ["ATTACK", "GPE", "ATTACK", "GPE", "TIME"]
    sentences, first, last = [0, 0, 0, 1, 1], [0, 3, 6, 9, 12], [1, 3, 7, 10, 12]
    rows = pair_features(labels, sentences, first, last, schema, [(0, 1), (2, 1), (0, 3), (2, 3), (3, 0)])
    assert rows[:, 0].tolist() == [2, 2, 3, 3, 1]  # sentence gap + 2
    assert rows[:, 1].tolist() == [0, 0, 1, 0, 1]  # triggers strictly between
    assert rows[1, 2] == 1  # GPE@9 is nearer the second attack than GPE@3
    assert rows[1, 3] == 1  # and the first attack is nearer GPE@3 than the second
    assert pair_features(labels, sentences, first, last, schema, []).shape == (0, 4)


# ---------------------------------------------------------------------------------------- model
@pytest.fixture
def parts_model(tiny_encoder_dir, schema):
    from rasd.inference.modeling import RasdModel

    torch.manual_seed(0)
    return RasdModel.from_encoder(tiny_encoder_dir, schema, max_length=32, window_stride=8, **PARTS)


def test_every_part_on_learns(parts_model, tiny_tokenizer, tiny_docs, train_steps):
    from rasd.training.data import WordDropout, build_features, collate

    feats, _ = build_features(tiny_docs, tiny_tokenizer, parts_model.config)
    assert feats[0].word_inputs["char_ids"].shape[1] == parts_model.config.max_word_chars
    batch = collate(feats, tiny_tokenizer.pad_token_id)
    assert (batch["pair_labels"] > 0).any() and batch["pair_features"].shape[-1] == 4
    losses, _ = train_steps(parts_model, batch, lr=1e-2)
    assert losses[-1] < 0.7 * losses[0]
    assert parts_model.crf.transitions.abs().sum() > 0  # the CRF learned something
    # word dropout: the same key drops the same words, another key others
    dropout = WordDropout(0.5, tiny_tokenizer.unk_token_id, word_feature_slot=0)
    a, b = (collate(feats, tiny_tokenizer.pad_token_id, dropout, key) for key in ((1, 2), (1, 2)))
    c = collate(feats, tiny_tokenizer.pad_token_id, dropout, (1, 3))
    assert torch.equal(a["input_ids"], b["input_ids"]) and not torch.equal(a["input_ids"], c["input_ids"])
    assert (a["input_ids"] == tiny_tokenizer.unk_token_id).sum() > (batch["input_ids"] == tiny_tokenizer.unk_token_id).sum()
    assert (a["feature_ids"][..., 0] == 0).sum() > (batch["feature_ids"][..., 0] == 0).sum()


def test_every_part_on_saves_loads_and_predicts_the_same(tmp_path, parts_model, tiny_tokenizer, tiny_docs):
    from rasd.inference.extractor import Extractor

    with torch.no_grad():
        parts_model.crf.transitions.normal_()
    parts_model.save_pretrained(tmp_path / "m")
    tiny_tokenizer.save_pretrained(tmp_path / "m")
    config = json.loads((tmp_path / "m" / "config.json").read_text())
    assert config["crf"] is True and config["lstm_layers"] == 2 and config["word_features"] == PARTS["word_features"]
    before = Extractor(parts_model, tiny_tokenizer).predict_documents(tiny_docs)
    after = Extractor.from_pretrained(tmp_path / "m").predict_documents(tiny_docs)
    assert [[(s.start, s.end, s.label, round(s.score, 5)) for s in d.spans] for d in before] == \
           [[(s.start, s.end, s.label, round(s.score, 5)) for s in d.spans] for d in after]
    # one document alone or batched with others: the same spans
    alone = Extractor(parts_model, tiny_tokenizer).predict_documents(tiny_docs[1:2], batch_size=1)
    assert [(s.start, s.end, s.label) for s in alone[0].spans] == [(s.start, s.end, s.label) for s in before[1].spans]


def test_a_model_saved_by_rasd_0_1_fails_with_the_fix(tmp_path, tiny_model):
    from rasd.inference.definition import ModelVersionError
    from rasd.inference.modeling import RasdModel

    tiny_model.config.rasd_version = "0.1.0"
    tiny_model.save_pretrained(tmp_path / "old")
    with pytest.raises(ModelVersionError, match=r"saved by rasd 0\.1\.0.*rasd train --config"):
        RasdModel.from_pretrained(tmp_path / "old")


def test_the_trigger_lexicon_matches_stems_under_clitics_and_tense_prefixes():
    from rasd.inference.text import fold
    from rasd.inference.word_features import Lexicon, read_lexicon

    lexicon = Lexicon(read_lexicon("configs/lexicons/conflict-ar-triggers.yaml"))
    for word, label in (("قصفت", "BOMBARD"), ("وبالقصف", "BOMBARD"), ("سيقصف", "BOMBARD"), ("قتلى", "CASUALTY"),
                        ("فرّ", "FLEE"), ("المتظاهرين", "PROTEST"), ("وأعلنت", "STATEMENT")):
        assert lexicon.label(fold(word)) == label, word
    assert lexicon.label(fold("فرنسا")) is None  # a two-letter entry matches only the whole stem
    assert lexicon.label(fold("الطائرات")) is None
    featurizer = WordFeaturizer(["lexicon"], lexicon={"ATTACK": ["هجوم"], "STATEMENT": ["قال"]})
    assert featurizer.features("الهجوم") != featurizer.features("قالت") != featurizer.features("مدينة")
    with pytest.raises(ValueError, match="needs a lexicon"):
        WordFeaturizer(["lexicon"])


def test_a_run_config_loads_its_lexicon_file_into_the_saved_options():
    from rasd.training.config import TrainConfig
    from rasd.training.configuration import load_config

    config = load_config(TrainConfig, None, ["model.lexicon_file=configs/lexicons/conflict-ar-triggers.yaml"])
    assert "قصف" in config.model.options().lexicon["BOMBARD"]
