"""SIGEC-VE on a Ray cluster: deployed by `serve deploy serve_config.yaml` (the file shipped
at the repository's root) on a two-node cluster, every setting from the nodes' environment;
and the cluster launcher configs shipped beside it."""

from __future__ import annotations

import asyncio
import secrets
import subprocess
import sys
from pathlib import Path

import httpx
import yaml
from ray.autoscaler._private.util import prepare_config, validate_config

from sigecve.node_environment import ingress_behaviour, serve_environment
from sigecve.ports import free_listening_port
from tests.conftest import eventually, unique_id
from tests.ray_cluster import LocalCluster
from tests.test_reconnection import open_client
from tests.test_system import register

SERVE = str(Path(sys.executable).with_name("serve"))
ROOT = Path(__file__).resolve().parent.parent


async def test_serve_deploy_of_the_shipped_config_serves_chargers_and_operators(
    database_url, tmp_path
):
    admin_token = "sgv_test_" + secrets.token_hex(16)
    port = free_listening_port()
    config = yaml.safe_load((ROOT / "serve_config.yaml").read_text())
    # Both nodes are on one machine: one ingress, on the head, on a port of the test's own.
    config["proxy_location"] = "HeadOnly"
    config["http_options"] = {"host": "127.0.0.1", "port": port}
    config_file = tmp_path / "serve_config.yaml"
    config_file.write_text(yaml.safe_dump(config))
    cluster = LocalCluster(
        workers=1,
        dashboard=True,
        node_env={
            "DATABASE_URL": database_url,
            "SIGECVE_ADMIN_TOKEN": admin_token,
            "SIGECVE_PORT": str(port),
            "SIGECVE_ML_BOOTSTRAP_MODEL": "false",
        },
    )
    try:
        deployed = await asyncio.to_thread(
            subprocess.run,
            [SERVE, "deploy", str(config_file), "--address", cluster.dashboard_url],
            env=cluster.env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert deployed.returncode == 0, deployed.stdout + deployed.stderr
        headers = {"Authorization": f"Bearer {admin_token}"}
        base = f"http://127.0.0.1:{port}"

        async def healthy() -> bool:
            async with httpx.AsyncClient(timeout=10) as http:
                try:
                    r = await http.get(f"{base}/api/v1/health", headers=headers)
                except httpx.TransportError:
                    return False
                return r.status_code == 200

        await eventually(healthy, within=180, interval=1, message="never healthy")
        assert cluster.workers[0].count("ray::ChargePointHost") == 1

        class Reachable:  # what tests.test_system.register and open_client need of a system
            http = base
            ocpp_url = f"ws://127.0.0.1:{port}/ocpp"

            def api(self, token=None):
                return httpx.AsyncClient(base_url=f"{base}/api/v1", headers=headers, timeout=60)

        system = Reachable()
        cp_id = unique_id("SERVE")
        await register(system, cp_id)
        client = await open_client(system, cp_id)
        await client.cp.boot()
        async with system.api() as api:
            r = await api.get(f"/charge-points/{cp_id}")
            assert r.status_code == 200 and r.json()["connected"] is True, r.text
        await client.close()
    finally:
        cluster.stop()


def test_the_cluster_launcher_configs_are_what_ray_up_accepts():
    """Ray's own schema check (what `ray up` runs first), and the settings the cluster needs
    on every node: token authentication and the HAProxy ingress; the head runs `sigecve up`
    joined to the cluster."""
    for name in ("cluster.yaml", "cluster-aws.yaml"):
        config = yaml.safe_load((ROOT / name).read_text())
        validate_config(prepare_config(config))
        starts = config["head_start_ray_commands"] + config["worker_start_ray_commands"]
        for command in (c for c in starts if "ray start" in c):
            assert "RAY_AUTH_MODE=token" in command and "RAY_SERVE_ENABLE_HA_PROXY=1" in command
            for name, value in serve_environment({}).items():
                assert f"{name}={value}" in command
            # Connections outlive HAProxy's reloads, as `sigecve up` and the lab set them.
            behaviour = ingress_behaviour({})
            for name in ("RAY_SERVE_HAPROXY_HARD_STOP_AFTER_S", "RAY_SERVE_PORT_QUARANTINE_S"):
                assert f"{name}={behaviour[name]}" in command
        assert any("sigecve up --ray-address auto" in c for c in config["head_start_ray_commands"])
        assert "~/.ray/auth_token" in config["file_mounts"]
