"""Pretraining text as a stream: corpora read lazily through ``datasets``, cut into the package's
words, tokenized and packed into sequences at word boundaries, then padded into batches."""
from __future__ import annotations

from functools import lru_cache, partial
from typing import Callable

import torch

from rasd.inference.text import NormalizationOptions, normalize_word, split_words

PACK_DOCS = 64  # documents tokenized and packed together; each pack ends in at most one short sequence


def stream_texts(paths: list[str], text_field: str):
    """An IterableDataset with one ``text`` column over .txt / .jsonl / .jsonl.gz files, read lazily."""
    from datasets import concatenate_datasets, load_dataset

    by_kind: dict[str, list[str]] = {}
    for path in paths:
        name = path.removesuffix(".gz").removesuffix(".bz2").removesuffix(".xz")
        if name.endswith((".jsonl", ".json")):
            by_kind.setdefault("json", []).append(path)
        elif name.endswith(".txt"):
            by_kind.setdefault("text", []).append(path)
        else:
            raise ValueError(f"{path}: a corpus is .txt (a document per line), .jsonl or .jsonl.gz")
    parts = []
    for kind, files in by_kind.items():
        ds = load_dataset(kind, data_files=files, split="train", streaming=True)
        if kind == "json":
            ds = ds.select_columns([text_field])
            if text_field != "text":
                ds = ds.rename_column(text_field, "text")
        parts.append(ds)
    return parts[0] if len(parts) == 1 else concatenate_datasets(parts)


class SequencePacker:
    """Fills sequences ``[CLS] words [SEP] words ... [SEP]`` up to ``seq_length``, never cutting a word.

    Documents follow one another inside a sequence, each closed by [SEP]. ``word_ids`` numbers the
    words of each sequence from 0 (-1 on [CLS]/[SEP]), which is what whole-word masking needs.
    """

    def __init__(self, seq_length: int, cls_id: int, sep_id: int) -> None:
        self.seq_length, self.cls_id, self.sep_id = seq_length, cls_id, sep_id
        self.input_ids: list[list[int]] = []
        self.word_ids: list[list[int]] = []
        self._start()

    def _start(self) -> None:
        self.ids, self.words, self.next_word = [self.cls_id], [-1], 0

    def add_word(self, pieces: list[int]) -> None:
        pieces = pieces[:self.seq_length - 2]  # a word longer than a whole sequence keeps its head
        if len(self.ids) + len(pieces) > self.seq_length - 1:  # leave room for the closing [SEP]
            self.flush()
        self.ids += pieces
        self.words += [self.next_word] * len(pieces)
        self.next_word += 1

    def end_document(self) -> None:
        if self.next_word and self.ids[-1] != self.sep_id:
            self.ids.append(self.sep_id)
            self.words.append(-1)
        if len(self.ids) >= self.seq_length - 1:
            self.flush()

    def flush(self) -> None:
        if self.next_word:
            if self.ids[-1] != self.sep_id:
                self.ids.append(self.sep_id)
                self.words.append(-1)
            self.input_ids.append(self.ids)
            self.word_ids.append(self.words)
        self._start()


def pack_documents(batch: dict[str, list], tokenizer, seq_length: int,
                   normal_form: Callable[[str], str]) -> dict[str, list[list[int]]]:
    """``datasets.map`` function (batched): documents -> packed sequences of whole words."""
    docs = [[normal_form(text[s:e]) for s, e in split_words(text)] for text in batch["text"] if text]
    docs = [words for words in docs if words]
    packer = SequencePacker(seq_length, tokenizer.cls_token_id, tokenizer.sep_token_id)
    if docs:
        encoded = tokenizer(docs, is_split_into_words=True, add_special_tokens=False, verbose=False)
        for i in range(len(docs)):
            ids, words = encoded["input_ids"][i], encoded.word_ids(i)
            start = 0
            for end in range(1, len(ids) + 1):
                if end == len(ids) or words[end] != words[start]:
                    packer.add_word(ids[start:end])
                    start = end
            packer.end_document()
    packer.flush()
    return {"input_ids": packer.input_ids, "word_ids": packer.word_ids}


def packed_sequences(texts, tokenizer, seq_length: int, options: NormalizationOptions):
    # Word frequencies are Zipfian: remembering the normal form of frequent words makes it nearly free.
    normal_form = lru_cache(maxsize=1 << 18)(partial(normalize_word, options=options))
    pack = partial(pack_documents, tokenizer=tokenizer, seq_length=seq_length, normal_form=normal_form)
    return texts.map(pack, batched=True, batch_size=PACK_DOCS, remove_columns=["text"])


def collate(sequences: list[dict], pad_id: int) -> dict[str, torch.Tensor]:
    """Right-pad packed sequences into tensors; padding has word id -1 so it is never masked."""
    lengths = torch.tensor([len(s["input_ids"]) for s in sequences])
    width = int(lengths.max())
    input_ids = torch.full((len(sequences), width), pad_id, dtype=torch.long)
    word_ids = torch.full((len(sequences), width), -1, dtype=torch.long)
    for row, s in enumerate(sequences):
        input_ids[row, :len(s["input_ids"])] = torch.tensor(s["input_ids"])
        word_ids[row, :len(s["word_ids"])] = torch.tensor(s["word_ids"])
    attention_mask = (torch.arange(width) < lengths[:, None]).long()
    return {"input_ids": input_ids, "word_ids": word_ids, "attention_mask": attention_mask}
