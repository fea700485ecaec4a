"""Security profile 2: TLS on the ingress (self-signed certificate) with HTTP Basic auth."""

from __future__ import annotations

import asyncio
import datetime as dt
import ipaddress
import random
import ssl

import httpx
import pytest
import websockets
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from sigecve.simulator.charge_point import (
    SimulatedChargePoint16,
    SimulationCounters,
    SimulationProfile,
    connect,
)
from tests.conftest import free_port, start_system, unique_id

pytestmark = pytest.mark.system


def self_signed_certificate(directory) -> tuple:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    certfile, keyfile = directory / "cert.pem", directory / "key.pem"
    certfile.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    keyfile.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return certfile, keyfile


async def test_wss_with_basic_auth_and_https_api(tmp_path):
    certfile, keyfile = self_signed_certificate(tmp_path)
    system = start_system(
        tmp_path / "var",
        free_port(),
        SIGECVE_TLS_CERTFILE=str(certfile),
        SIGECVE_TLS_KEYFILE=str(keyfile),
    )
    try:
        assert f"ocpp=wss://127.0.0.1:{system.port}/ocpp/" in system.ready_line
        assert f"api=https://127.0.0.1:{system.port}/api/v1" in system.ready_line
        trust = ssl.create_default_context(cafile=str(certfile))
        https = f"https://127.0.0.1:{system.port}/api/v1"
        headers = {"Authorization": f"Bearer {system.admin_token}"}
        async with httpx.AsyncClient(base_url=https, verify=trust, headers=headers) as api:
            assert (await api.get("/health")).status_code == 200
            cp_id = unique_id("TLS")
            r = await api.post("/charge-points", json={"id": cp_id, "password": "tls-password"})
            assert r.status_code == 201
        wss = f"wss://127.0.0.1:{system.port}/ocpp"
        ws = await connect(wss, cp_id, "tls-password", ssl=trust)
        cp = SimulatedChargePoint16(
            cp_id, ws, SimulationProfile(), SimulationCounters(), random.Random(1)
        )
        router = asyncio.create_task(cp.start())
        try:
            assert await cp.boot() == 300  # the heartbeat interval: a real OCPP exchange
        finally:
            router.cancel()
            await ws.close()
        with pytest.raises(websockets.InvalidStatus) as refused:  # profile 2 checks it too
            await connect(wss, cp_id, "wrong-password", ssl=trust)
        assert refused.value.response.status_code == 401
        with pytest.raises(ssl.SSLCertVerificationError):  # a charger that does not trust us
            await connect(wss, cp_id, "tls-password", ssl=ssl.create_default_context())
    finally:
        assert system.stop() == 0
