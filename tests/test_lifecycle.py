"""`sigecve up` with its embedded defaults, as a user runs it: the demo fleet charges, an
auto-registered charger is admitted, SIGTERM leaves no process behind, and the data is
still there after a restart."""

from __future__ import annotations

import psutil
import pytest
from ocpp.v16 import call

from sigecve.node_environment import serve_environment
from sigecve.ocpp.timestamps import now_timestamp
from tests.conftest import eventually, free_port, start_system, unique_id
from tests.test_system import charger

pytestmark = pytest.mark.system


def _still_running(procs: list[psutil.Process]) -> list[str]:
    alive = []
    for p in procs:
        try:
            if p.is_running() and p.status() != psutil.STATUS_ZOMBIE:
                alive.append(f"{p.pid} {' '.join(p.cmdline())[:120]}")
        except psutil.NoSuchProcess:
            pass
    return alive


async def test_embedded_defaults_demo_fleet_clean_stop_and_restart(tmp_path):
    var_dir, port = tmp_path / "var", free_port()
    system = start_system(var_dir, port, DEMO_CPS="2", SIGECVE_AUTO_REGISTER="true")
    try:
        assert (var_dir / "pg" / "PG_VERSION").exists()  # the embedded PostgreSQL's data
        assert f"admin_token={system.admin_token}" in system.ready_line
        assert f"mcp=http://127.0.0.1:{port}/mcp" in system.ready_line

        # A charger nobody registered is admitted because SIGECVE_AUTO_REGISTER=true.
        cp_id, tag = unique_id("AUTO"), "DEMO-TAG"
        async with charger(system, cp_id, password="its-own-password") as cp:
            await cp.boot()
            started = await cp.send(
                call.StartTransaction(
                    connector_id=1, id_tag=tag, meter_start=500, timestamp=now_timestamp()
                )
            )
            cp.energy_wh[1] = 2_000
            await cp.meter_values(1, started.transaction_id, 3_600)
            cp.energy_wh[1] = 7_500
            await cp.stop(1, started.transaction_id, "Local", tag)

        async def demo_transactions():
            async with system.api() as api:
                items = (await api.get("/transactions")).json()["items"]
            return [t for t in items if t["charge_point_id"].startswith("DEMO-")]

        await eventually(
            demo_transactions,
            within=180,
            interval=1,
            message="the demo fleet started no transaction",
        )

        ours = psutil.Process(system.process.pid).children(recursive=True)
        ours.append(psutil.Process(system.postmaster_pid))
        assert any("haproxy" in p.name() for p in ours), "the HAProxy ingress is not running"
        # Serve's replicas run our code on Serve's own event loop: the settings reach them.
        gateways = [p for p in ours if "OcppGateway" in " ".join(p.cmdline())]
        assert gateways, "no gateway replica among the system's processes"
        for gateway in gateways:
            env = gateway.environ()
            assert {n: env.get(n) for n in serve_environment({})} == serve_environment({})
    finally:
        exit_code = system.stop()
    assert exit_code == 0, "".join(system.output[-40:])
    assert _still_running(ours) == []

    restarted = start_system(var_dir, port)
    ours = psutil.Process(restarted.process.pid).children(recursive=True)
    ours.append(psutil.Process(restarted.postmaster_pid))
    try:
        assert restarted.admin_token == system.admin_token  # kept under var/
        async with restarted.api() as api:
            r = await api.get("/transactions", params={"charge_point_id": cp_id})
        assert r.status_code == 200, r.text
        (t,) = r.json()["items"]
        assert (t["meter_start_wh"], t["meter_stop_wh"], t["energy_wh"]) == (500, 7_500, 7_000)
        async with restarted.api() as api:
            cp = (await api.get(f"/charge-points/{cp_id}")).json()
        assert cp["connected"] is False and cp["vendor"] == "SIGEC-VE"
        # Without ANTHROPIC_API_KEY the assistant says so, and the rest works on.
        async with restarted.api() as api:
            r = await api.post("/assistant", json={"question": "how is the network?"})
        assert r.status_code == 409 and r.json()["error"]["code"] == "not_configured", r.text
        assert "ANTHROPIC_API_KEY" in r.json()["error"]["message"]
    finally:
        # As systemd stops a service: Ray's processes get the signal too and die first; the
        # database and the ingress must not be left behind.
        exit_code = restarted.stop(60, whole_group=True)
    assert exit_code == 0, "".join(restarted.output[-40:])
    assert _still_running(ours) == []
