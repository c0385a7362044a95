"""Test data built in one place."""

from storage.dossiers import DossierRow

CODE = "000.00.37.H37-250804-0012"
KEY = "0000037H372508040012"


def dossier_row(**changes: object) -> DossierRow:
    """A dossier of Xã Hữu Lũng received on 4 August 2025, due on the 6th, being processed; override any field."""
    base = DossierRow(
        code_key=KEY,
        code=CODE,
        procedure_code=None,
        procedure_name="Đăng ký khai sinh",
        commune_code="06385",
        received_at="2025-08-04 01:30:00",
        due_at="2025-08-06 10:00:00",
        status=4,
        finished_at=None,
        returned_at=None,
        channel=1,
        applicant="Hoàng Thị Bích",
    )
    return base._replace(**changes)  # type: ignore[arg-type]
