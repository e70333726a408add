"""Every request-reply subject is declared once, with its request and reply models
(`shared.endpoints`), and each service answers exactly the endpoints declared for it."""

from __future__ import annotations

import json

import pytest

from cli import asyncapi
from shared import endpoints
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
