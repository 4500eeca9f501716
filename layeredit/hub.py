"""Talking to the Hugging Face hub: how users fetch weights, and loading without the libraries' chatter.

A missing model must end in one clear line, so the warnings that diffusers and transformers log
while they fail (deprecations, "Couldn't connect to the Hub", "Will try to load from local cache")
are held back during a load; the caller's error then says what happened.
"""

from __future__ import annotations

import logging
import os
import warnings
from collections.abc import Iterator
from contextlib import contextmanager

# The command huggingface_hub installs (`huggingface-cli` is gone from current releases).
DOWNLOAD_COMMAND = "hf download"

_CHATTY_LOGGERS = ("diffusers", "transformers", "huggingface_hub")


def download_command(*models: str) -> str:
    """The shell command that puts ``models`` (hub ids) into the local cache.

    One ``hf download`` per model: its further arguments are file names inside the first repo.
    """
    return " && ".join(f"{DOWNLOAD_COMMAND} {model}" for model in models)


@contextmanager
def quiet_loading() -> Iterator[None]:
    """Silence library warnings while weights load (unless LAYEREDIT_DEBUG is set); errors propagate."""
    if os.environ.get("LAYEREDIT_DEBUG"):
        yield
        return
    levels = {logging.getLogger(name): logging.getLogger(name).level for name in _CHATTY_LOGGERS}
    for logger in levels:
        logger.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)
            warnings.simplefilter("ignore", DeprecationWarning)
            yield
    finally:
        for logger, level in levels.items():
            logger.setLevel(level)


def cached_on_this_machine(model: str) -> bool:
    """True when a hub model's files are in the local Hugging Face cache."""
    from huggingface_hub import try_to_load_from_cache

    return isinstance(try_to_load_from_cache(model, "config.json"), str)
