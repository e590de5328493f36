"""River networks (pure): sections linked downstream, distances, travel times, reaches.

A *section* (断面) drains into at most one ``downstream`` section; a *reach* is the stretch from a
section down to the next one (named by its upstream section), plus, for a headwater section, the
catchment ``above`` it. Travel time of a reach comes from its ``travel_time_h``, else from
``distance_km / velocity_m_s``. :func:`check_sections` refuses unknown links and cycles.
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["RiverNetwork", "Section", "check_sections"]


@dataclass(frozen=True)
class Section:
    """One monitoring section and the reach below it."""

    id: str
    river: str = ""
    name: str = ""
    downstream: str | None = None
    distance_km: float = 0.0  # to the downstream section
    travel_time_h: float = 0.0  # to the downstream section
    flow_m3_s: float | None = None
    target_class: str | None = None
    lat: float | None = None
    lon: float | None = None


def check_sections(sections: list[Section]) -> None:
    """Raise ValueError for duplicate ids, unknown downstream links or cycles."""
    ids = [s.id for s in sections]
    dup = sorted({i for i in ids if ids.count(i) > 1})
    if dup:
        raise ValueError(f"duplicate section ids: {dup}")
    known = set(ids)
    for s in sections:
        if s.downstream is not None and s.downstream not in known:
            raise ValueError(f"section {s.id}: downstream {s.downstream!r} is not a section")
        if s.downstream == s.id:
            raise ValueError(f"section {s.id} drains into itself")
    down = {s.id: s.downstream for s in sections}
    for s in sections:
        seen = [s.id]
        nxt = down[s.id]
        while nxt is not None:
            if nxt in seen:
                cycle = seen[seen.index(nxt) :] + [nxt]
                raise ValueError(f"the downstream links form a cycle: {' -> '.join(cycle)}")
            seen.append(nxt)
            nxt = down[nxt]


@dataclass
class RiverNetwork:
    """A checked set of sections."""

    name: str
    sections: dict[str, Section]
    _up: dict[str, list[str]] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        check_sections(list(self.sections.values()))
        self._up = {k: [] for k in self.sections}
        for s in self.sections.values():
            if s.downstream:
                self._up[s.downstream].append(s.id)

    def path_down(self, sid: str) -> list[str]:
        """``sid`` and every section below it, to the outlet."""
        out = [sid]
        while self.sections[out[-1]].downstream:
            out.append(self.sections[out[-1]].downstream)
        return out

    def upstream_of(self, sid: str) -> list[str]:
        """Every section whose water reaches ``sid`` (not ``sid`` itself), nearest first."""
        out, todo = [], list(self._up[sid])
        while todo:
            s = todo.pop(0)
            out.append(s)
            todo.extend(self._up[s])
        return out

    def direct_upstream(self, sid: str) -> list[str]:
        """Sections draining directly into ``sid``."""
        return list(self._up[sid])

    def headwaters(self) -> list[str]:
        """Sections with nothing upstream."""
        return [k for k, v in self._up.items() if not v]

    def outlets(self) -> list[str]:
        """Sections with no downstream section."""
        return [k for k, s in self.sections.items() if s.downstream is None]

    def travel_time(self, a: str, b: str) -> float | None:
        """Hours from section ``a`` down to ``b`` (None when ``b`` is not downstream of ``a``)."""
        t = 0.0
        for s in self.path_down(a):
            if s == b:
                return t
            t += self.sections[s].travel_time_h
        return None

    def distance(self, a: str, b: str) -> float | None:
        """Kilometres along the river from ``a`` down to ``b`` (None if not downstream)."""
        d = 0.0
        for s in self.path_down(a):
            if s == b:
                return d
            d += self.sections[s].distance_km
        return None

    def reaches(self, upstream_of: str | None = None) -> list[str]:
        """Reach names: ``"<sid>"`` (from the section down to the next) and ``"above <sid>"``.

        With ``upstream_of``: the reaches whose water reaches that section (including the reach
        just above it and the catchments above the headwaters), nearest first.
        """
        ids = list(self.sections) if upstream_of is None else [*self.upstream_of(upstream_of)]
        out = [s for s in ids if self.sections[s].downstream is not None]
        heads = (
            self.headwaters()
            if upstream_of is None
            else [s for s in [*self.upstream_of(upstream_of), upstream_of] if not self._up[s]]
        )
        return out + [f"above {h}" for h in heads]
