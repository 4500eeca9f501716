"""The web editor and REST API behind ``layeredit serve`` (needs the ``server`` extra)."""

from layeredit.server.app import create_app
from layeredit.server.uploads import Limits

__all__ = ["Limits", "create_app"]
