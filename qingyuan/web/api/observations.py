"""Observations with their QC flags for a station and time range: JSON, CSV or CF netCDF."""

from __future__ import annotations

import io
import os
import tempfile
from typing import Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response

from pipelines import results as R
from qingyuan.web.accounts import Principal
from qingyuan.web.api.catalogue import _last_time, _records
from qingyuan.web.deps import Page, kind_dataset, network_kind, network_reader, page_of, respond
from qingyuan.web.errors import ApiError
from qingyuan.web.params import Ident, TimeRange, Variables

__all__ = ["router"]

_READ_OBSERVATIONS = network_reader("observations")  # by the network's kind (access.yml by_kind)

router = APIRouter(tags=["observations"])


@router.get(
    "/networks/{network}/stations/{station}/observations",
    summary="Observations and QC flags (JSON, CSV or netCDF)",
    responses={200: {"content": {"text/csv": {}, "application/x-netcdf": {}}}},
)
def observations(
    request: Request,
    network: Ident,
    station: Ident,
    span: TimeRange = Depends(),
    variables: list[str] | None = Depends(Variables),
    format: Literal["json", "csv", "netcdf"] = Query("json", description="json, csv or netcdf."),  # noqa: A002
    page: Page = Depends(),
    who: Principal = Depends(_READ_OBSERVATIONS),
):
    """Hourly (or native-interval) values with the HJ 212 data flag and the QC detail of each.

    Dataset ``observations``; for a pollution-source network (stacks and outfalls of
    enterprises) ``enterprise`` (``by_kind`` of ``configs/access.yml``). Default range: the last 7 days of the record. CSV and netCDF return the whole range (no
    pagination); netCDF is the store's CF-1.8 timeSeries layout for the one station.
    """
    ws = request.app.state.settings.workspace
    start, end = span.resolve(_last_time(request, network), default_days=7)
    stem = f"{network}_{station}_{start:%Y%m%dT%H%M}_{end:%Y%m%dT%H%M}"
    if format == "netcdf":
        r = R.observations_dataset(ws, network, station, start=start, end=end, variables=variables)
        if r.data.sizes.get("time", 0) == 0:
            raise ApiError(404, f"no stored data for station {station!r} in the range asked for")
        fd, tmp = tempfile.mkstemp(suffix=".nc")
        os.close(fd)
        try:
            with R.IO_LOCK:  # netCDF-C is not thread-safe (pipelines.results.cache)
                r.data.to_netcdf(tmp)
            with open(tmp, "rb") as fh:
                body = fh.read()
        finally:
            os.unlink(tmp)
        return _download(body, "application/x-netcdf", f"{stem}.nc")
    r = R.observations(ws, network, station, start=start, end=end, variables=variables)
    df = r.data
    if format == "csv":
        buf = io.StringIO()
        df.to_csv(buf, index_label="time_utc", date_format="%Y-%m-%dT%H:%M:%SZ")
        return _download(buf.getvalue().encode("utf-8"), "text/csv; charset=utf-8", f"{stem}.csv")
    body = page_of(_records(df), page)
    body.update(
        network=network,
        station=station,
        start=f"{start:%Y-%m-%dT%H:%M:%SZ}",
        end=f"{end:%Y-%m-%dT%H:%M:%SZ}",
        units=df.attrs.get("units", {}),
        flag_meanings=df.attrs.get("flag_meanings", {}),
    )
    ds = kind_dataset(request, "observations", network_kind(request, network))
    return respond(request, body, modified=r.modified, dataset=ds)


def _download(body: bytes, media: str, filename: str) -> Response:
    return Response(
        body,
        media_type=media,
        headers={
            "Content-Disposition": f'attachment; filename="{filename}"',
            "Cache-Control": "private, no-cache",
            "Vary": "Cookie, Authorization",
        },
    )
