"""The printed prescription: print the consultation's active prescriptions as a PDF
(the clinic's header, the prescriber and their licence, the patient, the items, and a
verification code with its QR), and the public page where a pharmacy checks a code."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import Path, Query, Request
from fastapi.responses import HTMLResponse, Response

from clinicdesk.clinical.access import ClinicalRead, Prescribe
from clinicdesk.clinical.service import prescription_sheets
from clinicdesk.clinical.service.prescription_sheets import PrintedSheet
from clinicdesk.core.dates import format_local_date
from clinicdesk.core.errors import ClinicError
from clinicdesk.core.pages import all_or_nothing, flash, pages, redirect, render
from clinicdesk.core.pdf import html_to_pdf
from clinicdesk.core.qr import qr_data_uri
from clinicdesk.core.routing import APIRouter
from clinicdesk.core.runtime import SessionDep
from clinicdesk.core.templating import format_local_time

router = APIRouter(include_in_schema=False)
public = APIRouter(include_in_schema=False)

CodePath = Annotated[str, Path(max_length=40)]


def verify_url(request: Request, code: str) -> str:
    return f"{str(request.base_url).rstrip('/')}/rx/{code}"


def sheet_pdf_url(sheet_id: uuid.UUID) -> str:
    return f"/prescription-sheets/{sheet_id}.pdf"


async def _pdf(request: Request, printed: PrintedSheet) -> Response:
    link = verify_url(request, printed.sheet.code)
    context: dict[str, Any] = {
        "printed": printed,
        "issued": format_local_time(
            printed.sheet.issued_at, printed.time_zone, printed.date_format
        ),
        "born": format_local_date(printed.patient.birth_date, printed.date_format),
        "verify_url": link,
        "verify_page": link.rsplit("/", 1)[0],
        "qr": qr_data_uri(link, scale=3),
    }
    html = pages(request).env.get_template("clinical/prescription_sheet.html").render(context)
    day = printed.sheet.issued_at.date().isoformat()
    return Response(
        await html_to_pdf(html),
        media_type="application/pdf",
        headers={"Content-Disposition": f'inline; filename="prescription-{day}.pdf"'},
    )


@router.post("/encounters/{encounter_id}/prescription-sheets", response_class=HTMLResponse)
async def print_prescriptions(
    encounter_id: uuid.UUID, request: Request, session: SessionDep, actor: Prescribe
) -> Response:
    """Print (a new sheet, which replaces the consultation's earlier ones) and open it."""
    try:
        async with all_or_nothing(session):
            printed = await prescription_sheets.issue_sheet(
                session, actor=actor, encounter_id=encounter_id
            )
    except ClinicError as error:
        response = redirect(f"/encounters/{encounter_id}#section-prescriptions")
        flash(request, response, error.detail, "error")
        return response
    return redirect(sheet_pdf_url(printed.sheet.id))


@router.get("/prescription-sheets/{sheet_id}.pdf")
async def prescription_sheet_pdf(
    sheet_id: uuid.UUID, request: Request, session: SessionDep, actor: ClinicalRead
) -> Response:
    """The printed sheet again: the same paper, the same code."""
    printed = await prescription_sheets.get_sheet(session, actor=actor, sheet_id=sheet_id)
    return await _pdf(request, printed)


@public.get("/rx", response_class=HTMLResponse)
async def verify_form(
    request: Request, code: Annotated[str, Query(max_length=40)] = ""
) -> Response:
    """Where a pharmacist types the code printed on the sheet."""
    if code.strip():
        printed = prescription_sheets.normal_code(code)
        if printed is not None:
            return redirect(f"/rx/{printed}")
    error = "This is not a prescription code: 12 letters and digits." if code.strip() else None
    return render(request, "clinical/rx_verify.html", {"error": error, "result": None})


@public.get("/rx/{code}", response_class=HTMLResponse)
async def verify_code(code: CodePath, request: Request, session: SessionDep) -> Response:
    """Is this printed prescription valid? The minimal answer, for anyone with the code."""
    try:
        result = await prescription_sheets.verify(session, code=code)
    except ClinicError as error:
        return render(
            request,
            "clinical/rx_verify.html",
            {"error": error.detail, "result": None},
            status_code=error.status_code,
        )
    issued = format_local_time(result.issued_at, result.time_zone, result.date_format)
    return render(
        request, "clinical/rx_verify.html", {"error": None, "result": result, "issued": issued}
    )
