"""The ``layeredit`` command: one module per command group, gathered into one click group here.

``main`` is the entry point; ``cli`` is the click group (for tests and embedding).
"""

from __future__ import annotations

import sys
import traceback

import click

from layeredit.cli.batch import batch_command
from layeredit.cli.chat import chat_command
from layeredit.cli.edit import edit_command, plan_command
from layeredit.cli.layers import compose_command, decompose_command, segment_command
from layeredit.cli.serve import mcp_command, serve_command
from layeredit.errors import LayereditError, debugging, user_message
from layeredit.hints import COMMAND_LINE, speaking


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="layeredit")
def cli() -> None:
    """Edit photos from plain-language instructions."""


for command in (
    edit_command, batch_command, plan_command, chat_command, mcp_command, segment_command, serve_command,
    decompose_command, compose_command,
):  # fmt: skip
    cli.add_command(command)


def main() -> None:
    """Entry point: user mistakes end in one clear line and exit code 2, never a traceback."""
    try:
        with speaking(COMMAND_LINE):
            cli.main(standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        click.echo("interrupted", err=True)
        sys.exit(130)
    except (LayereditError, OSError) as exc:
        if debugging():
            traceback.print_exc()
        click.echo(user_message(exc), err=True)
        sys.exit(2)
    except Exception as exc:  # noqa: BLE001 - the last line of defence for the user's terminal
        if debugging():
            traceback.print_exc()
        click.echo(user_message(exc), err=True)
        sys.exit(1)
