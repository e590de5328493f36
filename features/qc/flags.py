"""Flag vocabularies: HJ 212-2017 status codes plus Qingyuan's QC states, and QC check bits.

Every stored value carries three ancillary arrays:

``<var>_source_flag``
    the status reported by the source (HJ 212 letter, ``N`` when the source gives none);
``<var>_qc``
    a bit mask naming every QC check the value failed (:data:`QC_BITS`);
``<var>_flag``
    the final status (:func:`final_status`), which decides whether the value enters statistics.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "FLAG_CODES",
    "FLAG_MEANINGS",
    "INGEST_BITS",
    "QC_BITS",
    "final_status",
    "status_code",
]

#: Status name -> integer code stored in netCDF (CF flag_values / flag_meanings).
FLAG_CODES: dict[str, int] = {
    "N": 0,  # normal
    "F": 1,  # analyser stopped
    "M": 2,  # maintenance
    "S": 3,  # manually entered value
    "D": 4,  # instrument fault
    "C": 5,  # calibration
    "T": 6,  # above the measurement upper limit
    "B": 7,  # communication failure
    "qc_suspect": 8,  # valid, but failed an automatic plausibility check
    "qc_invalid": 9,  # physically impossible or a no-data marker
    "missing": 10,  # no value received
}

#: CF ``flag_meanings`` words, in code order.
FLAG_MEANINGS: list[str] = [
    "normal",
    "stopped",
    "maintenance",
    "manual",
    "fault",
    "calibration",
    "over_upper_limit",
    "communication_failure",
    "qc_suspect",
    "qc_invalid",
    "missing",
]

#: QC check name -> bit in ``<var>_qc``; the value says which final status the failure implies.
QC_BITS: dict[str, tuple[int, str]] = {
    "range_invalid": (1 << 0, "qc_invalid"),
    "range_suspect": (1 << 1, "qc_suspect"),
    "sentinel": (1 << 2, "qc_invalid"),  # the flag may be overridden per sentinel (e.g. T)
    "spike_self": (1 << 3, "qc_suspect"),
    "spike_neighbour": (1 << 4, "qc_suspect"),
    "flat_line": (1 << 5, "qc_suspect"),
    "pm_inversion": (1 << 6, "qc_suspect"),
    "duplicate_conflict": (1 << 7, "qc_suspect"),
    "incomplete_day": (1 << 8, None),  # informative only: does not change the status
}

#: Bits set at ingest time (they depend on raw rows, not on stored values) and kept across re-QC.
INGEST_BITS: int = QC_BITS["duplicate_conflict"][0]

_SEVERITY = ["N", "S", "qc_suspect", "T", "qc_invalid", "C", "M", "D", "F", "B", "missing"]


def status_code(name: str) -> int:
    """Return the integer code of a status name (``"N"``, ``"qc_suspect"``, ...).

    Raises
    ------
    KeyError
        If ``name`` is not a known status.
    """
    return FLAG_CODES[name]


def final_status(
    values: np.ndarray,
    source_flag: np.ndarray,
    qc_bits: np.ndarray,
    sentinel_status: np.ndarray | None = None,
) -> np.ndarray:
    """Combine the source status and QC bits into the final status code of each value.

    Rules: a missing value is ``missing`` unless the source said why (F, M, D, C, B ...); a
    sentinel takes its configured status (``sentinel_status``); a failed check can only make a
    status worse (qc_invalid over qc_suspect over N/S), never hide an instrument status.

    Parameters
    ----------
    values : numpy.ndarray
        Data values (NaN = missing).
    source_flag : numpy.ndarray of int8
        Status codes reported by the source.
    qc_bits : numpy.ndarray of uint16
        QC bit masks.
    sentinel_status : numpy.ndarray of int8, optional
        Status for values whose ``sentinel`` bit is set (default ``qc_invalid``).

    Returns
    -------
    numpy.ndarray of int8
        Final status codes.
    """
    src = np.asarray(source_flag, dtype="int8")
    bits = np.asarray(qc_bits).astype("uint16")
    rank = {FLAG_CODES[name]: i for i, name in enumerate(_SEVERITY)}
    lut = np.zeros(len(FLAG_CODES), dtype="int16")
    for code, r in rank.items():
        lut[code] = r
    out = src.copy()
    severity = lut[out]

    def worsen(mask: np.ndarray, code: np.ndarray | int) -> None:
        code_arr = np.broadcast_to(np.asarray(code, dtype="int8"), out.shape)
        code_rank = lut[code_arr]
        sel = mask & (severity < code_rank)
        out[sel] = code_arr[sel]
        severity[sel] = code_rank[sel]

    # Every status has its own rank, so the result is the most severe of the source status and
    # the statuses implied by the failed checks, whatever the order: one pass per implied status.
    per_status: dict[str, int] = {}
    for name, (bit, implied) in QC_BITS.items():
        if implied is None:
            continue
        if name == "sentinel" and sentinel_status is not None:
            worsen((bits & bit) != 0, np.asarray(sentinel_status, dtype="int8"))
        else:
            per_status[implied] = per_status.get(implied, 0) | bit
    for implied, mask_bits in per_status.items():
        worsen((bits & mask_bits) != 0, FLAG_CODES[implied])
    missing = np.isnan(np.asarray(values, dtype="float64"))
    # a missing value whose source status is normal/manual becomes "missing"
    plain = missing & np.isin(out, [FLAG_CODES["N"], FLAG_CODES["S"], FLAG_CODES["qc_suspect"]])
    out[plain] = FLAG_CODES["missing"]
    return out
