"""The AsyncAPI document of every service's subjects, generated from the code.

`python -m cli.asyncapi` rewrites docs/asyncapi/<service>.json; a test fails when a committed
document differs from what the code generates, so the documents never go stale.
"""

from __future__ import annotations

import importlib
import json
import sys
from pathlib import Path
from typing import Any

from faststream.specification import AsyncAPI

from shared.endpoints import Endpoint
from shared.messages import Reply

SERVICES = ("matcher", "contracts", "notifier")
DOCS = Path(__file__).resolve().parent.parent / "docs" / "asyncapi"


def built(service: str) -> Any:
    """The service as its composition root builds it, connected to nothing."""
    module = importlib.import_module(f"services.{service}.app")
    settings_mod = importlib.import_module(f"services.{service}.settings")
    settings_cls = next(
        v for k, v in vars(settings_mod).items() if k.endswith("Settings") and v.__module__ == settings_mod.__name__
    )
    return module.build(settings_cls(database_url="sqlite://", nats_url="nats://nats:4222"))


def listened_subjects(service: str) -> list[tuple[str, bool]]:
    """(subject, is_jetstream) for every subscriber the service registers."""
    return [
        (str(sub._resolved_subject_string), getattr(sub, "stream", None) is not None)
        for sub in built(service).broker.subscribers
    ]


def document(service: str) -> str:
    module = importlib.import_module(f"services.{service}.app")
    svc = built(service)
    spec = AsyncAPI(
        svc.broker,
        title=f"expertshare {service}",
        version="1",
        description=(module.__doc__ or "").strip().splitlines()[0],
    ).to_specification()
    doc = json.loads(spec.to_json())
    for endpoint in svc.endpoints:
        with_reply(doc, endpoint)
    return json.dumps(doc, indent=2, ensure_ascii=False, sort_keys=True) + "\n"


def with_reply(doc: dict[str, Any], endpoint: Endpoint[Any, Any]) -> None:
    """Describe what `endpoint` answers (FastStream documents only what a subscriber receives):
    the `Reply` envelope with its data as the endpoint's reply model, on the request's operation."""
    model = Reply[endpoint.reply]  # type: ignore[name-defined]
    name = f"Reply_{endpoint.reply.__name__}"
    schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
    schemas = doc.setdefault("components", {}).setdefault("schemas", {})
    for key, sub in schema.pop("$defs", {}).items():
        schemas.setdefault(key, sub)
    schema["title"] = name
    schemas[name] = schema
    messages = doc["components"].setdefault("messages", {})
    messages[name] = {"title": name, "payload": {"$ref": f"#/components/schemas/{name}"}}
    for key, operation in doc.get("operations", {}).items():
        if key.split(":")[0] == endpoint.subject:
            operation["reply"] = {
                "address": {"description": "the request's NATS reply subject", "location": "$message.header#/reply"},
                "messages": [{"$ref": f"#/components/messages/{name}"}],
            }


def main() -> int:
    DOCS.mkdir(parents=True, exist_ok=True)
    for service in SERVICES:
        (DOCS / f"{service}.json").write_text(document(service), encoding="utf-8")
        print(f"wrote {DOCS / f'{service}.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
