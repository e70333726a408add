"""The committed production observability (deploy/): the dashboard parses and reads only metrics
that exist, the alert rules are valid (`promtool check rules` when promtool is installed, Debian's
`prometheus` package; else their shape is checked here) and fire when they should, and Prometheus
scrapes every service and every NATS node. The e2e test `test_metrics` checks that each metric
of ours the dashboard and the rules read is one a running service exports."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from shared.streams import DEADLETTER
from tests.observability import (
    ALERTS,
    NATS_EXPORTER,
    PROMETHEUS,
    alert_rules,
    dashboard,
    dashboard_exprs,
    metric_names,
    queried,
)

OURS = ("expertshare_", "faststream_", "http_request")
# On PATH, or where `make promtool` puts it (beside this interpreter).
PROMTOOL = shutil.which("promtool") or shutil.which("promtool", path=str(Path(sys.executable).parent))


def test_metric_names_are_read_from_promql() -> None:
    assert metric_names('sum by (service, reason) (increase(expertshare_dead_letters_total{x="a b"}[15m])) > 0') == {
        "expertshare_dead_letters_total"
    }
    assert metric_names("histogram_quantile(0.95, sum by (le) (rate(a_bucket[5m]))) / b") == {"a_bucket", "b"}
    assert metric_names('expertshare_ready == 0 or up{job="expertshare"} == 0') == {"expertshare_ready", "up"}


def test_the_dashboard_parses_and_reads_only_metrics_that_exist() -> None:
    dash = dashboard()
    assert dash["uid"] == "expertshare" and dash["panels"]
    for panel in dash["panels"]:
        if panel["type"] == "row":
            continue
        assert panel["datasource"]["uid"] == "prometheus", panel["title"]
        assert panel["targets"] and all(t["expr"].strip() for t in panel["targets"]), panel["title"]
    names = {n for e in dashboard_exprs() for n in metric_names(e)}
    foreign = {n for n in names if not n.startswith(OURS)}
    assert foreign <= NATS_EXPORTER, f"not exported by anything deployed: {sorted(foreign - NATS_EXPORTER)}"
    # what the issue asks the dashboard to show
    for needed in (
        "expertshare_requests",
        "expertshare_plan_covered_weight",
        "expertshare_proposals_waiting",
        "expertshare_notifications_sent_total",
        "jetstream_consumer_num_pending",
        "jetstream_consumer_num_redelivered",
        "expertshare_dead_letters_total",
    ):
        assert needed in names, f"the dashboard does not show {needed}"
    assert any(DEADLETTER in e for e in dashboard_exprs())


def test_the_alert_rules_cover_what_needs_a_person_and_are_well_formed() -> None:
    rules = {r["alert"]: r for r in alert_rules()}
    assert {"ProposalsWaitingTooLong", "ConsumerNotDraining", "DeadLettersArriving", "ServiceNotReady"} <= set(rules)
    assert "86400" in rules["ProposalsWaitingTooLong"]["expr"], "more than a day"
    for name, rule in rules.items():
        assert rule["labels"]["severity"] in ("warning", "critical"), name
        assert rule["annotations"]["summary"] and rule["annotations"]["description"], name
        assert metric_names(rule["expr"]), name
    assert {n for n in queried() if not n.startswith(OURS)} <= NATS_EXPORTER


def test_prometheus_scrapes_every_service_and_every_nats_node() -> None:
    conf = yaml.safe_load(PROMETHEUS.read_text())
    jobs = {j["job_name"]: j for j in conf["scrape_configs"]}
    found = {n for sd in jobs["expertshare"]["dns_sd_configs"] for n in sd["names"]}
    assert found == {"matcher", "contracts", "notifier", "portal"}
    assert all(sd["port"] == 9464 for sd in jobs["expertshare"]["dns_sd_configs"])
    assert jobs["nats"]["static_configs"][0]["targets"] == [f"nats-{i}:7777" for i in (1, 2, 3)]
    compose = yaml.safe_load((PROMETHEUS.parents[2] / "compose.yaml").read_text())["services"]
    for name in found:
        env = compose[name]["environment"]
        assert env[f"{name.upper()}_METRICS_PORT"] == "9464" and env[f"{name.upper()}_METRICS_HOST"] == "0.0.0.0"
    for i in (1, 2, 3):
        assert compose[f"nats-exporter-{i}"]["network_mode"] == f"service:nats-{i}"


@pytest.mark.skipif(PROMTOOL is None, reason="promtool is not installed (`make promtool`)")
def test_promtool_accepts_the_rules_and_the_config_and_the_alerts_fire(tmp_path: Path) -> None:
    assert subprocess.run([PROMTOOL, "check", "rules", str(ALERTS)], capture_output=True, text=True).returncode == 0
    shutil.copy(PROMETHEUS, tmp_path / "prometheus.yml")
    shutil.copy(ALERTS, tmp_path / "alerts.yml")
    checked = subprocess.run(
        [PROMTOOL, "check", "config", str(tmp_path / "prometheus.yml")], capture_output=True, text=True
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    # When each fires, by its expression, `for` and labels (promtool compares the annotations
    # too, whose wording is for people: left out of the copy the test runs).
    rules = yaml.safe_load(ALERTS.read_text())
    for group in rules["groups"]:
        for rule in group["rules"]:
            rule.pop("annotations")
    (tmp_path / "bare.yml").write_text(yaml.safe_dump(rules))
    (tmp_path / "alerts_test.yml").write_text(
        yaml.safe_dump(
            {
                "rule_files": ["bare.yml"],
                "evaluation_interval": "1m",
                "tests": [
                    {
                        "interval": "1m",
                        "input_series": [
                            {"series": "expertshare_proposal_oldest_waiting_seconds", "values": "86000+60x60"},
                            {
                                "series": 'expertshare_dead_letters_total{service="matcher",reason="invalid"}',
                                "values": "0 0 1 1",
                            },
                            {
                                "series": (
                                    'expertshare_ready{service="notifier",instance="notifier:9464",job="expertshare"}'
                                ),
                                "values": "1 0 0 0 0",
                            },
                        ],
                        "alert_rule_test": [
                            {"eval_time": "5m", "alertname": "ProposalsWaitingTooLong", "exp_alerts": []},
                            {
                                "eval_time": "30m",
                                "alertname": "ProposalsWaitingTooLong",
                                "exp_alerts": [{"exp_labels": {"severity": "warning"}}],
                            },
                            {
                                "eval_time": "3m",
                                "alertname": "DeadLettersArriving",
                                "exp_alerts": [
                                    {"exp_labels": {"severity": "warning", "service": "matcher", "reason": "invalid"}}
                                ],
                            },
                            {
                                "eval_time": "4m",
                                "alertname": "ServiceNotReady",
                                "exp_alerts": [
                                    {
                                        "exp_labels": {
                                            "severity": "critical",
                                            "service": "notifier",
                                            "instance": "notifier:9464",
                                            "job": "expertshare",
                                        }
                                    }
                                ],
                            },
                        ],
                    }
                ],
            }
        )
    )
    tested = subprocess.run(
        [PROMTOOL, "test", "rules", "alerts_test.yml"], cwd=tmp_path, capture_output=True, text=True
    )
    assert tested.returncode == 0, tested.stdout + tested.stderr
