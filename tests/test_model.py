"""The joint model: HF-native save/load, schema checks, learning, long documents."""
import itertools

import pytest
import torch

from rasd.inference.extractor import Extractor
from rasd.inference.modeling import RasdModel, SchemaMismatchError
from rasd.inference.schema import Schema
from rasd.training.data import build_features, collate


def test_default_encoder_directory_loads_through_auto_classes(tmp_path, tiny_docs):
    from transformers import AutoModel, AutoTokenizer

    from rasd.training.default_model import DefaultEncoderSpec, build_default_encoder

    spec = DefaultEncoderSpec(vocab_size=300, hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                              intermediate_size=64, max_position_embeddings=64)
    out = build_default_encoder([d.text for d in tiny_docs], tmp_path / "enc", spec)
    model, tok = AutoModel.from_pretrained(out), AutoTokenizer.from_pretrained(out)
    assert model.config.hidden_size == 32 and tok.is_fast
    ids = tok("قصفت الطائرات مدينة حمص")["input_ids"]
    assert ids[0] == tok.cls_token_id and tok.unk_token_id not in ids[1:-1][:2]


def test_few_steps_reduce_the_loss(tiny_model, tiny_tokenizer, tiny_docs, train_steps):
    feats, _ = build_features(tiny_docs, tiny_tokenizer, tiny_model.config)
    batch = collate(feats, tiny_tokenizer.pad_token_id)
    assert (batch["pair_labels"] > 0).any()
    losses, out = train_steps(tiny_model, batch, lr=3e-3)
    assert losses[-1] < 0.7 * losses[0]
    assert out.relation_loss is not None


def test_save_load_round_trip_gives_identical_predictions(tmp_path, tiny_model, tiny_tokenizer, tiny_docs):
    tiny_model.save_pretrained(tmp_path / "m")
    tiny_tokenizer.save_pretrained(tmp_path / "m")
    assert (tmp_path / "m" / "model.safetensors").exists()
    before = Extractor(tiny_model, tiny_tokenizer).predict_documents(tiny_docs)
    after = Extractor.from_pretrained(tmp_path / "m").predict_documents(tiny_docs)
    assert [[(s.start, s.end, s.label, round(s.score, 5)) for s in d.spans] for d in before] == \
           [[(s.start, s.end, s.label, round(s.score, 5)) for s in d.spans] for d in after]
    assert [[(r.head.start, r.tail.start, r.label) for r in d.relations] for d in before] == \
           [[(r.head.start, r.tail.start, r.label) for r in d.relations] for d in after]


def test_label_schema_travels_in_the_config_and_mismatch_is_a_clear_error(tmp_path, tiny_model, schema):
    tiny_model.save_pretrained(tmp_path / "m")
    loaded = RasdModel.from_pretrained(tmp_path / "m", schema=schema)
    assert loaded.config.id2label[0] == "O" and "B-FORCE" in loaded.config.label2id
    other = Schema.from_dict({"name": "ner", "entities": ["PERS", "LOC"], "triggers": []})
    with pytest.raises(SchemaMismatchError, match=r"entities: checkpoint \['PER'.*\['PERS', 'LOC'\]"):
        RasdModel.from_pretrained(tmp_path / "m", schema=other)


def test_relation_head_never_proposes_a_pair_the_schema_forbids(tiny_model):
    labels = tiny_model.schema.span_labels
    i, j = labels.index("TIME"), labels.index("WEAPON")
    allowed = tiny_model.allowed_table()[i, j]
    assert allowed.sum() == 1  # only "no relation"
    k = labels.index("BOMBARD")
    assert tiny_model.allowed_table()[k, i].sum() == 2  # no relation, or TIME


def test_document_longer_than_the_encoder_trains_and_predicts(tiny_model, tiny_tokenizer, tiny_docs):
    from rasd.inference.documents import Document, Relation, Span

    base = tiny_docs[1]
    reps = 12
    text = "\n".join([base.text] * reps)
    spans, rels = [], []
    shift = 0
    for k in range(reps):
        mapping = {}
        for s in base.spans:
            span = Span(s.start + shift, s.end + shift, s.label, s.text, None, f"{s.id}_{k}")
            mapping[id(s)] = span
            spans.append(span)
        rels += [Relation(mapping[id(r.head)], mapping[id(r.tail)], r.label) for r in base.relations]
        shift += len(base.text) + 1
    long_doc = Document("long", text, {}, spans, rels)
    feats, stats = build_features([long_doc], tiny_tokenizer, tiny_model.config)
    assert len(feats) > 3 and all(len(f) <= tiny_model.config.max_length for f in feats)
    out = tiny_model(**collate(feats, tiny_tokenizer.pad_token_id))
    assert torch.isfinite(out.loss)
    pred = Extractor(tiny_model, tiny_tokenizer).predict_documents([long_doc])[0]
    assert all(0 <= s.start < s.end <= len(text) for s in pred.spans)
    assert all(a.end <= b.start for a, b in zip(pred.spans, pred.spans[1:]))


def test_default_encoder_can_start_from_fasttext_vectors_of_its_corpus(tmp_path, tiny_docs):
    pytest.importorskip("gensim")
    import numpy as np
    from transformers import AutoModel, AutoTokenizer

    from rasd.training.default_model import DefaultEncoderSpec, build_default_encoder

    spec = DefaultEncoderSpec(vocab_size=300, hidden_size=16, num_hidden_layers=0, num_attention_heads=2,
                              intermediate_size=32, max_position_embeddings=64, min_frequency=1, vector_epochs=3)
    out = build_default_encoder([d.text for d in tiny_docs] * 5, tmp_path / "enc", spec)
    model, tok = AutoModel.from_pretrained(out), AutoTokenizer.from_pretrained(out)
    table = model.embeddings.word_embeddings.weight.detach().numpy()
    words = [i for piece, i in tok.get_vocab().items() if piece not in tok.all_special_tokens]
    norms = np.linalg.norm(table[words], axis=1)
    assert np.allclose(norms, 0.02 * np.sqrt(16), rtol=1e-4)  # every piece has a vector, at BERT's scale
    assert np.allclose(table[tok.pad_token_id], 0) and not model.embeddings.position_embeddings.weight.any()
    # vectors, not noise: whole words that share a trigram point the same way more than words that share none
    whole = [(p, table[i] / np.linalg.norm(table[i])) for p, i in tok.get_vocab().items()
             if p not in tok.all_special_tokens and not p.startswith("##") and len(p) >= 4]
    grams = {p: {p[k:k + 3] for k in range(len(p) - 2)} for p, _ in whole}
    sharing, apart = [], []
    for (a, u), (b, v) in itertools.combinations(whole, 2):
        (sharing if grams[a] & grams[b] else apart).append(float(u @ v))
    assert len(sharing) > 20 and np.mean(sharing) > np.mean(apart) + 0.1
