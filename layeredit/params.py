"""Parameter dataclasses built from the options someone gave, the rest keeping their defaults."""

from __future__ import annotations

import dataclasses
import typing
from collections.abc import Mapping
from typing import Any, TypeVar

from pydantic import Field
from pydantic.fields import FieldInfo

Params = TypeVar("Params")


def build_params(cls: type[Params], options: Mapping[str, Any]) -> Params:
    """An instance of ``cls`` from the options that were given (None: not given; others keep their
    defaults). Names that are not fields of ``cls`` are left for another class."""
    names = {field.name for field in dataclasses.fields(cls)}
    return cls(**{name: value for name, value in options.items() if name in names and value is not None})


def field_names(*classes: type) -> list[str]:
    """The field names of the dataclasses, in order."""
    return [field.name for cls in classes for field in dataclasses.fields(cls)]


def optional_fields(cls: type) -> dict[str, tuple[Any, FieldInfo]]:
    """The dataclass's fields as optional pydantic fields, for request and tool schemas generated
    from an options class: each keeps its type and help text, and defaults to None (not given: the
    setting of whoever runs the edit stays)."""
    hints = typing.get_type_hints(cls)
    return {
        field.name: (
            hints[field.name] | None,
            Field(default=None, description=f"{field.metadata['help']} Not given: the engine's own setting."),
        )
        for field in dataclasses.fields(cls)
    }
