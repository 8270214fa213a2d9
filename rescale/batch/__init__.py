"""The batch runner behind ``rescale resize``, ``down`` and ``up``: which files and where their
outputs go (:mod:`.plan`), one file (:mod:`.job`), many files on a process pool (:mod:`.pool`) or in
device batches (:mod:`.device`) or on a Ray cluster (:mod:`.ray`), image files and their metadata
(:mod:`.files`, :mod:`.provenance`).

Pixels are resampled only through the public :func:`rescale.rescale`, :func:`rescale.down` and
:func:`rescale.up`.
"""

from .job import DEFAULT_UP_METHOD, DIRECTIONS, Options, file_options, process_file
from .plan import FITS, Job, Plan, Target, plan_jobs
from .pool import run_jobs
from .result import Result

__all__ = [
    "Target",
    "Job",
    "Plan",
    "Options",
    "Result",
    "plan_jobs",
    "run_jobs",
    "process_file",
    "file_options",
    "FITS",
    "DIRECTIONS",
    "DEFAULT_UP_METHOD",
]
