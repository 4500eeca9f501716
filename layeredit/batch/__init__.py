"""Many edits at once, from a manifest: resumable, in worker processes or on a Ray cluster."""

from layeredit.batch.jobs import Job, RunSettings
from layeredit.batch.ledger import RESULTS_NAME, LineResult
from layeredit.batch.manifest import ManifestLine, read_manifest
from layeredit.batch.run import Batch, edit_many

__all__ = [
    "RESULTS_NAME",
    "Batch",
    "Job",
    "LineResult",
    "ManifestLine",
    "RunSettings",
    "edit_many",
    "read_manifest",
]
