"""Network faults as the rules that make them (pure): nftables rulesets for a partition and
for packet loss, `tc` token-bucket arguments for a slow link.

A node's faults live in one nftables table of its own namespace, so healing is deleting
that table; loopback is never touched (a node's own processes keep talking to each other,
as on a machine whose cable was pulled).
"""

from __future__ import annotations

import re

TABLE = "sgvlab"
_RATE = re.compile(r"^(\d+(?:\.\d+)?)(bit|kbit|mbit|gbit|bps|kbps|mbps|gbps)$")
_BITS_PER_UNIT = {
    "bit": 1,
    "kbit": 1e3,
    "mbit": 1e6,
    "gbit": 1e9,
    "bps": 8,
    "kbps": 8e3,
    "mbps": 8e6,
    "gbps": 8e9,
}
QUEUE_LATENCY = "200ms"  # how long a packet may wait in the slow link's queue before drop


def _table(input_rule: str, output_rule: str) -> str:
    return f"""table inet {TABLE} {{
    chain input {{
        type filter hook input priority 0; policy accept;
        {input_rule}
    }}
    chain output {{
        type filter hook output priority 0; policy accept;
        {output_rule}
    }}
}}
"""


def partition_ruleset() -> str:
    """Every packet in or out dropped, but loopback's: the node is cut off from the other
    nodes, the database and the chargers, without a reset or an ICMP error (a pulled cable)."""
    return _table('iif "lo" accept\n        drop', 'oif "lo" accept\n        drop')


def loss_ruleset(percent: float) -> str:
    """Each packet in and each packet out dropped with probability `percent` %."""
    if not 0 < percent <= 100:
        raise ValueError(f"loss is a percentage above 0 and at most 100, not {percent:g}")
    if percent != int(percent):
        raise ValueError(f"loss is a whole percentage, not {percent:g}")
    n = int(percent)
    return _table(
        f'iif != "lo" numgen random mod 100 < {n} drop',
        f'oif != "lo" numgen random mod 100 < {n} drop',
    )


def rate_bits_per_s(rate: str) -> float:
    """`tc`'s rate syntax (`1mbit`, `500kbit`, `2mbps`): bits a second."""
    match = _RATE.match(rate.strip().lower())
    if match is None:
        raise ValueError(
            f"not a rate: {rate!r} (a number and one of {', '.join(_BITS_PER_UNIT)}, "
            "as tc writes it: 1mbit, 500kbit)"
        )
    bits = float(match.group(1)) * _BITS_PER_UNIT[match.group(2)]
    if bits < 8_000:
        raise ValueError(f"a rate under 8kbit cannot carry a WebSocket frame: {rate!r}")
    return bits


def slow_qdisc(rate: str) -> list[str]:
    """`tc qdisc add dev D root ...`'s tail for a token bucket at `rate`: a bucket of a
    hundredth of a second's bytes (at least a few frames), and a queue of QUEUE_LATENCY."""
    bits = rate_bits_per_s(rate)
    burst = max(15_000, int(bits / 8 / 100))
    return ["tbf", "rate", f"{int(bits)}bit", "burst", str(burst), "latency", QUEUE_LATENCY]
