"""How much work one decompose or compose may do on the server's worker.

The image limit bounds what a request carries, not what it costs: a decompose at the largest
image with soft edges solves an alpha matte per object (closed-form matting, minutes and
gigabytes at 4096x4096), and a compose renders every layer onto its canvas. The work is
estimated as pixels times passes before the job runs and refused with a 413 over
``max_megapixels``; a job that still runs longer than ``max_seconds`` is stopped at its next
progress report (the plate reports each step, a matte each step of its solve and every solver
iteration), so the worker is never held by one request for long.
"""

from __future__ import annotations

from dataclasses import dataclass

from layeredit.server.uploads import RequestError

# A soft-edged object costs this many passes over the picture: its closed-form matte (a sparse
# solve over the border band) took 14x the pixel engine's plate at 1024x1024 and 22x at
# 2048x2048 (bench: 25 s and 229 s on a shared 2-core machine, against 41 s for a hard-edged
# 4096x4096). With 8, the default budget takes a 4096x4096 picture without matting and a
# 1536x1536 one with one soft object, and refuses 2048x2048 with one.
MATTE_PASSES = 8
WORK_STATUS = 413  # too much work for this server: smaller input, fewer objects, or a higher setting


@dataclass(frozen=True)
class WorkBudget:
    """``max_megapixels``: pixels x passes one job may process, in millions; ``max_seconds``: how
    long it may run once started."""

    max_megapixels: float = 32.0
    max_seconds: float = 120.0

    def check(self, what: str, pixels: int, passes: int, advice: str) -> None:
        """Refuse ``what`` when ``pixels`` x ``passes`` is over the budget; ``advice`` says how to fit."""
        work = pixels * passes / 1e6
        if work > self.max_megapixels:
            raise RequestError(
                WORK_STATUS,
                f"{what} is {pixels / 1e6:.1f} MP x {passes} passes = {work:.0f} MP of work, over this "
                f"server's budget of {self.max_megapixels:g} MP (--max-work-megapixels); {advice}",
            )

    def overrun(self, what: str) -> RequestError:
        return RequestError(
            WORK_STATUS,
            f"{what} ran past this server's time budget of {self.max_seconds:g} s "
            "(--max-job-seconds); send a smaller picture or fewer objects",
        )
