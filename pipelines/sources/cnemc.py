"""CNEMC national surface-water automatic station publishing format (国家地表水水质自动监测实时数据).

The public release (``szzdjc.cnemc.cn``) answers a form POST (``action=getRealDatas``, paged
with ``PageIndex`` / ``PageSize``) with JSON ``{"thead": [...], "tbody": [[...], ...], "total": N}``:
one row per section and 4-hourly time, columns 省份, 流域, 断面名称, 监测时间, 水质类别, 水温(℃),
pH(无量纲), 溶解氧(mg/L), 电导率(μS/cm), 浊度(NTU), 高锰酸盐指数(mg/L), 氨氮(mg/L), 总磷(mg/L),
总氮(mg/L) [, 叶绿素α, 藻密度], 站点情况. Cells may carry HTML (``<span title=...>0.08</span>``).

Handled here (each counted in the batch notes):

* header names are matched without their unit suffix (``溶解氧(mg/L)`` -> ``溶解氧``), so the
  network YAML maps ``溶解氧: {variable: dissolved_oxygen, units: mg L-1}``;
* ``--``, ``*``, ``/``, empty -> missing; a value below the detection limit written ``0.01L``
  or ``<0.01`` enters as half the limit (环办监测函〔2020〕82号);
* ``监测时间`` is ``MM-DD HH:MM`` without a year: the year of the request's end time, or the
  previous year when that would put the reading more than a day in the future (New Year);
* a section whose 站点情况 is not ``正常`` (maintenance, stopped ...) has its values kept but
  flagged with the HJ 212 code of ``status_flags`` (default ``维护`` -> M, ``停运`` -> F).

Options: ``url`` (required), ``params`` (extra form fields, e.g. ``AreaID``, ``RiverID``),
``page_size`` (default 100), ``end`` (ISO time, default now), ``timeout``, ``retries``, ``backoff``,
``station_field`` (default ``断面名称``), ``status_flags``, ``max_pages`` (default 1000: a server
whose pages never end is an error naming the option, not a hang).
"""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path
from typing import Any

import pandas as pd

from pipelines.config import NetworkSpec, SourceSpec
from pipelines.errors import ConfigError, QuarantineRecord, SourceError
from pipelines.sources.base import RawBatch
from pipelines.sources.http_json import fetch_json
from pipelines.sources.tabular import TableLayout, parse_table

__all__ = ["OPTIONS", "clean_cell", "read", "validate_options"]

#: Options of a source block beyond the common ones (``files``, ``encoding``, ``missing_values``,
#: ``columns``); any other key is refused at load with the nearest name.
OPTIONS: frozenset[str] = frozenset(
    {
        "backoff",
        "end",
        "max_pages",
        "page_size",
        "params",
        "retries",
        "station_field",
        "status_flags",
        "timeout",
        "url",
    }
)

_TAG = re.compile(r"<[^>]+>")
_UNIT = re.compile(r"[（(].*?[)）]\s*$")
_MISSING = {"", "--", "-", "*", "/", "—", "null", "None"}


def clean_cell(raw: Any) -> tuple[str, bool]:
    """Text of a cell without HTML; below-detection ``0.01L`` / ``<0.01`` -> half the limit.

    Returns
    -------
    text : str
        The value as text ('' when missing).
    below_dl : bool
        True when the cell reported a value below the detection limit.
    """
    s = _TAG.sub("", "" if raw is None else str(raw)).strip()
    if s in _MISSING:
        return "", False
    m = re.fullmatch(r"<\s*([0-9.]+)|([0-9.]+)\s*[Ll]", s)
    if m:
        try:
            dl = float(m.group(1) or m.group(2))
        except ValueError:  # '1.2.3L', '<.': not a number (refused by the value check)
            return s, False
        return repr(dl / 2.0), True
    return s, False


def read(source: SourceSpec, network: NetworkSpec) -> RawBatch:
    """Pull every page of the current release into a :class:`RawBatch`."""
    url = source.option("url")
    end = (
        pd.Timestamp(source.option("end"))
        if source.option("end")
        else pd.Timestamp.now(tz=network.time_zone)
    )
    if end.tzinfo is None:
        end = end.tz_localize(network.time_zone)
    kw = dict(
        timeout=float(source.option("timeout", 10)),
        retries=int(source.option("retries", 4)),
        backoff=float(source.option("backoff", 0.5)),
    )
    size = int(source.option("page_size", 100))
    max_pages = int(source.option("max_pages", 1000))
    base = {"action": "getRealDatas", "PageSize": size, **(source.option("params") or {})}
    thead: list[str] | None = None
    body: list[list[Any]] = []
    page, total, requests_made = 1, None, 0
    last: list[Any] = []
    repeated = ""
    while True:
        payload, n = fetch_json(url, method="POST", data={**base, "PageIndex": page}, **kw)
        requests_made += n
        if not isinstance(payload, dict) or "tbody" not in payload or "thead" not in payload:
            raise SourceError(
                url, "response lacks 'thead' / 'tbody' (not the CNEMC publishing format)"
            )
        if not isinstance(payload["thead"], list) or not isinstance(payload["tbody"], list):
            raise SourceError(url, f"page {page}: 'thead' and 'tbody' must be lists")
        head = [_UNIT.sub("", _TAG.sub("", str(h))).strip() for h in payload["thead"]]
        if thead is None:
            thead = head
        elif head != thead:
            raise SourceError(url, f"page {page}: columns changed between pages")
        if page > 1 and payload["tbody"] and payload["tbody"] == last:
            # a server ignoring PageIndex answers page 1 forever (with a large 'total': a hang)
            repeated = f"page {page} repeats page {page - 1} (PageIndex ignored?): not read on"
            break
        last = payload["tbody"]
        body += payload["tbody"]
        try:
            total = int(payload.get("total", len(body)))
        except (TypeError, ValueError) as exc:
            raise SourceError(
                url,
                f"page {page}: 'total' is not a number: {payload.get('total')!r}",
                field="total",
            ) from exc
        if len(body) >= total or not payload["tbody"]:
            break
        if page >= max_pages:
            raise SourceError(
                url,
                f"{page} pages of {size} rows read and the server still reports {total} rows "
                f"({len(body)} so far): stopped at max_pages = {max_pages} (raise it in the "
                "source block if the release really is this large)",
                field="max_pages",
            )
        page += 1
    st_field = source.option("station_field", "断面名称")
    for need in (st_field, "监测时间"):
        if need not in thead:
            raise SourceError(url, f"no column {need!r} in {thead}", field=need)
    flags = {
        "维护": "M",
        "停运": "F",
        "故障": "D",
        "校准": "C",
        **(source.option("status_flags") or {}),
    }
    value_keys = [k for k in source.columns if k in thead]
    if not value_keys:
        raise SourceError(url, f"none of the mapped columns {list(source.columns)} is in {thead}")
    used = [st_field, "监测时间", "站点情况", *value_keys]
    twice = sorted({h for h in thead if h in used and thead.count(h) > 1})
    if twice:  # which of the two would be read is anyone's guess
        raise SourceError(url, f"columns given twice: {twice}", field="thead")
    # a status flag column per mapped value (the network YAML may name it; else synthesised)
    flag_of = {k: source.columns[k].flag_column or f"_status_{k}" for k in value_keys}
    header = [st_field, "time", *value_keys, *flag_of.values()]
    rows, quarantine, below = [], [], 0
    for i, rec in enumerate(body, start=1):
        if not isinstance(rec, list) or len(rec) != len(thead):
            quarantine.append(
                QuarantineRecord(
                    url,
                    i,
                    "",
                    f"row has {len(rec) if isinstance(rec, list) else '?'} cells, header {len(thead)}",
                    str(rec)[:300],
                )
            )
            continue
        cells = dict(zip(thead, rec, strict=True))
        t_raw, _ = clean_cell(cells["监测时间"])
        try:
            t = pd.Timestamp(f"{end.year}-{t_raw}")
            if pd.isna(t) or t.tzinfo is not None:  # 'NaT', '12-31 20:00+08:00'
                raise ValueError(t_raw)
        except ValueError:
            quarantine.append(
                QuarantineRecord(url, i, "监测时间", f"not MM-DD HH:MM: {t_raw!r}", str(rec)[:300])
            )
            continue
        if t > end.tz_localize(None) + pd.Timedelta(days=1):
            t = t - pd.DateOffset(years=1)  # a December reading fetched in January
        status, _ = clean_cell(cells.get("站点情况", "正常"))
        code = next((v for k, v in flags.items() if k in status), "N")
        values = []
        for k in value_keys:
            v, bdl = clean_cell(cells[k])
            below += bdl
            values.append(v)
        rows.append(
            (
                i,
                [
                    clean_cell(cells[st_field])[0],
                    t.strftime("%Y-%m-%d %H:%M"),
                    *values,
                    *[code] * len(value_keys),
                ],
            )
        )
    layout = TableLayout(
        time_columns=["time"], time_format="%Y-%m-%d %H:%M", station_column=st_field
    )
    src = source.model_copy(
        update={
            "columns": {
                k: source.columns[k].model_copy(update={"flag_column": flag_of[k]})
                for k in value_keys
            }
        }
    )
    frame, q2, notes2 = parse_table(header, rows, Path(url), src, layout)
    frame["_file"] = url
    q2 = [dataclasses.replace(r, file=url) for r in q2]  # Path(url) has lost a slash
    return RawBatch(
        frame=frame,
        units={source.columns[k].variable: source.columns[k].units for k in value_keys},
        quarantine=quarantine + q2,
        rows_in=len(body),
        files=[url],
        notes=[
            f"{url}: {len(body)} rows in {page} page(s), {requests_made} request(s)",
            f"{below} value(s) below the detection limit entered as half the limit",
            *([f"{url}: {repeated}"] if repeated else []),
            *notes2,
        ],
    )


def validate_options(source: SourceSpec, path: Path, node: Any) -> None:
    """``url`` is required."""
    if not source.option("url"):
        raise ConfigError(
            str(path), getattr(node, "line", None), "sources.url", "required by the cnemc adapter"
        )
