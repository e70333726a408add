"""Every request-reply subject is declared once, with its request and reply models
(`shared.endpoints`), and each service answers exactly the endpoints declared for it."""

from __future__ import annotations

import json

import pytest
from pydantic import BaseModel

from cli import asyncapi
from shared import endpoints, messages
from shared.messages import FieldError, Reply


@pytest.mark.parametrize("service", asyncapi.SERVICES)
def test_every_request_reply_subject_of_a_service_is_a_declared_endpoint(service: str) -> None:
    svc = asyncapi.built(service)
    answered = {e.subject for e in svc.endpoints}
    request_reply = {subject for subject, jetstream in asyncapi.listened_subjects(service) if not jetstream}
    assert answered == request_reply
    declared = {e.subject: e for e in endpoints.all_endpoints()} | {e.subject: e for e in [endpoints.health(service)]}
    for endpoint in svc.endpoints:
        assert declared[endpoint.subject] == endpoint, endpoint.subject
        assert endpoint.owner == service


@pytest.mark.parametrize("service", asyncapi.SERVICES)
def test_the_asyncapi_document_describes_every_reply(service: str) -> None:
    doc = json.loads(asyncapi.document(service))
    for endpoint in asyncapi.built(service).endpoints:
        (operation,) = [op for key, op in doc["operations"].items() if key.split(":")[0] == endpoint.subject]
        ref = operation["reply"]["messages"][0]["$ref"].rsplit("/", 1)[1]
        payload = doc["components"]["schemas"][doc["components"]["messages"][ref]["payload"]["$ref"].rsplit("/", 1)[1]]
        assert set(payload["properties"]) == set(Reply.model_fields)
        data = payload["properties"]["data"]["anyOf"][0]["$ref"].rsplit("/", 1)[1]
        assert data == endpoint.reply.__name__ and data in doc["components"]["schemas"]


def test_a_reply_model_travels_as_the_data_of_a_reply_and_is_read_back_as_itself() -> None:
    from shared import rpc

    wire = Reply.of(endpoints.Health(service="matcher")).model_dump_json()
    read = rpc.read(endpoints.health("matcher"), Reply.model_validate_json(wire))
    assert read == endpoints.Health(service="matcher")
    refusal = Reply.failure("not signed", FieldError(field="proof", message="not signed")).model_dump_json()
    with pytest.raises(rpc.Refused, match="^proof: not signed$"):
        rpc.read(endpoints.health("matcher"), Reply.model_validate_json(refusal))


def test_no_reply_is_an_untyped_dict_and_no_request_model_serves_two_subjects() -> None:
    """Every endpoint answers a reply model of its own fields (none takes keys it does not
    declare), and each subject has its own request model (one model once served the matcher's
    status, the contracts' status and the audit's check)."""
    every = endpoints.all_endpoints()
    assert {e.owner for e in every} == {"matcher", "contracts", "notifier", "portal"}
    for e in every:
        assert issubclass(e.reply, BaseModel) and e.reply.model_config.get("extra") != "allow", e.subject
        assert e.reply.model_fields or e.reply is messages.Done, e.subject
    requests = [e.request for e in every]
    assert [r.__name__ for r in requests if requests.count(r) > 1] == ["GetGaps", "GetGaps"], (
        "only the shortage's period is asked of two services alike"
    )


def test_a_bulk_submissions_answers_keep_the_keys_they_had() -> None:
    """A taken request is answered with its status, a refused one with its error and field: no
    key set to null where the untyped reply had none (stored replies are sent again as written)."""
    view = messages.SubmitResults(
        taken=1,
        refused=1,
        results=[
            messages.SubmitResult(id="r1", ok=True, status="open"),
            messages.SubmitResult(id="r2", ok=False, error="unknown unit 'x'", field="requests[1].unit"),
        ],
    )
    wire = json.loads(Reply.of(view).model_dump_json())["data"]
    assert wire["results"] == [
        {"id": "r1", "ok": True, "status": "open"},
        {"id": "r2", "ok": False, "error": "unknown unit 'x'", "field": "requests[1].unit"},
    ]
    assert messages.SubmitResults.model_validate(wire) == view


def test_a_reply_cut_to_fit_a_message_says_so_and_reads_back_as_its_model() -> None:
    from shared import rpc
    from shared.bus import fit_reply

    rows = [
        messages.NotificationView(
            id=str(i),
            kind="k",
            subject="s",
            body="x" * 8000,
            language="vi",
            created_at="2026-12-01",
            source_event_id="e",
        )
        for i in range(200)
    ]
    cut = fit_reply(Reply.of(messages.InboxView(unread=200, notifications=rows)))
    box = rpc.read(endpoints.INBOX, Reply.model_validate_json(cut.model_dump_json()))
    assert box.truncated and 0 < len(box.notifications) < 200 and box.unread == 200
    assert fit_reply(Reply.of(messages.MarkedRead(marked=1))).data == messages.MarkedRead(marked=1), "uncut: as it was"
