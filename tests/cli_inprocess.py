"""Running ``layeredit`` in this process: the same entry point as the command, without a start-up."""

from __future__ import annotations

import contextlib
import io
import sys
from pathlib import Path

from layeredit.cli import main


def run_cli(*args: str | Path, stdin: str = "") -> tuple[int, str, str]:
    """(exit code, stdout, stderr) of ``layeredit ARGS``."""
    out, err = io.StringIO(), io.StringIO()
    argv, sys.argv = sys.argv, ["layeredit", *map(str, args)]
    stdin_before, sys.stdin = sys.stdin, io.StringIO(stdin)
    code = 0
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                main()
            except SystemExit as exit_:
                code = exit_.code if isinstance(exit_.code, int) else (0 if exit_.code is None else 1)
    finally:
        sys.argv, sys.stdin = argv, stdin_before
    return code, out.getvalue(), err.getvalue()
