"""The tokenizer of a pretraining run: a WordPiece trained on the corpus, or a checkpoint's plus
frequent domain words."""
from __future__ import annotations

from collections import Counter
from typing import Iterable, Iterator

from rasd.inference.text import NormalizationOptions, normalize_word, split_words

from .pretrain_config import PretrainModelSection


def corpus_words(texts: Iterable[str], options: NormalizationOptions) -> Iterator[str]:
    """The package's words of ``texts``, normalised as the tokenizer sees them."""
    for text in texts:
        for start, end in split_words(text):
            yield normalize_word(text[start:end], options)


def frequent_new_words(texts: Iterable[str], tokenizer, count: int, options: NormalizationOptions) -> list[str]:
    """The ``count`` most frequent alphabetic words that ``tokenizer`` cuts into pieces or does not know."""
    frequency = Counter(corpus_words(texts, options))
    found = []
    for word, _ in frequency.most_common():
        if len(found) == count:
            break
        if not word.isalpha():
            continue  # numbers and punctuation gain nothing from a token of their own
        pieces = tokenizer.tokenize(word)
        if len(pieces) > 1 or pieces == [tokenizer.unk_token]:
            found.append(word)
    return found


def build_tokenizer(section: PretrainModelSection, texts: Iterable[str]):
    """The run's tokenizer: a WordPiece trained on ``texts`` (scratch), or the checkpoint's plus domain words."""
    from tokenizers import AddedToken
    from transformers import AutoTokenizer

    from .default_model import train_wordpiece

    options = NormalizationOptions.from_dict(section.normalization)
    if not section.init_from:
        tokenizer = train_wordpiece(texts, section.vocab_size, options, min_frequency=section.min_frequency)
        tokenizer.model_max_length = section.max_position_embeddings
        return tokenizer
    tokenizer = AutoTokenizer.from_pretrained(section.init_from)
    if section.add_domain_tokens:
        words = frequent_new_words(texts, tokenizer, section.add_domain_tokens, options)
        # single_word: the new token matches a whole word only, never the inside of a longer one
        tokenizer.add_tokens([AddedToken(w, single_word=True) for w in words])
    return tokenizer
