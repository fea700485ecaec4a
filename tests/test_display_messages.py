"""Display messages on 2.x stations: set (with the station's answer kept), read back from
what the station reports it shows, cleared; a 1.6 charger, which has none, is told so."""

from __future__ import annotations

import pytest

from tests.conftest import eventually, unique_id
from tests.test_rest_api import as_role, assert_error, charger, register


@pytest.mark.parametrize("protocol", ["ocpp2.0.1", "ocpp2.1"])
async def test_messages_are_set_reported_and_cleared(system, tokens, protocol):
    cp_id = unique_id("DISP")
    async with as_role(system, tokens, "operator") as op:
        await register(op, cp_id)
        async with charger(system, cp_id, protocol) as station:
            r = await op.post(
                f"/charge-points/{cp_id}/display-messages",
                json={
                    "content": "Out of order until 14:00",
                    "language": "en",
                    "priority": "InFront",
                },
            )
            assert r.status_code == 200, r.text
            shown = r.json()["message"]
            assert (shown["status"], shown["priority"]) == ("Accepted", "InFront")
            assert station.display[shown["id"]]["message"]["content"] == "Out of order until 14:00"
            r = await op.post(
                f"/charge-points/{cp_id}/display-messages",
                json={"content": "<b>bold</b>", "format": "HTML"},
            )
            assert r.json()["message"]["status"] == "NotSupportedMessageFormat"

            # Something the station shows that was not set from here: read back, kept.
            station.display[99] = {
                "id": 99,
                "priority": "NormalCycle",
                "message": {"format": "UTF8", "content": "Welcome"},
            }
            r = await op.post(f"/charge-points/{cp_id}/display-messages/refresh")
            assert r.status_code == 200 and r.json()["status"] == "Accepted", r.text

            async def reported():
                items = (await op.get(f"/charge-points/{cp_id}/display-messages")).json()["items"]
                return items if any(m["id"] == 99 for m in items) else None

            items = await eventually(reported, within=15, message="NotifyDisplayMessages not kept")
            assert {m["id"]: m["status"] for m in items} == {
                shown["id"]: "Reported",  # the station's report is the newest word
                shown["id"] + 1: "NotSupportedMessageFormat",
                99: "Reported",
            }

            r = await op.delete(f"/charge-points/{cp_id}/display-messages/{shown['id']}")
            assert r.status_code == 200 and r.json()["status"] == "Accepted", r.text
            assert shown["id"] not in station.display
            items = (await op.get(f"/charge-points/{cp_id}/display-messages")).json()["items"]
            assert shown["id"] not in {m["id"] for m in items}
            r = await op.delete(f"/charge-points/{cp_id}/display-messages/12345")
            assert r.json()["status"] == "Unknown"

            r = await op.post(
                f"/charge-points/{cp_id}/display-messages",
                json={
                    "content": "x",
                    "starts_at": "2026-12-07T12:00:00Z",
                    "ends_at": "2026-12-07T11:00:00Z",
                },
            )
            assert_error(r, 422, "invalid_input", "ends_at")
            r = await op.post(f"/charge-points/{cp_id}/display-messages", json={"content": ""})
            assert_error(r, 422, "invalid_input", "content")


async def test_a_16_charger_has_no_display(system, tokens):
    cp_id = unique_id("DISP16")
    async with as_role(system, tokens, "operator") as op:
        await register(op, cp_id)
        async with charger(system, cp_id, "ocpp1.6"):
            r = await op.post(f"/charge-points/{cp_id}/display-messages", json={"content": "hi"})
            assert_error(r, 409, "conflict", "1.6 has no display messages")
