"""Parameter dataclasses built from the options someone gave, the rest keeping their defaults."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any, TypeVar

Params = TypeVar("Params")


def build_params(cls: type[Params], options: Mapping[str, Any]) -> Params:
    """An instance of ``cls`` from the options that were given (None: not given; others keep their
    defaults). Names that are not fields of ``cls`` are left for another class."""
    names = {field.name for field in dataclasses.fields(cls)}
    return cls(**{name: value for name, value in options.items() if name in names and value is not None})


def field_names(*classes: type) -> list[str]:
    """The field names of the dataclasses, in order."""
    return [field.name for cls in classes for field in dataclasses.fields(cls)]
