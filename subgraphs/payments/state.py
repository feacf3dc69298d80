"""What one payments process keeps for its life: built by `app.setup`, reachable as `runtime.state`."""

from __future__ import annotations

from dataclasses import dataclass

from subgraphs.payments.metrics import PaymentsMetrics
from subgraphs.payments.providers import PaymentProvider
from subgraphs.payments.settings import PaymentsSettings


@dataclass(frozen=True, slots=True)
class PaymentsState:
    settings: PaymentsSettings
    metrics: PaymentsMetrics
    provider: PaymentProvider
