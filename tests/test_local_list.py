"""Versioned local authorisation lists against the simulated chargers of both generations: a
first update is full, later ones send what changed (a deleted tag as a removal), each charger's
sync state follows, and a charger holding another version is told apart and healed by a
full update. The simulators keep their lists as the spec has a charger do."""

from __future__ import annotations

import pytest

from tests.conftest import unique_id
from tests.test_rest_api import as_role, assert_error, charger, register


def _listed(station, protocol: str) -> dict[str, str]:
    """The simulated charger's list: tag -> status."""
    return {tag: info["status"] for tag, info in station.local_list.items()}


@pytest.mark.parametrize("protocol", ["ocpp1.6", "ocpp2.0.1"])
async def test_a_chargers_local_list_is_sent_whole_then_by_changes(system, tokens, protocol):
    cp_id = unique_id("LL")
    gone, blocked, added = (unique_id("LLT")[:20] for _ in range(3))
    async with as_role(system, tokens, "operator") as op:
        await register(op, cp_id)
        for tag in (gone, blocked):
            assert (await op.post("/id-tags", json={"id_tag": tag})).status_code == 201
        async with charger(system, cp_id, protocol) as station:
            sync = (await op.get(f"/charge-points/{cp_id}/local-list")).json()
            assert sync["state"] == "never synced" and sync["pending_changes"] >= 2

            # Never synced: a differential update is sent full.
            r = await op.post(f"/charge-points/{cp_id}/local-list", json={"update": "differential"})
            assert r.status_code == 200, r.text
            first = r.json()
            assert (first["update_type"], first["sync"]["version"]) == ("Full", 1)
            assert first["sync"]["state"] == "in sync" and first["sync"]["pending_changes"] == 0
            assert station.local_list_version == 1
            assert _listed(station, protocol)[gone] == "Accepted"

            # Changes since: one tag blocked, one deleted, one added.
            r = await op.patch(f"/id-tags/{blocked}", json={"status": "Blocked"})
            assert r.status_code == 200, r.text
            assert (await op.delete(f"/id-tags/{gone}")).status_code == 204
            assert (await op.post("/id-tags", json={"id_tag": added})).status_code == 201
            sync = (await op.get(f"/charge-points/{cp_id}/local-list")).json()
            assert (sync["state"], sync["pending_changes"]) == ("behind", 3)
            r = await op.post(f"/charge-points/{cp_id}/local-list", json={})
            assert r.status_code == 200, r.text
            second = r.json()
            assert (second["update_type"], second["entries"], second["sync"]["version"]) == (
                "Differential",
                3,
                2,
            )
            listed = _listed(station, protocol)
            assert gone not in listed and listed[blocked] == "Blocked"
            assert listed[added] == "Accepted"

            # The charger holds a list from elsewhere (a newer version): refused, shown, and
            # healed by a full update.
            station.local_list_version = 7
            r = await op.post(f"/charge-points/{cp_id}/local-list", json={})
            assert_error(r, 409, "conflict", "VersionMismatch", "full")
            sync = (await op.get(f"/charge-points/{cp_id}/local-list")).json()
            assert (sync["state"], sync["last_status"], sync["version"]) == (
                "mismatch",
                "VersionMismatch",
                2,
            )
            checked = (await op.post(f"/charge-points/{cp_id}/local-list/check")).json()
            assert checked["charger_version"] == 7 and checked["state"] == "mismatch"
            r = await op.post(f"/charge-points/{cp_id}/local-list", json={"update": "full"})
            assert r.status_code == 200, r.text
            assert r.json()["sync"]["state"] == "in sync"
            assert station.local_list_version == r.json()["sync"]["version"] == 3
            assert gone not in _listed(station, protocol)

        r = await op.post(f"/charge-points/{cp_id}/local-list", json={"update": "sometimes"})
        assert_error(r, 422, "invalid_input", "update")
        r = await op.post(f"/charge-points/{cp_id}/local-list", json={})
        assert_error(r, 409, "not_connected")
