"""The ``layeredit serve`` settings (address, access, storage, limits), declared once as a dataclass
from which the command's flags are made."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:  # the server extra is imported only when the server starts
    from layeredit.server.access import AccessPolicy
    from layeredit.server.budget import WorkBudget
    from layeredit.server.service import ServerStorage
    from layeredit.server.uploads import Limits

TOKEN_SETTING = "LAYEREDIT_TOKEN"


def default_data_dir() -> Path:
    cache = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(cache) / "layeredit" / "server"


@dataclass(frozen=True)
class ServeSettings:
    host: str = field(default="127.0.0.1", metadata={"help": "Address to listen on."})
    port: int = field(default=7860, metadata={"help": "Port.", "click": {"type": click.IntRange(1, 65535)}})
    token: str | None = field(
        default=None,
        metadata={
            "help": "Require 'Authorization: Bearer TOKEN' on every endpoint but /healthz.",
            "click": {"envvar": TOKEN_SETTING, "show_envvar": True},
        },
    )
    allow_hosts: tuple[str, ...] = field(
        default=(),
        metadata={
            "flag": "allow-host",
            "metavar": "NAME",
            "help": "Also answer requests for this host name (default: localhost names only).",
        },
    )
    cors: tuple[str, ...] = field(
        default=(),
        metadata={
            "metavar": "ORIGIN",
            "help": "Let web pages from ORIGIN (https://app.example) call the API. Repeatable.",
        },
    )
    data_dir: Path = field(
        default_factory=default_data_dir,
        metadata={
            "help": "Folder for the job database and results; queued jobs survive a restart.",
            "shown_default": "~/.cache/layeredit/server",
            "click": {"type": click.Path(path_type=Path, file_okay=False)},
        },
    )
    retention_hours: float = field(
        default=24.0,
        metadata={
            "help": "How long finished results stay downloadable.",
            "click": {"type": click.FloatRange(0, min_open=True)},
        },
    )
    max_queue: int = field(
        default=64,
        metadata={
            "help": "Edits waiting or running at once; more get HTTP 429 with Retry-After.",
            "click": {"type": click.IntRange(1)},
        },
    )
    max_pixels: int = field(
        default=4096 * 4096,
        metadata={"help": "Largest image a job may carry, in pixels.", "click": {"type": click.IntRange(1)}},
    )
    max_sessions: int = field(
        default=100,
        metadata={
            "help": "Chat sessions kept at once; one more gets HTTP 429 with Retry-After.",
            "click": {"type": click.IntRange(1)},
        },
    )
    session_retention_hours: float = field(
        default=168.0,
        metadata={
            "help": "A chat session unused this long is deleted with its pictures.",
            "click": {"type": click.FloatRange(0, min_open=True)},
        },
    )
    max_work_megapixels: float = field(
        default=32.0,
        metadata={
            "help": "Work one decompose or compose may do, pixels x passes (a soft-edged object is 8 "
            "passes); more gets HTTP 413.",
            "click": {"type": click.FloatRange(0, min_open=True)},
        },
    )
    max_job_seconds: float = field(
        default=120.0,
        metadata={
            "help": "A decompose or compose running longer is stopped (HTTP 413).",
            "click": {"type": click.FloatRange(0, min_open=True)},
        },
    )

    def access(self) -> AccessPolicy:
        from layeredit.server.access import AccessPolicy

        return AccessPolicy.build(self.token, self.allow_hosts, self.cors)

    def storage(self) -> ServerStorage:
        from layeredit.server.service import ServerStorage

        return ServerStorage(
            self.data_dir, self.retention_hours * 3600, self.max_queue,
            self.max_sessions, self.session_retention_hours * 3600,
        )  # fmt: skip

    def budget(self) -> WorkBudget:
        from layeredit.server.budget import WorkBudget

        return WorkBudget(self.max_work_megapixels, self.max_job_seconds)

    def limits(self) -> Limits:
        from layeredit.server.uploads import Limits

        return Limits(max_image_pixels=self.max_pixels)

    def warn_if_exposed(self) -> None:
        from layeredit.server.access import is_loopback

        if not is_loopback(self.host) and not self.token:
            click.echo(
                f"warning: listening on {self.host} without a token: anyone who can reach this machine "
                f"can use the server; set --token or ${TOKEN_SETTING}", err=True,
            )  # fmt: skip
        if not is_loopback(self.host) and not self.allow_hosts:
            click.echo(
                "warning: only requests for localhost are answered; add the name clients use with "
                "--allow-host NAME", err=True,
            )  # fmt: skip
