"""`expertshare status --health`: is matching healthy, on one machine, without Prometheus.

Each service writes where it serves `/metrics` and `/healthz` (var/metrics/<service>.url,
`shared.metrics`); this reads them all and says, for a person: which services are ready, the
consumers' backlogs, the outboxes' lag, the dead letters, the proposals waiting for staff and the
last plan's quality and time. A service with no address or not answering is "not running".
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import httpx
from prometheus_client.parser import text_string_to_metric_families

from cli.supervisor import SERVICES
from shared.metrics import metrics_url_file

Samples = list[tuple[str, dict[str, str], float]]


def _scrape(url: str, timeout: float) -> tuple[str, Samples]:
    """(readiness, samples): readiness is "ready", "starting" or "not running"."""
    try:
        ready = httpx.get(f"{url}/healthz", timeout=timeout)
        text = httpx.get(f"{url}/metrics", timeout=timeout).text
    except httpx.HTTPError:
        return "not running", []
    samples = [(x.name, x.labels, x.value) for f in text_string_to_metric_families(text) for x in f.samples]
    return ("ready" if ready.status_code == 200 else "starting"), samples


def collect(timeout: float = 3.0) -> dict[str, Any]:
    """Everything `status --health` shows, as data (its --json)."""
    services: dict[str, dict[str, Any]] = {}
    every: dict[str, Samples] = {}
    for name in SERVICES:
        where = metrics_url_file(name)
        url = where.read_text().strip() if where.exists() else ""
        state, samples = _scrape(url, timeout) if url else ("not running", [])
        services[name] = {"state": state, "address": url}
        every[name] = samples
    return {"healthy": all(v["state"] == "ready" for v in services.values()), "services": services, **_figures(every)}


def _figures(every: dict[str, Samples]) -> dict[str, Any]:
    def one(service: str, name: str, default: float = 0.0) -> float:
        return next((v for n, _l, v in every.get(service, []) if n == name), default)

    consumers = []
    by_consumer: dict[tuple[str, str], dict[str, Any]] = defaultdict(dict)
    dead: list[dict[str, Any]] = []
    outbox = []
    for service, samples in every.items():
        for n, labels, v in samples:
            if n in (
                "expertshare_consumer_pending",
                "expertshare_consumer_ack_pending",
                "expertshare_consumer_redelivered",
            ):
                entry = by_consumer[(labels["stream"], labels["consumer"])]
                entry.update(service=service, stream=labels["stream"], consumer=labels["consumer"])
                entry[n.removeprefix("expertshare_consumer_")] = int(v)
            elif n == "expertshare_dead_letters_total" and v:
                dead.append({"service": labels["service"], "reason": labels["reason"], "count": int(v)})
        if any(n == "expertshare_outbox_backlog" for n, _l, _v in samples):  # the portal has no outbox
            outbox.append(
                {
                    "service": service,
                    "backlog": int(one(service, "expertshare_outbox_backlog")),
                    "oldest_s": round(one(service, "expertshare_outbox_oldest_seconds"), 1),
                }
            )
    consumers = sorted(by_consumer.values(), key=lambda c: (c["service"], c["consumer"]))
    plan = {
        "covered_weight": one("matcher", "expertshare_plan_covered_weight"),
        "upper_bound": one("matcher", "expertshare_plan_upper_bound"),
        "quality": one("matcher", "expertshare_plan_quality_ratio", 1.0),
        "optimal": bool(one("matcher", "expertshare_plan_optimal")),
        "seconds": one("matcher", "expertshare_plan_seconds"),
        "age_s": one("matcher", "expertshare_plan_age_seconds"),
        "made": any(n == "expertshare_plan_upper_bound" and v for n, _l, v in every.get("matcher", [])),
    }
    waiting = {
        "count": int(one("matcher", "expertshare_proposals_waiting")),
        "oldest_s": one("matcher", "expertshare_proposal_oldest_waiting_seconds"),
    }
    return {"consumers": consumers, "outbox": outbox, "dead_letters": dead, "plan": plan, "waiting": waiting}


def _ago(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def lines(h: dict[str, Any]) -> list[str]:
    """The report, one finding a line; what needs a person is said first on its line."""
    out = [
        f"{'healthy' if h['healthy'] else 'NOT HEALTHY'}: "
        f"{sum(v['state'] == 'ready' for v in h['services'].values())} of {len(h['services'])} services ready"
    ]
    for name, v in h["services"].items():
        out.append(f"  {name:<10} {v['state']:<12} {v['address'] and v['address'] + '/metrics'}".rstrip())
    backlog = [c for c in h["consumers"] if c.get("pending") or c.get("ack_pending") or c.get("redelivered")]
    drained = "all drained" if not backlog else f"{len(backlog)} with a backlog"
    out.append(f"consumers: {len(h['consumers'])}, {drained}")
    for c in backlog:
        out.append(
            f"  {c['service']}/{c['consumer']} ({c['stream']}): {c.get('pending', 0)} pending, "
            f"{c.get('ack_pending', 0)} unacknowledged, {c.get('redelivered', 0)} redelivered"
        )
    for o in h["outbox"]:
        lag = f", oldest {_ago(o['oldest_s'])}" if o["backlog"] else ""
        out.append(f"outbox {o['service']}: {o['backlog']} to publish{lag}")
    if h["dead_letters"]:
        for d in h["dead_letters"]:
            out.append(
                f"DEAD LETTERS {d['service']} ({d['reason']}): {d['count']} since it started "
                f"(kept in the DEADLETTER stream, subject deadletter.{d['service']})"
            )
    else:
        out.append("dead letters: none since the services started")
    w = h["waiting"]
    oldest = f", the oldest {_ago(w['oldest_s'])}" if w["count"] else ""
    out.append(f"proposals waiting for staff: {w['count']}{oldest}")
    p = h["plan"]
    if p["made"]:
        proven = "optimal" if p["optimal"] else "not proven optimal"
        out.append(
            f"last plan: {proven}, covers {p['covered_weight']:.0f} of a proven bound of "
            f"{p['upper_bound']:.0f} ({p['quality']:.0%}), solved in {p['seconds']:.1f} s, "
            f"{_ago(p['age_s'])} ago"
        )
    else:
        out.append("last plan: none yet")
    return out
