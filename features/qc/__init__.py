"""Quality control: named checks that set flags and never delete values."""

from features.qc.checks import CHECKS, QCContext, register_check, run_checks
from features.qc.flags import (
    FLAG_CODES,
    FLAG_MEANINGS,
    QC_BITS,
    final_status,
    status_code,
)

__all__ = [
    "CHECKS",
    "FLAG_CODES",
    "FLAG_MEANINGS",
    "QC_BITS",
    "QCContext",
    "final_status",
    "register_check",
    "run_checks",
    "status_code",
]
