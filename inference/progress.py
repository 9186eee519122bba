"""Progress output that library calls keep to themselves: loading a model prints no bar."""
from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator

__all__ = ["no_loading_bars"]


@contextmanager
def no_loading_bars() -> Iterator[None]:
    """Inside the block, transformers draws none of its own progress bars (the "Loading weights"
    bar of every ``from_pretrained``); the hub's download bars stay, a download being a long step."""
    from transformers.utils import logging as hf_logging

    if hasattr(hf_logging, "set_tqdm_hook"):
        previous = hf_logging.set_tqdm_hook(lambda factory, args, kwargs: hf_logging.EmptyTqdm(*args, **kwargs))
        try:
            yield
        finally:
            hf_logging.set_tqdm_hook(previous)
        return
    # an older transformers: switch its bars off and back (this also pauses the hub's)
    if not hf_logging.is_progress_bar_enabled():
        yield
        return
    from huggingface_hub.utils import are_progress_bars_disabled, disable_progress_bars

    hub_was_off = are_progress_bars_disabled()
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        hf_logging.enable_progress_bar()
        if hub_was_off:
            disable_progress_bars()
