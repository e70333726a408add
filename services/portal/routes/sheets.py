"""Home-affairs staff: import the CSV sheets of units, experts and contracts (docs/sheets.md) by
upload (a new commune, its experts and their contracts can come in one import).

Read the same way as `expertshare sheets import` (shared.sheets): all or nothing. Every bad
row and column is listed beside the form and nothing is sent; sheets that read well go to the
contracts service as one registration, which it applies in one transaction or refuses whole.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from starlette.datastructures import UploadFile

from services.portal import vocabulary
from services.portal.auth import check_csrf
from services.portal.deps import StaffUser
from services.portal.users import User
from services.portal.web import render
from shared import sheets
from shared import subjects as s

router = APIRouter(include_in_schema=False)
KINDS = ("units", "experts", "contracts")
MAX_BYTES = 2_000_000  # a sheet of 5000 rows is well under this; more is not a sheet of ours


@router.get("/sheets", response_class=HTMLResponse)
async def sheets_form(request: Request, user: StaffUser) -> Response:
    return render(request, "sheets.html", user, errors=[], imported=None)


@router.post("/sheets", response_class=HTMLResponse)
async def sheets_upload(request: Request, user: StaffUser) -> Response:
    form = await request.form(max_part_size=MAX_BYTES)
    check_csrf(request, form)
    files, errors = await _files(form)
    imported = None
    if not errors:
        read = sheets.read_uploaded(files)
        errors = read.errors or await _send(request, read, user)
        if not errors:
            imported = {"units": len(read.units), "experts": len(read.experts), "contracts": len(read.contracts)}
    return render(request, "sheets.html", user, status_code=422 if errors else 200, errors=errors, imported=imported)


async def _files(form: Any) -> tuple[dict[str, tuple[str, bytes]], list[str]]:  # Said or str
    files: dict[str, tuple[str, bytes]] = {}
    errors: list[str] = []
    for kind in KINDS:
        upload = form.get(kind)
        if not isinstance(upload, UploadFile) or not upload.filename:
            continue
        content = await upload.read(MAX_BYTES + 1)
        if len(content) > MAX_BYTES:
            errors.append(
                vocabulary.Said(
                    f"{upload.filename}: lớn hơn {MAX_BYTES:,} byte".replace(",", "."),
                    f"{upload.filename}: larger than {MAX_BYTES:,} bytes",
                )
            )
        files[kind] = (upload.filename, content)
    if not files and not errors:
        errors.append(vocabulary.message("no_file"))
    return files, errors


async def _send(request: Request, read: sheets.Sheets, user: User) -> list[str]:
    """The registration's refusal, each field as the file, row and column it came from."""
    message = sheets.message(read, user.display_name or user.username)
    reply = await request.app.state.bus.command(user, s.REFERENCE_REGISTER, message)
    if reply.ok:
        return []
    if not reply.field_errors:
        why = vocabulary.service(reply.error or "")
        return [vocabulary.Said(f"Không nhập gì: {why}", f"nothing was imported: {reply.error}")]
    return [f"{sheets.field_to_cell(read, f.field) or f.field}: {f.message}" for f in reply.field_errors]
