"""What the committed dashboard and alert rules query (deploy/), for the tests that check it."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
DASHBOARD = ROOT / "deploy" / "grafana" / "dashboards" / "expertshare.json"
ALERTS = ROOT / "deploy" / "prometheus" / "alerts.yml"
PROMETHEUS = ROOT / "deploy" / "prometheus" / "prometheus.yml"

#: What prometheus-nats-exporter serves with -varz -connz -routez -jsz=all (its jsz collector), and
#: Prometheus' own `up`: the metrics of the dashboard and the rules that no service of ours exports.
NATS_EXPORTER = frozenset(
    {
        "up",
        "jetstream_consumer_num_pending",
        "jetstream_consumer_num_ack_pending",
        "jetstream_consumer_num_redelivered",
        "jetstream_consumer_num_waiting",
        "jetstream_consumer_ack_floor_stream_seq",
        "jetstream_consumer_ack_floor_consumer_seq",
        "jetstream_consumer_delivered_stream_seq",
        "jetstream_consumer_delivered_consumer_seq",
        "jetstream_stream_total_messages",
        "jetstream_stream_total_bytes",
        "jetstream_stream_first_seq",
        "jetstream_stream_last_seq",
        "jetstream_stream_consumer_count",
        "gnatsd_varz_connections",
        "gnatsd_varz_in_msgs",
        "gnatsd_varz_out_msgs",
        "gnatsd_varz_slow_consumers",
    }
)

_KEYWORDS = frozenset(
    {
        "and",
        "or",
        "unless",
        "by",
        "without",
        "on",
        "ignoring",
        "group_left",
        "group_right",
        "bool",
        "offset",
        "inf",
        "nan",
    }
)


def metric_names(expr: str) -> set[str]:
    """The metric names a PromQL expression reads: identifiers that are neither functions,
    keywords, label names (inside `{}` or a `by (...)`), durations nor strings."""
    text = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)
    text = re.sub(r"\{[^}]*\}", "", text)
    text = re.sub(r"\[[^\]]*\]", "", text)
    text = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", "", text)
    names = set()
    for m in re.finditer(r"[A-Za-z_:][A-Za-z0-9_:]*", text):
        rest = text[m.end() :].lstrip()
        if rest.startswith("(") or m.group().lower() in _KEYWORDS:
            continue
        names.add(m.group())
    return names


def dashboard() -> dict[str, Any]:
    return json.loads(DASHBOARD.read_text())


def dashboard_exprs() -> list[str]:
    return [t["expr"] for p in dashboard()["panels"] for t in p.get("targets", [])]


def alert_rules() -> list[dict[str, Any]]:
    return [r for g in yaml.safe_load(ALERTS.read_text())["groups"] for r in g["rules"]]


def queried() -> set[str]:
    """Every metric the dashboard and the alert rules read."""
    return {n for e in [*dashboard_exprs(), *(r["expr"] for r in alert_rules())] for n in metric_names(e)}
