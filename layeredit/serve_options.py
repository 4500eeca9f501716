"""The ``layeredit serve`` flags for access, storage and limits, gathered into one settings object."""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

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
    token: str | None
    allow_hosts: tuple[str, ...]
    cors: tuple[str, ...]
    data_dir: Path
    retention_hours: float
    max_queue: int
    max_pixels: int
    max_sessions: int
    session_retention_hours: float
    max_work_megapixels: float
    max_job_seconds: float

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

    def warn_if_exposed(self, host: str) -> None:
        from layeredit.server.access import is_loopback

        if not is_loopback(host) and not self.token:
            click.echo(
                f"warning: listening on {host} without a token: anyone who can reach this machine can "
                f"use the server; set --token or ${TOKEN_SETTING}", err=True,
            )  # fmt: skip
        if not is_loopback(host) and not self.allow_hosts:
            click.echo(
                "warning: only requests for localhost are answered; add the name clients use with "
                "--allow-host NAME", err=True,
            )  # fmt: skip


def serve_access_options(command: Callable) -> Callable:
    """The flags; the command receives them together as ``serving``, a :class:`ServeSettings`."""
    names = ("token", "allow_hosts", "cors", "data_dir", "retention_hours", "max_queue", "max_pixels",
             "max_sessions", "session_retention_hours", "max_work_megapixels", "max_job_seconds")  # fmt: skip

    @functools.wraps(command)
    def with_settings(**options: Any) -> Any:
        return command(serving=ServeSettings(**{name: options.pop(name) for name in names}), **options)

    for option in (
        click.option("--max-job-seconds", type=click.FloatRange(0, min_open=True), default=120.0,
                     show_default=True, help="A decompose or compose running longer is stopped (HTTP 413)."),
        click.option("--max-work-megapixels", type=click.FloatRange(0, min_open=True), default=32.0,
                     show_default=True, help="Work one decompose or compose may do, pixels x passes "
                     "(a soft-edged object is 8 passes); more gets HTTP 413."),
        click.option("--session-retention-hours", type=click.FloatRange(0, min_open=True), default=168.0,
                     show_default=True, help="A chat session unused this long is deleted with its pictures."),
        click.option("--max-sessions", type=click.IntRange(1), default=100, show_default=True,
                     help="Chat sessions kept at once; one more gets HTTP 429 with Retry-After."),
        click.option("--max-pixels", type=click.IntRange(1), default=4096 * 4096, show_default=True,
                     help="Largest image a job may carry, in pixels."),
        click.option("--max-queue", type=click.IntRange(1), default=64, show_default=True,
                     help="Edits waiting or running at once; more get HTTP 429 with Retry-After."),
        click.option("--retention-hours", type=click.FloatRange(0, min_open=True), default=24.0,
                     show_default=True, help="How long finished results stay downloadable."),
        click.option("--data-dir", type=click.Path(path_type=Path, file_okay=False),
                     default=default_data_dir, show_default="~/.cache/layeredit/server",
                     help="Folder for the job database and results; queued jobs survive a restart."),
        click.option("--cors", multiple=True, metavar="ORIGIN",
                     help="Let web pages from ORIGIN (https://app.example) call the API. Repeatable."),
        click.option("--allow-host", "allow_hosts", multiple=True, metavar="NAME",
                     help="Also answer requests for this host name (default: localhost names only)."),
        click.option("--token", envvar=TOKEN_SETTING, show_envvar=True,
                     help="Require 'Authorization: Bearer TOKEN' on every endpoint but /healthz."),
    ):  # fmt: skip
        with_settings = option(with_settings)
    return with_settings
