"""Display messages (OCPP 2.x block O) as SIGEC-VE keeps them and as stations send and take
them (pure)."""

from __future__ import annotations

from datetime import datetime

from sigecve.domain import DisplayMessage


def _time(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text.replace("Z", "+00:00")) if text else None


def from_message_info(charge_point_id: str, infos: list[dict]) -> list[DisplayMessage]:
    """NotifyDisplayMessages' `messageInfo` (camelCase, as the station sent it)."""
    return [
        DisplayMessage(
            charge_point_id=charge_point_id,
            id=i["id"],
            priority=i["priority"],
            state=i.get("state"),
            format=i["message"]["format"],
            language=i["message"].get("language"),
            content=i["message"]["content"],
            starts_at=_time(i.get("startDateTime")),
            ends_at=_time(i.get("endDateTime")),
            transaction_id=i.get("transactionId"),
            status="Reported",
        )
        for i in infos
    ]


def message_info(m: DisplayMessage) -> dict:
    """The SetDisplayMessage `message` of `m` (snake_case, for the `ocpp` dataclasses)."""
    content = {"format": m.format, "content": m.content}
    if m.language:
        content["language"] = m.language
    info: dict = {"id": m.id, "priority": m.priority, "message": content}
    for key, value in (
        ("state", m.state),
        ("start_date_time", m.starts_at.isoformat() if m.starts_at else None),
        ("end_date_time", m.ends_at.isoformat() if m.ends_at else None),
        ("transaction_id", m.transaction_id),
    ):
        if value is not None:
            info[key] = value
    return info
