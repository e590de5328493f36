"""The one access-control function: who may read which dataset and field, and do which action.

Everything comes from ``configs/access.yml`` (:class:`pipelines.config.web.AccessSpec`); API
routes, pages and downloads ask :class:`Policy` and nothing else, so a rule is changed in one
place.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pipelines.config.web import AccessSpec

__all__ = ["Decision", "Policy"]


@dataclass(frozen=True)
class Decision:
    """The outcome of one access check.

    Attributes
    ----------
    allowed : bool
    status : int
        200 when allowed; 401 when logging in could help (anonymous); 403 otherwise.
    reason : str
        Why not (names the dataset or action and the role).
    audited : bool
        Whether the access is to be written to the audit table.
    """

    allowed: bool
    status: int
    reason: str
    audited: bool


class Policy:
    """Access rules of ``configs/access.yml``.

    Parameters
    ----------
    spec : pipelines.config.web.AccessSpec
    """

    def __init__(self, spec: AccessSpec):
        self.spec = spec
        self._rank = {lv.id: i for i, lv in enumerate(spec.levels)}

    # ------------------------------------------------------------------ helpers
    def roles(self) -> list[str]:
        """Return configured roles."""
        return list(self.spec.roles)

    def login_roles(self) -> list[str]:
        """Roles a user account may have (every role but the anonymous one)."""
        return [r for r, s in self.spec.roles.items() if s.login]

    def level(self, dataset: str) -> str:
        """Classification level of a dataset (unknown datasets are refused: KeyError)."""
        return self.spec.datasets[dataset].level

    def dataset_for(self, read: str, kind: str | None) -> str:
        """Return the dataset a read of a network or warning file of ``kind`` requires.

        Parameters
        ----------
        read : str
            ``networks``, ``stations``, ``status``, ``observations``, ``warnings`` or
            ``warnings_pending`` (:data:`pipelines.config.web.KIND_READS`).
        kind : str or None
            ``air``, ``water`` or ``source`` (None: the read's own dataset).

        Returns
        -------
        str
            ``by_kind[kind][read]`` of ``configs/access.yml``, else ``read``.

        Raises
        ------
        KeyError
            When the result is not a declared dataset (e.g. ``status`` of an unmapped kind).
        """
        ds = self.spec.by_kind.get(kind, {}).get(read, read) if kind else read  # type: ignore[call-overload]
        if ds not in self.spec.datasets:
            raise KeyError(f"read {read!r} of kind {kind!r} maps to no dataset of access.yml")
        return ds

    def check_kind(self, role: str, read: str, kind: str | None) -> Decision:
        """Check whether ``role`` may make ``read`` of a network or warning file of ``kind``."""
        return self.check(role, self.dataset_for(read, kind))

    def _cleared(self, role: str, level: str) -> bool:
        return self._rank[self.spec.roles[role].clearance] >= self._rank[level]

    # ------------------------------------------------------------------ the checks
    def check(self, role: str, dataset: str) -> Decision:
        """Check whether ``role`` may read ``dataset``.

        Raises
        ------
        KeyError
            For a dataset the policy does not declare (a route must never serve undeclared data).
        """
        ds = self.spec.datasets[dataset]
        audited = self._rank[ds.level] >= self._rank[self.spec.audit_from]
        ok = self._cleared(role, ds.level) and (ds.roles is None or role in ds.roles)
        if ok:
            return Decision(True, 200, "", audited)
        status = 401 if not self.spec.roles[role].login else 403
        why = f"dataset {dataset!r} ({ds.level}) is not open to role {role!r}"
        return Decision(False, status, why, audited)

    def may(self, role: str, action: str) -> Decision:
        """Check whether ``role`` may perform ``action`` (e.g. ``warning.confirm``)."""
        if action not in self.spec.actions:
            raise KeyError(f"action {action!r} is not declared in access.yml")
        if role in self.spec.actions[action]:
            return Decision(True, 200, "", True)
        status = 401 if not self.spec.roles[role].login else 403
        return Decision(False, status, f"action {action!r} is not open to role {role!r}", True)

    def hidden_fields(self, role: str, dataset: str) -> set[str]:
        """Fields of ``dataset`` that ``role`` is not cleared to see."""
        ds = self.spec.datasets[dataset]
        return {f for f, lv in ds.fields.items() if not self._cleared(role, lv)}

    def redact(self, role: str, dataset: str, record: Any) -> Any:
        """Copy of ``record`` (a mapping, or a list of them) without the fields ``role`` may not see.

        Nested mappings are redacted by the same field names.
        """
        hidden = self.hidden_fields(role, dataset)
        if not hidden:
            return record
        return _drop(record, hidden)

    def readable(self, role: str) -> list[str]:
        """Datasets ``role`` may read."""
        return [d for d in self.spec.datasets if self.check(role, d).allowed]


def _drop(obj: Any, hidden: set[str]) -> Any:
    if isinstance(obj, Mapping):
        return {k: _drop(v, hidden) for k, v in obj.items() if k not in hidden}
    if isinstance(obj, list | tuple):
        return [_drop(v, hidden) for v in obj]
    return obj
