"""Repositories: the only place that writes SQL against the domain tables, one module per
aggregate; `Repositories` gives them all over one pool."""

from __future__ import annotations

from psycopg_pool import AsyncConnectionPool

from sigecve.db.repositories.alerts import AlertRepository
from sigecve.db.repositories.api_tokens import ApiTokenRepository
from sigecve.db.repositories.audit import AuditLogRepository
from sigecve.db.repositories.base import EPOCH
from sigecve.db.repositories.charge_points import (
    ChargePointArrival,
    ChargePointEventRepository,
    ChargePointFilter,
    ChargePointRepository,
    ConnectorRepository,
)
from sigecve.db.repositories.charging_profiles import ChargingProfileRepository
from sigecve.db.repositories.device_model import DeviceModelRepository
from sigecve.db.repositories.display_messages import DisplayMessageRepository
from sigecve.db.repositories.failure_models import FailureModelRepository
from sigecve.db.repositories.id_tags import IdTagRepository
from sigecve.db.repositories.local_lists import LocalListRepository
from sigecve.db.repositories.maintenance import MaintenanceRepository
from sigecve.db.repositories.message_log import MessageLogRepository
from sigecve.db.repositories.onboarding import OnboardingRepository
from sigecve.db.repositories.reservations import ReservationRepository
from sigecve.db.repositories.sites import SessionDemandRepository, SiteRepository
from sigecve.db.repositories.transactions import (
    MeterValueRepository,
    TransactionFilter,
    TransactionRepository,
)
from sigecve.db.repositories.variable_monitors import VariableMonitorRepository

__all__ = [
    "EPOCH",
    "AlertRepository",
    "ApiTokenRepository",
    "AuditLogRepository",
    "ChargePointArrival",
    "ChargePointEventRepository",
    "ChargePointFilter",
    "ChargePointRepository",
    "ChargingProfileRepository",
    "ConnectorRepository",
    "DeviceModelRepository",
    "DisplayMessageRepository",
    "FailureModelRepository",
    "IdTagRepository",
    "LocalListRepository",
    "MaintenanceRepository",
    "MessageLogRepository",
    "MeterValueRepository",
    "OnboardingRepository",
    "Repositories",
    "ReservationRepository",
    "SessionDemandRepository",
    "SiteRepository",
    "TransactionFilter",
    "TransactionRepository",
    "VariableMonitorRepository",
]


class Repositories:
    """All repositories over one pool."""

    def __init__(self, pool: AsyncConnectionPool) -> None:
        self.pool = pool
        self.charge_points = ChargePointRepository(pool)
        self.connectors = ConnectorRepository(pool)
        self.id_tags = IdTagRepository(pool)
        self.transactions = TransactionRepository(pool)
        self.meter_values = MeterValueRepository(pool)
        self.message_log = MessageLogRepository(pool)
        self.api_tokens = ApiTokenRepository(pool)
        self.events = ChargePointEventRepository(pool)
        self.sites = SiteRepository(pool)
        self.demands = SessionDemandRepository(pool)
        self.audit = AuditLogRepository(pool)
        self.reservations = ReservationRepository(pool)
        self.charging_profiles = ChargingProfileRepository(pool)
        self.alerts = AlertRepository(pool)
        self.maintenance = MaintenanceRepository(pool)
        self.failure_models = FailureModelRepository(pool)
        self.device_model = DeviceModelRepository(pool)
        self.onboarding = OnboardingRepository(pool)
        self.local_lists = LocalListRepository(pool)
        self.display_messages = DisplayMessageRepository(pool)
        self.variable_monitors = VariableMonitorRepository(pool)
