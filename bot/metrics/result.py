"""Result metrics (real business): conversion rate, deal amount, order value and margin,
repeat orders and referrals."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import ROUND_HALF_EVEN, Decimal

from sqlalchemy import Connection

from bot.metrics.quality import first_quote_requests
from bot.metrics.settings import TeamSettings
from storage import kpi_queries
from storage.kpi_queries import DealRow

logger = logging.getLogger(__name__)

CONVERSION_WINDOW = timedelta(days=90)
_CENT = Decimal("0.0001")


@dataclass(frozen=True, slots=True)
class DealResults:
    """The deals of a period, in the base currency.

    Attributes:
        deal_amount: sum of deals closed in the period, converted to the team's base
            currency, without the deals below the minimum margin (the scored amount).
        deal_amount_all: the same sum with every converted deal.
        deals: how many converted deals closed.
        order_value: mean deal amount; None without deals.
        margin: amount-weighted gross margin of the deals that state one; None without.
        repeat_amount: amount of deals from customers who had bought before.
        referrals: new customers referred by existing ones.
        below_margin: ids of deals below the minimum margin (flagged, not scored).
        unconverted: ids of deals in a currency without an exchange rate (left out).
    """

    deal_amount: Decimal
    deal_amount_all: Decimal
    deals: int
    order_value: Decimal | None
    margin: float | None
    repeat_amount: Decimal
    referrals: int
    below_margin: tuple[int, ...]
    unconverted: tuple[int, ...]


def to_base(amount: Decimal, currency: str, settings: TeamSettings) -> Decimal | None:
    """Convert ``amount`` to the team's base currency.

    Args:
        amount: the deal's amount in its own currency.
        currency: its ISO code.
        settings: the team settings holding the rates.

    Returns:
        The amount in the base currency, to 1/10,000; None when no rate is set.
    """
    rate = settings.rate_to_base(currency)
    if rate is None:
        return None
    return (amount * rate).quantize(_CENT, rounding=ROUND_HALF_EVEN)


def deal_results(
    conn: Connection,
    rep_id: int,
    start: datetime,
    as_of: datetime,
    settings: TeamSettings,
) -> DealResults:
    """Deal amount: sum of deals closed in the period, converted to the team's base
    currency; a deal below the team's minimum margin is flagged and does not count towards
    the scored deal amount. Order value: mean deal amount. Margin: amount-weighted gross
    margin. Repeat: amount of deals from customers who had bought before. Referral: new
    customers referred by existing ones.

    Args:
        conn: an open connection.
        rep_id: the rep.
        start: the period's start.
        as_of: the evaluation time.
        settings: base currency, exchange rates and minimum margin.

    Returns:
        The period's deal results.
    """
    converted: list[tuple[DealRow, Decimal]] = []
    unconverted: list[int] = []
    for deal in kpi_queries.deals(conn, rep_id, start, as_of):
        amount = to_base(deal.amount, deal.currency, settings)
        if amount is None:
            unconverted.append(deal.id)
        else:
            converted.append((deal, amount))
    if unconverted:
        logger.warning(
            "deals left out: no exchange rate rep_id=%s deal_ids=%s", rep_id, unconverted
        )

    below = tuple(deal.id for deal, _ in converted if _below_margin(deal, settings))
    total = sum((amount for _, amount in converted), Decimal(0))
    return DealResults(
        deal_amount=sum((a for d, a in converted if d.id not in below), Decimal(0)),
        deal_amount_all=total,
        deals=len(converted),
        order_value=(total / len(converted)).quantize(_CENT) if converted else None,
        margin=_weighted_margin(converted),
        repeat_amount=sum((a for d, a in converted if d.bought_before), Decimal(0)),
        referrals=len(
            {
                d.customer_id
                for d, _ in converted
                if d.referred_by_customer_id is not None and not d.bought_before
            }
        ),
        below_margin=below,
        unconverted=tuple(unconverted),
    )


def _below_margin(deal: DealRow, settings: TeamSettings) -> bool:
    floor = settings.minimum_margin
    return floor is not None and deal.margin is not None and deal.margin < floor


def _weighted_margin(converted: list[tuple[DealRow, Decimal]]) -> float | None:
    with_margin = [(d.margin, a) for d, a in converted if d.margin is not None]
    weight = sum((a for _, a in with_margin), Decimal(0))
    if not with_margin or weight == 0:
        return None
    return float(sum(Decimal(str(m)) * a for m, a in with_margin) / weight)


def conversion_rate(
    conn: Connection,
    rep_id: int,
    as_of: datetime,
    first_requests: Mapping[int, datetime] | None = None,
) -> float | None:
    """Conversion rate: of the customers whose first quote request fell in the trailing
    90 days, the share that closed a deal by the evaluation time (quoted customers, not
    all customers, are the base); the deal must close at or after that first request.

    Args:
        conn: an open connection.
        rep_id: the rep.
        as_of: the evaluation time.
        first_requests: :func:`bot.metrics.quality.first_quote_requests` for ``as_of``,
            when already read.

    Returns:
        A fraction 0..1, or None when no customer's first quote request is that recent.
    """
    if first_requests is None:
        first_requests = first_quote_requests(conn, rep_id, as_of)
    window_start = as_of - CONVERSION_WINDOW
    first_request = {c: at for c, at in first_requests.items() if at >= window_start}
    if not first_request:
        return None

    closed = kpi_queries.deals(conn, rep_id, None, as_of, first_request.keys())
    converted = {d.customer_id for d in closed if d.closed_at >= first_request[d.customer_id]}
    return len(converted) / len(first_request)
