"""Errors shared across layeredit's packages."""

from __future__ import annotations


class ModelLoadError(ValueError):
    """Model weights that cannot be loaded; the message names the model and how to provide it."""


class PlacementError(ValueError):
    """A placement relative to another object that cannot be carried out (no room, anchor gone)."""
