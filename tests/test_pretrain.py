"""Masked-LM pretraining on a tiny generated Arabic corpus: masking, the masked-only loss, the run
itself (loss, resume, added vocabulary) and loading the result as a ``rasd train`` encoder."""
import gzip
import json
import random
from pathlib import Path

import pytest
import torch

from rasd.training.configuration import load_config
from rasd.training.pretrain import (MaskedLM, PretrainConfig, Pretrainer, mask_tokens, pretrain,
                                    whole_word_mask)

torch.set_num_threads(2)

SUBJECTS = ["القوات", "الحكومة", "المتظاهرون", "الجيش", "الشرطة", "المسلحون"]
VERBS = ["هاجمت", "قصفت", "اعتقلت", "حاصرت", "استهدفت"]
PLACES = ["المدينة", "القرية", "العاصمة", "الحدود", "المطار"]


def generated_doc(rng: random.Random) -> str:
    return " ".join(f"{rng.choice(SUBJECTS)} {rng.choice(VERBS)} {rng.choice(PLACES)} يوم {rng.randint(1, 28)}."
                    for _ in range(rng.randint(3, 10)))


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    """A .jsonl.gz training corpus and a .txt validation corpus (a document per line)."""
    rng = random.Random(0)
    root = tmp_path_factory.mktemp("corpus")
    train, valid = root / "train.jsonl.gz", root / "valid.txt"
    with gzip.open(train, "wt", encoding="utf-8") as f:
        for i in range(300):
            f.write(json.dumps({"id": i, "body": generated_doc(rng)}, ensure_ascii=False) + "\n")
    valid.write_text("\n".join(generated_doc(rng) for _ in range(20)) + "\n", encoding="utf-8")
    return {"train": str(train), "valid": str(valid)}


@pytest.fixture(scope="module")
def base_checkpoint(tmp_path_factory):
    """A "general-domain" masked LM whose small vocabulary cuts the corpus words into pieces."""
    from transformers import BertConfig, BertForMaskedLM

    from rasd.training.default_model import train_wordpiece

    base = tmp_path_factory.mktemp("base")
    letters = " ".join(2 * chr(c) for c in range(0x0621, 0x064B))  # every letter, as a first piece and a ##piece
    tokenizer = train_wordpiece(["قال مسؤول إن الوزير زار البلاد اليوم وتحدث عن الاقتصاد والتعليم " + letters] * 3,
                                100, min_frequency=1)
    torch.manual_seed(0)
    BertForMaskedLM(BertConfig(vocab_size=len(tokenizer), hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                               intermediate_size=37, max_position_embeddings=64)).save_pretrained(base)
    tokenizer.save_pretrained(base)
    return str(base)


def tiny_config(corpus, out, *overrides: str) -> PretrainConfig:
    return load_config(PretrainConfig, None, [
        f"data.train=[{corpus['train']}]", f"data.validation=[{corpus['valid']}]", "data.text_field=body",
        "data.validation_docs=10", "data.seq_length=32", "data.shuffle_buffer=50",
        "model.vocab_size=200", "model.min_frequency=1", "model.hidden_size=32", "model.num_hidden_layers=2",
        "model.num_attention_heads=4", "model.intermediate_size=37", "model.max_position_embeddings=64",
        f"train.output_dir={out}", "train.max_steps=30", "train.batch_size=8", "train.lr=3e-3",
        "train.eval_every=0", "train.checkpoint_every=0", "train.log_every=5", "train.progress_bar=false",
        *overrides])


def read_metrics(out) -> list[dict]:
    return [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]


# ---------------------------------------------------------------------------------------- masking
def test_whole_word_mask_marks_every_piece_of_chosen_words_and_nothing_else():
    # -1: [CLS], [SEP] and padding; words of 1 to 4 pieces
    pieces = [1, 3, 2, 4, 1, 1, 2, 3, 1, 2, 2, 1, 3, 1, 1, 2, 4, 1, 2, 1]
    row = [-1] + [w for w, n in enumerate(pieces) for _ in range(n)] + [-1, -1, -1]
    word_ids = torch.tensor([row, [-1, 0, 0, 1, -1] + [-1] * (len(row) - 5)])
    for seed in range(20):
        mask = whole_word_mask(word_ids, 0.15, torch.Generator().manual_seed(seed))
        assert not mask[word_ids < 0].any()
        for r in range(2):
            n_words = int(word_ids[r].max()) + 1
            chosen = {int(w) for w in word_ids[r][mask[r]]}
            assert len(chosen) == max(1, round(0.15 * n_words))
            for w in range(n_words):
                assert mask[r][word_ids[r] == w].all() == (w in chosen) == mask[r][word_ids[r] == w].any()


def test_mask_tokens_corrupts_whole_words_and_labels_only_them():
    word_ids = torch.arange(200).repeat_interleave(2)[None]  # 200 words of two pieces
    input_ids = torch.randint(10, 1000, word_ids.shape, generator=torch.Generator().manual_seed(0))
    inputs, labels = mask_tokens(input_ids, word_ids, mask_token_id=4, vocab_size=1000, probability=0.5,
                                 generator=torch.Generator().manual_seed(1))
    chosen = labels != -100
    assert torch.equal(labels[chosen], input_ids[chosen]) and torch.equal(inputs[~chosen], input_ids[~chosen])
    masked = (inputs == 4).view(-1, 2)
    assert (masked[:, 0] == masked[:, 1]).all()  # [MASK] goes on both pieces of a word or on neither
    share = masked[:, 0].sum() / chosen.view(-1, 2)[:, 0].sum()
    assert 0.65 < share < 0.95  # about 80% of the chosen words


def test_token_masking_chooses_an_exact_share_of_real_tokens():
    word_ids = torch.tensor([[-1, 0, 0, 1, 1, 1, 2, -1, -1, -1]])
    for seed in range(10):
        _, labels = mask_tokens(torch.arange(10)[None], word_ids, 4, 99, probability=0.5,
                                generator=torch.Generator().manual_seed(seed), whole_word=False)
        chosen = labels != -100
        assert int(chosen.sum()) == 3 and not chosen[word_ids < 0].any()


def test_masked_only_loss_equals_the_stock_loss():
    from transformers import BertConfig, BertForMaskedLM

    torch.manual_seed(0)
    model = BertForMaskedLM(BertConfig(vocab_size=99, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                                       intermediate_size=37)).eval()
    input_ids = torch.randint(5, 99, (4, 24))
    attention_mask = torch.ones_like(input_ids)
    attention_mask[2, 15:] = 0
    inputs, labels = mask_tokens(input_ids, torch.arange(24).expand(4, 24).where(attention_mask.bool(), -1), 4, 99,
                                 generator=torch.Generator().manual_seed(0))
    losses, grads = [], []
    for masked_only in (False, True):
        model.zero_grad()
        loss = MaskedLM(model, masked_only)(inputs, attention_mask, labels)
        loss.backward()
        losses.append(loss.item())
        grads.append(model.bert.encoder.layer[0].attention.self.query.weight.grad.clone())
    assert losses[0] == pytest.approx(losses[1], abs=1e-5)
    assert torch.allclose(grads[0], grads[1], atol=1e-6)


def stock_and_masked_only(model, inputs, attention_mask, labels, seed=0):
    """(loss, {parameter: gradient}) of the stock model and of MaskedLM(masked_only), from the same RNG state."""
    results = []
    for masked_only in (False, True):
        model.zero_grad()
        torch.manual_seed(seed)  # the same dropout draws, where there is dropout
        loss = MaskedLM(model, masked_only)(inputs, attention_mask, labels)
        loss.backward()
        results.append((loss.item(), {name: p.grad.clone() for name, p in model.named_parameters()
                                      if p.grad is not None}))
    return results


def padded_batch(vocab_size, pad_id=0, seed=0):
    """Four masked rows of 24 tokens, two of them right-padded, the last one without labels."""
    generator = torch.Generator().manual_seed(seed)
    input_ids = torch.randint(5, vocab_size, (4, 24), generator=generator)
    attention_mask = torch.ones_like(input_ids)
    attention_mask[2, 15:] = 0
    attention_mask[0, 20:] = 0
    input_ids = input_ids.masked_fill(attention_mask == 0, pad_id)
    word_ids = torch.arange(24).expand(4, 24).where(attention_mask.bool(), -1)
    inputs, labels = mask_tokens(input_ids, word_ids, 4, vocab_size, probability=0.3, generator=generator)
    labels[3] = -100  # a row that scores nothing
    return inputs, attention_mask, labels


def assert_same_loss_and_gradients(stock, masked_only):
    (stock_loss, stock_grads), (loss, grads) = stock, masked_only
    assert loss == pytest.approx(stock_loss, abs=1e-5)
    assert stock_grads.keys() == grads.keys()
    for name, grad in stock_grads.items():
        assert torch.allclose(grads[name], grad, atol=1e-6, rtol=1e-4), name


@pytest.mark.parametrize("attn_implementation", ["sdpa", "eager"])
def test_masked_only_gradients_equal_the_stock_gradients(attn_implementation):
    # train mode without dropout: the masked-only last layer must give every parameter the stock gradient
    from transformers import BertConfig, BertForMaskedLM

    torch.manual_seed(0)
    model = BertForMaskedLM(BertConfig(vocab_size=99, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                                       intermediate_size=37, hidden_dropout_prob=0.0,
                                       attention_probs_dropout_prob=0.0,
                                       attn_implementation=attn_implementation)).train()
    assert MaskedLM(model).last_layer_fallback is None  # the last layer runs on the masked positions alone
    inputs, attention_mask, labels = padded_batch(99)
    stock, masked_only = stock_and_masked_only(model, inputs, attention_mask, labels)
    assert stock[1].keys() == {name for name, _ in model.named_parameters()}  # every parameter is compared
    assert_same_loss_and_gradients(stock, masked_only)


def test_masked_only_draws_the_stock_dropout_masks():
    # train mode with dropout: the last layer's masks are cut from draws as large as the stock layer's, so
    # from one seed both paths drop the same units (on the CPU) and train alike, step for step
    from transformers import BertConfig, BertForMaskedLM

    torch.manual_seed(0)
    model = BertForMaskedLM(BertConfig(vocab_size=99, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                                       intermediate_size=37, hidden_dropout_prob=0.2,
                                       attention_probs_dropout_prob=0.2)).train()
    inputs, attention_mask, labels = padded_batch(99)
    stock, masked_only = stock_and_masked_only(model, inputs, attention_mask, labels)
    assert_same_loss_and_gradients(stock, masked_only)
    model.eval()
    with torch.no_grad():
        assert MaskedLM(model)(inputs, attention_mask, labels).item() != pytest.approx(stock[0], abs=1e-3)  # dropout on


@pytest.mark.parametrize("train", [False, True])
def test_masked_only_loss_equals_the_stock_loss_of_a_roberta(train):
    # RoBERTa's layers are BERT's; its embeddings number positions after the padding id
    from transformers import RobertaConfig, RobertaForMaskedLM

    torch.manual_seed(0)
    model = RobertaForMaskedLM(RobertaConfig(vocab_size=99, hidden_size=32, num_hidden_layers=2,
                                             num_attention_heads=4, intermediate_size=37,
                                             max_position_embeddings=40, pad_token_id=1)).train(train)
    assert MaskedLM(model).last_layer_fallback is None
    inputs, attention_mask, labels = padded_batch(99, pad_id=1)
    assert_same_loss_and_gradients(*stock_and_masked_only(model, inputs, attention_mask, labels))


def test_masked_only_falls_back_on_a_layer_that_is_not_bert_like():
    from transformers import BertConfig, BertForMaskedLM

    torch.manual_seed(0)
    model = BertForMaskedLM(BertConfig(vocab_size=99, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                                       intermediate_size=37)).eval()
    last = model.bert.encoder.layer[-1]
    last.output.dense = torch.nn.Sequential(last.output.dense, torch.nn.Tanh())  # not BertOutput's math any more
    assert "not laid out as a BertLayer" in MaskedLM(model).last_layer_fallback
    inputs, attention_mask, labels = padded_batch(99)
    assert_same_loss_and_gradients(*stock_and_masked_only(model, inputs, attention_mask, labels))


# ---------------------------------------------------------------------------------------- runs
def test_pretraining_lowers_the_loss_and_loads_as_a_rasd_encoder(corpus, tmp_path, schema):
    from transformers import AutoModelForMaskedLM, AutoTokenizer

    from rasd.inference.encoding import model_inputs
    from rasd.inference.modeling import RasdModel

    result = pretrain(tiny_config(corpus, tmp_path, "model.dropout=0.0"))
    evals = [r for r in read_metrics(tmp_path) if "val_loss" in r]
    assert [r["step"] for r in evals] == [0, 30]
    assert evals[-1]["val_loss"] < evals[0]["val_loss"] - 1.0
    assert result["steps"] == 30 and result["val_loss"] == evals[-1]["val_loss"] and result["tokens_seen"] > 0

    mlm = AutoModelForMaskedLM.from_pretrained(result["model_dir"])
    model = RasdModel.from_encoder(result["model_dir"], schema, max_length=32)
    assert torch.equal(model.encoder.embeddings.word_embeddings.weight, mlm.bert.embeddings.word_embeddings.weight)
    tokenizer = AutoTokenizer.from_pretrained(result["model_dir"])
    encoded = model.config.definition.document_encoder(tokenizer).encode("القوات قصفت المدينة")
    window = encoded.windows[0]
    batch = model_inputs([(window.input_ids, window.word_start, encoded.forms)], tokenizer.pad_token_id)
    out = model(**{k: torch.from_numpy(v) for k, v in batch.items()})
    assert out.tag_logits.shape[:2] == (1, 3)  # one score row per word
    # dropout was off for pretraining only: fine-tuning gets BERT's regulariser back
    assert mlm.config.hidden_dropout_prob == mlm.config.attention_probs_dropout_prob == 0.1


def test_random_like_keeps_the_tokenizer_and_size_but_not_the_weights(tiny_encoder_dir, tmp_path):
    from transformers import AutoModel, AutoTokenizer

    from rasd.training.default_model import build_random_like

    out = build_random_like(tiny_encoder_dir, tmp_path / "random", seed=3)
    source, copy = AutoModel.from_pretrained(tiny_encoder_dir), AutoModel.from_pretrained(out)
    assert AutoTokenizer.from_pretrained(out).get_vocab() == AutoTokenizer.from_pretrained(tiny_encoder_dir).get_vocab()
    assert copy.config.to_diff_dict() | {"architectures": None} == source.config.to_diff_dict() | {"architectures": None}
    weights = dict(copy.named_parameters())
    assert weights.keys() == dict(source.named_parameters()).keys()
    assert not torch.equal(weights["embeddings.word_embeddings.weight"], source.embeddings.word_embeddings.weight)
    again = AutoModel.from_pretrained(build_random_like(tiny_encoder_dir, tmp_path / "again", seed=3))
    assert torch.equal(again.embeddings.word_embeddings.weight, weights["embeddings.word_embeddings.weight"])


def test_resume_continues_at_the_checkpointed_step(corpus, base_checkpoint, tmp_path, monkeypatch):
    # From a fixed checkpoint (a WordPiece trained twice can differ: huggingface/tokenizers#1794) and in
    # file order (no shuffle buffer), the resumed run must retrace the uninterrupted one exactly.
    args = (f"model.init_from={base_checkpoint}", "data.shuffle_buffer=0", "train.max_steps=6",
            "train.checkpoint_every=2", "train.log_every=1")
    straight = pretrain(tiny_config(corpus, tmp_path / "straight", *args))

    class Killed(Exception):
        pass

    save = Pretrainer._save_checkpoint

    def save_then_die(self, state):
        save(self, state)
        if state.global_step == 4:
            raise Killed

    monkeypatch.setattr(Pretrainer, "_save_checkpoint", save_then_die)
    out = tmp_path / "interrupted"
    with pytest.raises(Killed):
        pretrain(tiny_config(corpus, out, *args))
    monkeypatch.undo()
    resumed = pretrain(tiny_config(corpus, out, *args), resume=True)

    steps = [r["step"] for r in read_metrics(out) if "loss" in r]
    assert steps == [1, 2, 3, 4, 5, 6]
    assert resumed["steps"] == 6 and resumed["tokens_seen"] == straight["tokens_seen"]
    assert resumed["train_loss"] == pytest.approx(straight["train_loss"], abs=1e-5)
    assert resumed["val_loss"] == pytest.approx(straight["val_loss"], abs=1e-5)


def test_continuing_a_checkpoint_adds_domain_words_and_keeps_old_embeddings(corpus, base_checkpoint, tmp_path):
    from transformers import AutoModelForMaskedLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(base_checkpoint)
    old = AutoModelForMaskedLM.from_pretrained(base_checkpoint).bert.embeddings.word_embeddings.weight.detach()

    # lr 0: whatever differs afterwards was changed by growing the vocabulary, not by training
    result = pretrain(tiny_config(corpus, tmp_path / "run", f"model.init_from={base_checkpoint}",
                                  "model.add_domain_tokens=5", "train.max_steps=2", "train.lr=0"))
    new_tokenizer = AutoTokenizer.from_pretrained(result["model_dir"])
    emb = AutoModelForMaskedLM.from_pretrained(result["model_dir"]).bert.embeddings.word_embeddings.weight.detach()
    assert len(new_tokenizer) == len(tokenizer) + 5 == emb.size(0)
    assert torch.equal(emb[:len(tokenizer)], old)
    for new_id in range(len(tokenizer), len(new_tokenizer)):
        word = new_tokenizer.convert_ids_to_tokens(new_id)
        assert new_tokenizer.tokenize(word) == [word] and new_tokenizer.tokenize("و" + word) != [word]
        pieces = tokenizer(word, add_special_tokens=False)["input_ids"]
        assert len(pieces) > 1
        assert torch.allclose(emb[new_id], old[pieces].mean(dim=0))
    added = new_tokenizer.convert_ids_to_tokens(range(len(tokenizer), len(new_tokenizer)))
    assert set(added) <= set(SUBJECTS + VERBS + PLACES + ["يوم"])  # the corpus's frequent words


@pytest.mark.parametrize("path", sorted((Path(__file__).resolve().parents[1] / "configs" / "pretrain").glob("*.yaml")),
                         ids=lambda p: p.name)
def test_pretrain_recipes_parse(path):
    config = load_config(PretrainConfig, path)
    assert config.data.train and config.train.output_dir.startswith("runs/")
