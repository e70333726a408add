"""Issue 15: an unknown URL and a crash get a Vietnamese page (JSON under /api), compressed
when the client accepts it. The app is built without starting it: no service is asked."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

from services.portal.app import create_app
from services.portal.settings import PortalSettings


def _client(tmp_path: Path) -> TestClient:
    app = create_app(
        PortalSettings(
            nats_url="nats://127.0.0.1:1", database_url=f"sqlite:///{tmp_path / 'p.db'}", secret_key="k" * 32
        )
    )

    @app.get("/hong")
    async def broken() -> None:
        raise RuntimeError("a bug")

    @app.get("/api/v1/hong")
    async def broken_api() -> None:
        raise RuntimeError("a bug")

    return TestClient(app, raise_server_exceptions=False)


def test_unknown_urls_and_crashes_answer_in_vietnamese(tmp_path: Path) -> None:
    http = _client(tmp_path)
    missing = http.get("/khong-co-trang-nay")
    assert missing.status_code == 404 and missing.headers["content-type"].startswith("text/html")
    assert "Không tìm thấy trang này" in missing.text and "Not Found" not in missing.text
    assert http.get("/api/v1/khong-co").json() == {"detail": "Not Found"}
    crash = http.get("/hong")
    assert crash.status_code == 500 and "Hệ thống gặp lỗi" in crash.text and "a bug" not in crash.text
    assert "Content-Security-Policy" in crash.headers
    assert http.get("/api/v1/hong").json() == {"detail": "internal error"}
    assert http.get("/hong", headers={"accept-language": "en-US"}).text.count("Something went wrong") == 1


def test_the_style_is_compressed_when_the_client_accepts_it(tmp_path: Path) -> None:
    http = _client(tmp_path)
    style = http.get("/static/style.css", headers={"accept-encoding": "gzip"})
    assert style.headers.get("content-encoding") == "gzip"
    assert "max-width:40em" in style.text, "tables become stacked cards on a phone"
