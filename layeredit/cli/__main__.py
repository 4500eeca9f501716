"""``python -m layeredit.cli``: the same as the ``layeredit`` command."""

from layeredit.cli import main

main()
