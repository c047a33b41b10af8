"""What the store holds per rep: the counts an operator checks after an import or a demo."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from storage.models import Message, Rep

_message = Message.__table__  # type: ignore[attr-defined]
_rep = Rep.__table__  # type: ignore[attr-defined]
_m = _message.c
_r = _rep.c


@dataclass(frozen=True, slots=True)
class RepTraffic:
    """One rep's stored WhatsApp traffic."""

    rep: str
    customers: int
    inbound: int
    outbound: int
    outbound_read: int
    templates: int
    documents: int


def traffic_by_rep(session: Session) -> list[RepTraffic]:
    """Per rep: customers, messages each way, outbound read, templates and documents sent.

    Args:
        session: an open session.

    Returns:
        One row per rep with any traffic, by rep name.
    """
    outbound = _m.direction == "outbound"
    read = outbound & _m.status.in_(("read", "played"))
    rows = session.execute(
        select(
            _r.name,
            func.count(func.distinct(_m.customer_id)),
            func.sum(case((_m.direction == "inbound", 1), else_=0)),
            func.sum(case((outbound, 1), else_=0)),
            func.sum(case((read, 1), else_=0)),
            func.sum(case((outbound & _m.is_template, 1), else_=0)),
            func.sum(case((outbound & (_m.type == "document"), 1), else_=0)),
        )
        .select_from(_message)
        .join(_rep, _r.id == _m.rep_id)
        .group_by(_r.name)
        .order_by(_r.name)
    ).all()
    return [RepTraffic(row[0], *(int(v or 0) for v in row[1:])) for row in rows]
