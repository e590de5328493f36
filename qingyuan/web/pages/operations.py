"""The operations page (analysts, admins): ingest reports, quarantine, alerts, outbox, last runs."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request

from pipelines import results as R
from qingyuan.web.accounts import Principal
from qingyuan.web.deps import readable, reader, reveal
from qingyuan.web.render import render

__all__ = ["router"]

router = APIRouter(include_in_schema=False)


@router.get("/operations")
def operations_page(request: Request, who: Principal = Depends(reader("operations"))):
    """Return what ran, what it read and refused, what is waiting to be delivered."""
    ws = request.app.state.settings.workspace
    return render(
        request,
        "operations.html",
        {
            "runs": R.last_runs(ws).data,
            "reports": R.ingest_reports(ws, limit=30).data,
            "alerts": list(reversed(R.ops_alerts(ws).data))[:30],
            "outbox": R.outbox(ws).data,
            "models": R.registered_models().data if reveal(request, who, "models") else [],
            "quarantine_ok": readable(request, who, "quarantine"),
        },
    )
