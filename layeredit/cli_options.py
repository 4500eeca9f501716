"""Command-line flags generated from parameter dataclasses, so every tunable is reachable."""

from __future__ import annotations

import dataclasses
import functools
import types
import typing
from collections.abc import Callable
from typing import Any, TypeVar

import click

Params = TypeVar("Params")


def _option_type(annotation: Any) -> Any:
    """The plain type behind ``int``, ``float | None`` and friends."""
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        (inner,) = [arg for arg in typing.get_args(annotation) if arg is not type(None)]
        return inner
    return annotation


def dataclass_options(cls: type, skip: tuple[str, ...] = ()) -> Callable[[Callable], Callable]:
    """Add ``--field-name`` for each field of ``cls`` (bools as ``--name/--no-name``).

    A field's ``metadata["flag"]`` overrides the flag name, its ``metadata["help"]`` is the help.

    Unset flags arrive as None so the dataclass default stays the single source of truth.
    """
    hints = typing.get_type_hints(cls)

    def decorate(command: Callable) -> Callable:
        for field in reversed(dataclasses.fields(cls)):
            if field.name in skip:
                continue
            flag = field.metadata.get("flag", field.name.replace("_", "-"))
            kind = _option_type(hints[field.name])
            help_text = field.metadata.get("help", "")
            if field.default is not None:
                help_text += f" [default: {field.default}]"
            if kind is bool:
                option = click.option(f"--{flag}/--no-{flag}", field.name, default=None, help=help_text)
            elif typing.get_origin(kind) is typing.Literal:
                choice = click.Choice(typing.get_args(kind))
                option = click.option(f"--{flag}", field.name, type=choice, default=None, help=help_text)
            else:
                option = click.option(f"--{flag}", field.name, type=kind, default=None, help=help_text)
            command = option(command)
        return command

    return decorate


def build_params(cls: type[Params], options: dict[str, Any]) -> Params:
    """An instance of ``cls`` from the options that were given (others keep their defaults)."""
    names = {field.name for field in dataclasses.fields(cls)}
    return cls(**{name: value for name, value in options.items() if name in names and value is not None})


def grouped_options(cls: type[Params], name: str) -> Callable[[Callable], Callable]:
    """The flags of ``cls`` (as :func:`dataclass_options`); the command receives one instance as ``name``."""
    fields = [field.name for field in dataclasses.fields(cls)]

    def decorate(command: Callable) -> Callable:
        @functools.wraps(command)
        def with_group(*args: Any, **options: Any) -> Any:
            given = {field: options.pop(field) for field in fields}
            return command(*args, **{name: build_params(cls, given)}, **options)

        return dataclass_options(cls)(with_group)

    return decorate
