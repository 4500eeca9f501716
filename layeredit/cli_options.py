"""Command-line flags generated from parameter dataclasses, so every tunable is reachable."""

from __future__ import annotations

import dataclasses
import functools
import types
import typing
from collections.abc import Callable
from typing import Any

import click

from layeredit.params import build_params


def _option_type(annotation: Any) -> Any:
    """The plain type behind ``int``, ``float | None`` and friends."""
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        (inner,) = [arg for arg in typing.get_args(annotation) if arg is not type(None)]
        return inner
    return annotation


def _shown_default(field: dataclasses.Field) -> str:
    if "shown_default" in field.metadata:
        return f" [default: {field.metadata['shown_default']}]"
    if field.default is None or field.default is dataclasses.MISSING:
        return ""
    value = ", ".join(field.default) if isinstance(field.default, tuple) else field.default
    return f" [default: {value}]" if value != "" else ""


def flag_name(field: dataclasses.Field) -> str:
    """The flag of a field, without its dashes: the field's name, or its ``metadata["flag"]``."""
    return field.metadata.get("flag", field.name.replace("_", "-"))


def _option(field: dataclasses.Field, kind: Any) -> Callable[[Callable], Callable]:
    flag = flag_name(field)
    settings: dict[str, Any] = {
        "help": field.metadata.get("help", "") + _shown_default(field),
        "metavar": field.metadata.get("metavar"),
        "default": None,
    }
    if kind is bool:
        names = [f"--{flag}/--no-{flag}", field.name]
    else:
        names = [f"--{flag}", field.name]
        if typing.get_origin(kind) is tuple:  # a repeatable flag
            settings.update(type=typing.get_args(kind)[0], multiple=True, default=())
        elif typing.get_origin(kind) is typing.Literal:
            settings["type"] = click.Choice(typing.get_args(kind))
        else:
            settings["type"] = kind
    settings.update(field.metadata.get("click", {}))
    return click.option(*names, **settings)


def dataclass_options(cls: type, skip: tuple[str, ...] = ()) -> Callable[[Callable], Callable]:
    """Add ``--field-name`` for each field of ``cls`` (bools as ``--name/--no-name``, tuples repeatable).

    A field's metadata may give ``flag`` (the flag name), ``help``, ``metavar``, ``shown_default``
    (the default as the help shows it) and ``click`` (more keyword arguments of ``click.option``).
    Unset flags arrive as None so the dataclass default stays the single source of truth.
    """
    hints = typing.get_type_hints(cls)

    def decorate(command: Callable) -> Callable:
        for field in reversed(dataclasses.fields(cls)):
            if field.name not in skip:
                command = _option(field, _option_type(hints[field.name]))(command)
        return command

    return decorate


def options_object(
    name: str,
    classes: type | tuple[type, ...],
    build: Callable[[dict[str, Any]], Any] | None = None,
    skip: tuple[str, ...] = (),
) -> Callable[[Callable], Callable]:
    """The flags of each class in ``classes`` (see :func:`dataclass_options`), handed to the command
    together as one object in the keyword argument ``name``: ``build(flags)``, by default the one
    class built from the flags given."""
    classes = classes if isinstance(classes, tuple) else (classes,)
    names = [field.name for cls in classes for field in dataclasses.fields(cls) if field.name not in skip]
    make = build or functools.partial(build_params, classes[0])

    def decorate(command: Callable) -> Callable:
        @functools.wraps(command)
        def with_object(**flags: Any) -> Any:
            return command(**{name: make({flag: flags.pop(flag) for flag in names})}, **flags)

        for cls in reversed(classes):
            with_object = dataclass_options(cls, skip)(with_object)
        return with_object

    return decorate
