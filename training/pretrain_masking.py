"""BERT's input corruption for masked-LM pretraining, by whole words: which pieces to hide and how."""
from __future__ import annotations

import torch

IGNORE = -100  # label of unscored positions, as in every HF loss


def whole_word_mask(word_ids: torch.Tensor, probability: float,
                    generator: torch.Generator | None = None) -> torch.Tensor:
    """Choose ``round(probability * words)`` words of each row (at least one) and mark all their pieces.

    ``word_ids`` [batch, tokens] numbers the words of each row 0, 1, ... with -1 for [CLS], [SEP] and
    padding. Returns a bool tensor of the same shape, true on every piece of a chosen word and nowhere else.
    """
    chosen = _choose_words(word_ids, probability, generator)
    return chosen.gather(1, word_ids.clamp(min=0)) & (word_ids >= 0)


def _choose_words(word_ids: torch.Tensor, probability: float, generator: torch.Generator | None) -> torch.Tensor:
    """[batch, words] bool: an exact share of each row's words, picked uniformly."""
    n_words = word_ids.max(dim=1).values + 1  # rows without words give 0
    width = max(int(n_words.max()), 1)
    exists = torch.arange(width) < n_words[:, None]
    # Random ranks among a row's real words; absent words sort last and are never chosen.
    scores = torch.rand(word_ids.size(0), width, generator=generator).masked_fill(~exists, 2.0)
    rank = scores.argsort(dim=1).argsort(dim=1)
    k = (n_words * probability).round().clamp(min=1)
    return (rank < k[:, None]) & exists


def mask_tokens(input_ids: torch.Tensor, word_ids: torch.Tensor, mask_token_id: int, vocab_size: int,
                probability: float = 0.15, generator: torch.Generator | None = None,
                whole_word: bool = True) -> tuple[torch.Tensor, torch.Tensor]:
    """BERT's corruption: of the chosen words, 80% become [MASK], 10% random tokens, 10% stay.

    The 80/10/10 draw is made once per word and applied to all its pieces, so a word is never half
    hidden. With ``whole_word=False`` every subtoken is its own word. Returns (inputs, labels), the
    labels holding the original ids at chosen positions and -100 elsewhere.
    """
    if not whole_word:
        # number the real tokens 0, 1, ... as words of one piece; -1 (special or padding) stays -1
        real = word_ids >= 0
        word_ids = torch.where(real, real.cumsum(dim=1) - 1, word_ids)
    selected = whole_word_mask(word_ids, probability, generator)
    action = torch.rand(word_ids.size(0), max(int(word_ids.max()) + 1, 1), generator=generator)
    action = action.gather(1, word_ids.clamp(min=0))  # the word's draw on each of its pieces
    to_mask = selected & (action < 0.8)
    to_random = selected & (action >= 0.8) & (action < 0.9)
    inputs = input_ids.masked_fill(to_mask, mask_token_id)
    random_ids = torch.randint(vocab_size, input_ids.shape, generator=generator)
    inputs = torch.where(to_random, random_ids, inputs)
    labels = input_ids.masked_fill(~selected, IGNORE)
    return inputs, labels
