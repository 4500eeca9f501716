"""Errors shared across layeredit's packages."""

from __future__ import annotations


class ModelLoadError(ValueError):
    """Model weights that cannot be loaded; the message names the model and how to provide it."""


class ManifestError(ValueError):
    """A batch manifest that cannot be read; the message names the file, the line and what is wrong."""
