"""The `phucvu` command line: import-centres, configuration errors, and `python -m bot`."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from bot.cli import RedactingFormatter, main

ROOT = Path(__file__).resolve().parent.parent


def test_import_centres_reports_counts_and_bad_lines(
    tmp_path: Path, phucvu_db: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("PHUCVU_DB", phucvu_db)
    monkeypatch.delenv("TELEGRAM_BOT_TOKEN", raising=False)
    monkeypatch.chdir(tmp_path)
    csv = tmp_path / "centres.csv"
    csv.write_text("ma_xa,dien_thoai\n06385,0205 3825 001\n12345,0\n", encoding="utf-8")
    assert main(["import-centres", str(csv)]) == 1
    out, err = capsys.readouterr()
    assert "Đã cập nhật 1 trung tâm; bỏ qua 1 dòng." in out
    assert "dòng 3" in err
    assert main(["import-centres", str(tmp_path / "missing.csv")]) == 2


def test_import_procedures_reports_counts_bad_lines_and_is_idempotent(
    tmp_path: Path, phucvu_db: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("PHUCVU_DB", phucvu_db)
    monkeypatch.delenv("TELEGRAM_BOT_TOKEN", raising=False)
    monkeypatch.chdir(tmp_path)
    listing = tmp_path / "thu_tuc.csv"
    listing.write_text(
        "ma_thu_tuc,ten_thu_tuc,le_phi,co_quan_thuc_hien\n"
        "1.001193,Đăng ký khai sinh,Miễn lệ phí,UBND cấp xã\n"
        ",Không có mã,,\n",
        encoding="utf-8",
    )
    assert main(["import-procedures", str(listing)]) == 1
    out, err = capsys.readouterr()
    assert "Thủ tục: thêm mới 1, cập nhật 0, không đổi 0, bỏ qua 1." in out and "dòng 3" in err
    assert main(["import-procedures", str(listing)]) == 1
    assert "thêm mới 0, cập nhật 0, không đổi 1" in capsys.readouterr().out
    (tmp_path / "bad.csv").write_text("ten\nx\n", encoding="utf-8")
    assert main(["import-procedures", str(tmp_path / "bad.csv")]) == 2
    assert "Không nạp được" in capsys.readouterr().err


def test_a_bad_setting_is_named(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("PHUCVU_DIGEST_TIME", "7h")
    assert main(["import-centres", "x.csv"]) == 2
    assert "PHUCVU_DIGEST_TIME" in capsys.readouterr().err


def test_python_m_bot_prints_usage() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "bot", "--help"], cwd=ROOT, capture_output=True, text=True, check=False, timeout=60
    )
    assert result.returncode == 0
    for command in ("run", "console", "import-centres"):
        assert command in result.stdout


def test_the_token_is_masked_in_log_lines_and_tracebacks() -> None:
    import logging

    record = logging.LogRecord("httpx", logging.INFO, "", 0, "POST %s", ("https://x/bot123:SECRET/getMe",), None)
    assert "SECRET" not in RedactingFormatter("123:SECRET").format(record)
    try:
        raise RuntimeError("The token `123:SECRET` was rejected by the server.")
    except RuntimeError:
        import sys

        failed = logging.LogRecord("phucvu", logging.ERROR, "", 0, "stopped", (), sys.exc_info())
    text = RedactingFormatter("123:SECRET").format(failed)
    assert "was rejected" in text
    assert "SECRET" not in text
    zalo = logging.LogRecord("httpx", logging.INFO, "", 0, "POST %s", ("https://z/bot9:ZALOKEY/getUpdates",), None)
    assert "ZALOKEY" not in RedactingFormatter("", "9:ZALOKEY", "hook-secret").format(zalo)


def test_a_log_line_is_one_line_with_its_update_and_no_phone_number() -> None:
    import contextvars
    import logging
    import sys

    from bot.metrics import UPDATE

    def formatted() -> str:
        UPDATE.set("telegram:4242")
        try:
            raise ValueError("applicant 0912 345 678, also +84912345678 and 84 987.654.321")
        except ValueError:
            record = logging.LogRecord("bot", logging.ERROR, "", 0, "failed for %s", ("0362111222",), sys.exc_info())
        return RedactingFormatter("123:SECRET").format(record)

    text = contextvars.copy_context().run(formatted)
    assert "\n" not in text and "Traceback" in text and "\\n" in text  # the traceback folded into the line
    assert " [telegram:4242]: failed for <phone>" in text
    for digits in ("912 345 678", "912345678", "987.654.321", "362111222"):
        assert digits not in text
    outside = logging.LogRecord(
        "bot", logging.INFO, "", 0, "dossier 000.00.37.H37-250804-0012 at 20250804083000", (), None
    )
    plain = RedactingFormatter().format(outside)
    assert "[-]" in plain and "000.00.37.H37-250804-0012" in plain and "20250804083000" in plain  # not phones


def test_a_database_that_cannot_be_opened_ends_the_command(tmp_path: Path) -> None:
    bad = tmp_path / "not-a-database.db"
    bad.write_bytes(b"this is not sqlite" * 100)
    env = os.environ | {"PHUCVU_DB": str(bad), "PTB_TIMEDELTA": "true"}
    result = subprocess.run(
        [sys.executable, "-m", "bot", "import-centres", str(bad)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert result.returncode != 0
    assert "not a database" in result.stderr


def test_import_dossiers_prints_a_summary_and_is_idempotent(
    tmp_path: Path, phucvu_db: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("PHUCVU_DB", phucvu_db)
    monkeypatch.chdir(tmp_path)
    csv = tmp_path / "hoso.csv"
    csv.write_text(
        "ma_ho_so,ten_thu_tuc,ma_xa,ngay_tiep_nhan,ngay_hen_tra,trang_thai\n"
        "000.00.37.H37-250804-0001,Đăng ký khai sinh,06385,20250804080000,20250804170000,2\n"
        "000.00.37.H37-250804-0002,Chứng thực,06385,04/08/2025,,12\n",
        encoding="utf-8",
    )
    assert main(["import-dossiers", str(csv)]) == 1
    out, err = capsys.readouterr()
    assert "Thêm mới 1, cập nhật 0 (0 đổi trạng thái), không đổi 0, bỏ qua 1." in out
    assert "dòng 3: bỏ qua — trạng thái 12 không nằm trong 1–11" in err
    assert main(["import-dossiers", str(csv)]) == 1
    assert "Thêm mới 0, cập nhật 0 (0 đổi trạng thái), không đổi 1, bỏ qua 1." in capsys.readouterr().out
    empty = tmp_path / "empty.csv"
    empty.write_text("", encoding="utf-8")
    assert main(["import-dossiers", str(empty)]) == 2


def test_demo_data_fills_every_commune(
    tmp_path: Path, phucvu_db: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("PHUCVU_DB", phucvu_db)
    monkeypatch.chdir(tmp_path)
    assert main(["demo-data", "--days", "7", "--seed", "1"]) == 0
    assert "Hồ sơ mẫu: thêm mới" in capsys.readouterr().out
    assert main(["demo-data", "--days", "7", "--seed", "1"]) == 0
    assert "thêm mới 0, cập nhật 0" in capsys.readouterr().out
    real = tmp_path / "real.csv"
    real.write_text(
        "ma_ho_so,ten_thu_tuc,ma_xa,ngay_tiep_nhan,trang_thai\n000.00.37.H37-250804-0001,Khai sinh,06385,2025-08-04,2\n",
        encoding="utf-8",
    )
    assert main(["import-dossiers", str(real)]) == 0
    assert main(["demo-data"]) == 2
    assert "hồ sơ thật" in capsys.readouterr().err


def test_a_file_that_cannot_be_read_is_one_clear_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A CSV whose delimiter cannot be told, an empty or broken XLSX, an XML entity bomb: one line, exit 2."""
    import zipfile

    from openpyxl import Workbook

    monkeypatch.setenv("PHUCVU_DB", str(tmp_path / "cli.db"))
    monkeypatch.chdir(tmp_path)
    (tmp_path / "no-delimiter.csv").write_text("a b c\n1 2 3\n", encoding="utf-8")
    (tmp_path / "empty.xlsx").write_bytes(b"")
    (tmp_path / "broken.xlsx").write_bytes(b"PK\x03\x04 not a workbook")
    book = Workbook()
    book.active.append(["ma_ho_so", "ten_thu_tuc"])  # type: ignore[union-attr]
    book.save(tmp_path / "good.xlsx")
    bomb = '<!DOCTYPE x [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]>'
    with zipfile.ZipFile(tmp_path / "good.xlsx") as source, zipfile.ZipFile(tmp_path / "bomb.xlsx", "w") as target:
        for item in source.infolist():
            data = source.read(item.filename)
            if item.filename == "xl/worksheets/sheet1.xml":
                data = (bomb + data.decode().replace("ma_ho_so", "&b;")).encode()  # openpyxl writes no <?xml?>
            target.writestr(item, data)
    for name in ("no-delimiter.csv", "empty.xlsx", "broken.xlsx", "bomb.xlsx"):
        assert main(["import-dossiers", str(tmp_path / name)]) == 2, name
        err = capsys.readouterr().err.strip()
        assert err.startswith(f"Không nạp được {tmp_path / name}: ") and "Traceback" not in err, err
        assert len(err.splitlines()) == 1, err
        if name.endswith(".xlsx"):  # the bomb too: refused as no workbook (defusedxml), never expanded
            assert err.endswith("tệp .xlsx hỏng, rỗng hoặc không phải bảng tính Excel."), err


def test_roles_are_listed_filtered_and_revoked_from_the_command_line(
    tmp_path: Path, phucvu_db: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """`phucvu roles list [--commune X] [--role R]` and `phucvu roles revoke PERSON`, audited as `cli`, the person
    told through the outbox (issue 14: there was no way to revoke a role but `/vaitro`)."""
    import asyncio

    from bot.config import Settings
    from bot.people import Person
    from bot.roles import Role
    from bot.services import open_services

    monkeypatch.setenv("PHUCVU_DB", phucvu_db)
    monkeypatch.delenv("TELEGRAM_BOT_TOKEN", raising=False)
    monkeypatch.chdir(tmp_path)

    async def grant() -> None:
        services = await open_services(Settings.from_env(dotenv=None))
        try:
            for person, role, commune in [("101", Role.LEADER, None), ("102", Role.OFFICIAL, "06385")]:
                made = await services.roles.invite(role, commune, "cli", services.clock())
                await services.roles.redeem(Person("telegram", person), made.code, services.clock())
            made = await services.roles.invite(Role.OFFICIAL, "06076", "cli", services.clock())
            await services.roles.redeem(Person("zalo", "z9"), made.code, services.clock())
        finally:
            await services.db.close()

    async def audit_and_outbox() -> tuple[list[str], list[str]]:
        services = await open_services(Settings.from_env(dotenv=None))
        try:
            audit = [f"{row['actor']} {row['action']}" for row in await services.roles.repo.audit()]
            queued = [row[0] for row in await services.db.fetchall("SELECT kind FROM outbox")]
        finally:
            await services.db.close()
        return audit, queued

    asyncio.run(grant())
    assert main(["roles", "list"]) == 0
    out, err = capsys.readouterr()
    lines = out.splitlines()
    assert len(lines) == 3 and lines[0].startswith("telegram:101\tlãnh đạo tỉnh\ttừ ") and err == "3 người.\n"
    assert main(["roles", "list", "--commune", "Hữu Lũng"]) == 0
    assert capsys.readouterr().out.startswith("telegram:102\tcán bộ Xã Hữu Lũng\t")
    assert main(["roles", "list", "--role", "leader"]) == 0
    assert capsys.readouterr().out.count("\n") == 1
    assert main(["roles", "list", "--commune", "Không Có"]) == 2
    assert "Không xác định được" in capsys.readouterr().err
    assert main(["roles", "revoke", "telegram:102"]) == 0
    assert "Đã thu hồi quyền cán bộ Xã Hữu Lũng của telegram:102" in capsys.readouterr().out
    assert main(["roles", "revoke", "telegram:102"]) == 1
    assert "không giữ quyền nào" in capsys.readouterr().err
    assert main(["roles", "revoke", "102"]) == 2
    audit, queued = asyncio.run(audit_and_outbox())
    assert audit[-1] == "cli revoke" and audit.count("cli revoke") == 1
    assert queued == ["role_revoked"]  # the person is told when the bot runs


def test_digest_json_prints_the_figures(
    tmp_path: Path, phucvu_db: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import json

    monkeypatch.setenv("PHUCVU_DB", phucvu_db)
    monkeypatch.delenv("TELEGRAM_BOT_TOKEN", raising=False)
    monkeypatch.chdir(tmp_path)
    csv = tmp_path / "hoso.csv"
    csv.write_text(
        "ma_ho_so,ten_thu_tuc,ma_xa,ngay_tiep_nhan,ngay_hen_tra,trang_thai,kenh_nop\n"
        "000.00.37.H37-250803-0001,Đăng ký khai sinh,06385,20250803080000,20250805170000,2,2\n"
        "000.00.37.H37-250730-0002,Chứng thực,06385,30/07/2025 09:00,01/08/2025,4,1\n",
        encoding="utf-8",
    )
    assert main(["import-dossiers", str(csv)]) == 0
    capsys.readouterr()
    assert main(["digest", "--date", "2025-08-04", "--json"]) == 0
    figures = json.loads(capsys.readouterr().out)
    assert figures["date"] == "2025-08-04" and figures["period"] == {"start": "2025-08-01", "end": "2025-08-03"}
    assert len(figures["communes"]) == 65
    province = figures["province"]
    assert (province["received"], province["online"], province["overdue"]) == (1, 1, 1)
    [huu_lung] = [c for c in figures["communes"] if c["code"] == "06385"]
    assert huu_lung["name"] == "Xã Hữu Lũng" and (huu_lung["received"], huu_lung["overdue"]) == (1, 1)


def test_backup_copies_a_database_being_written_consistently(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """`phucvu backup` while another connection keeps writing (as the bot would): the copy is whole and passes
    SQLite's integrity check, holds every row committed before it began, and a restore is a file copy."""
    import sqlite3
    import threading

    live = tmp_path / "live.db"
    monkeypatch.setenv("PHUCVU_DB", str(live))
    monkeypatch.delenv("TELEGRAM_BOT_TOKEN", raising=False)
    monkeypatch.chdir(tmp_path)
    assert main(["demo-data", "--days", "20"]) == 0
    capsys.readouterr()
    before = sqlite3.connect(live).execute("SELECT count(*) FROM dossiers").fetchone()[0]
    stop = threading.Event()

    def write() -> None:  # the bot answering people meanwhile
        conn = sqlite3.connect(live, isolation_level=None, timeout=5)
        number = 0
        while not stop.is_set():
            number += 1
            conn.execute(
                "INSERT INTO people (channel, external_id, created_at, updated_at) VALUES ('telegram', ?, '', '')",
                (f"backup-{number}",),
            )
        conn.close()

    writer = threading.Thread(target=write)
    writer.start()
    try:
        assert main(["backup", str(tmp_path / "copy.db")]) == 0
    finally:
        stop.set()
        writer.join()
    out = capsys.readouterr().out
    assert "đã kiểm tra toàn vẹn" in out and "Khôi phục: dừng bot" in out
    copy = sqlite3.connect(tmp_path / "copy.db")
    assert copy.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert copy.execute("SELECT count(*) FROM dossiers").fetchone()[0] == before
    assert not (tmp_path / "copy.db.partial").exists()
    assert main(["backup", str(tmp_path / "copy.db")]) == 2  # never over an existing file
    assert "đã có" in capsys.readouterr().err
    monkeypatch.setenv("PHUCVU_DB", str(tmp_path / "copy.db"))  # restored: the bot's commands work on it
    assert main(["digest", "--json"]) == 0


def test_migrate_applies_the_pending_steps_once_and_says_where_the_database_stands(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("PHUCVU_DB", str(tmp_path / "deploy.db"))
    monkeypatch.chdir(tmp_path)
    assert main(["migrate"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("Đã nâng cấp ") and "(0001, 0002," in out
    assert main(["migrate"]) == 0
    assert "không có gì để nâng cấp" in capsys.readouterr().out


def test_migrate_on_postgresql_applies_every_step_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """`PHUCVU_DB=postgresql://…` and `phucvu migrate` on an empty database: every step, then nothing; the
    output names the server and the database, never the URL's password."""
    from tests.conftest import postgres_for_commands

    with postgres_for_commands(bare=True) as url:
        with_password = url.replace("postgres@", "postgres:not-a-real-password@", 1)  # trust auth ignores it
        monkeypatch.setenv("PHUCVU_DB", with_password)
        monkeypatch.chdir(tmp_path)
        assert main(["migrate"]) == 0
        out = capsys.readouterr().out
        assert out.startswith("Đã nâng cấp ") and "(0001, 0002," in out, out
        assert main(["migrate"]) == 0
        assert "không có gì để nâng cấp" in capsys.readouterr().out


def test_backup_on_postgresql_names_pg_dump(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("PHUCVU_DB", "postgresql://phucvu@127.0.0.1:5432/phucvu")
    assert main(["backup", str(tmp_path / "copy.dump")]) == 2
    err = capsys.readouterr().err
    assert "pg_dump" in err and "pg_restore" in err
    assert not (tmp_path / "copy.dump").exists()


def test_a_postgresql_database_that_does_not_answer_is_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("PHUCVU_DB", "postgresql://phucvu:secret-pw@127.0.0.1:9/phucvu")  # nothing listens on 9
    assert main(["migrate"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("Không mở được cơ sở dữ liệu PostgreSQL 127.0.0.1:9/phucvu: ") and "secret-pw" not in err


def test_copy_data_moves_a_province_to_postgresql_verified_and_safe_to_run_twice(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """`phucvu copy-data`: every table's rows and checksum match; the digest on PostgreSQL is the digest on SQLite;
    a second run copies nothing; a target that differs is refused until `--replace`; new ids follow the copied."""
    import asyncio
    import json

    from bot.config import Settings
    from tests.conftest import postgres_for_commands

    source = tmp_path / "province.db"
    monkeypatch.setenv("PHUCVU_DB", str(source))
    monkeypatch.delenv("TELEGRAM_BOT_TOKEN", raising=False)
    monkeypatch.chdir(tmp_path)
    assert main(["demo-data", "--days", "10", "--seed", "3"]) == 0
    assert main(["invite", "leader"]) == 0
    capsys.readouterr()
    assert main(["digest", "--date", "2025-08-04", "--json"]) == 0
    on_sqlite = json.loads(capsys.readouterr().out)

    with postgres_for_commands(bare=True) as url:
        args = ["copy-data", "--from", f"sqlite:///{source}", "--to", url]
        assert main(args) == 0
        out = capsys.readouterr().out
        rows = {line.split("\t")[0]: int(line.split("\t")[1].split()[0]) for line in out.splitlines() if "\t" in line}
        assert rows["dossiers"] > 100 and rows["communes"] == 65 and rows["invites"] == 1, out
        assert "số dòng và tổng kiểm khớp từng bảng" in out

        monkeypatch.setenv("PHUCVU_DB", url)
        assert main(["digest", "--date", "2025-08-04", "--json"]) == 0
        assert json.loads(capsys.readouterr().out) == on_sqlite

        assert main(args) == 0
        assert "không chép lại gì" in capsys.readouterr().out

        monkeypatch.setenv("PHUCVU_DB", str(source))  # the province kept working on SQLite meanwhile
        listing = tmp_path / "late.csv"
        listing.write_text(
            "ma_ho_so,ten_thu_tuc,ma_xa,ngay_tiep_nhan,trang_thai\n"
            "000.00.37.H37-250804-9999,Khai sinh,06385,2025-08-04,2\n",
            encoding="utf-8",
        )
        assert main(["import-dossiers", str(listing)]) == 0
        capsys.readouterr()
        assert main(args) == 1
        err = capsys.readouterr().err
        assert "dossiers" in err and "--replace" in err
        assert main([*args, "--replace"]) == 0
        capsys.readouterr()

        monkeypatch.setenv("PHUCVU_DB", url)  # the bot on PostgreSQL from now: new ids follow the copied ones
        listing.write_text(
            "ma_ho_so,ten_thu_tuc,ma_xa,ngay_tiep_nhan,trang_thai\n"
            "000.00.37.H37-250804-9998,Khai sinh,06385,2025-08-04,2\n",
            encoding="utf-8",
        )
        assert main(["import-dossiers", str(listing)]) == 0
        assert main(["digest", "--date", "2025-08-05", "--json"]) == 0
        assert capsys.readouterr().out.count("Thêm mới 1,") == 1

        async def on_postgres() -> int:
            from bot.services import open_services

            services = await open_services(Settings(database_url=url))
            try:
                return await services.dossiers.repo.count()
            finally:
                await services.db.close()

        assert asyncio.run(on_postgres()) == rows["dossiers"] + 2


def test_copy_data_refuses_what_it_cannot_copy(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["copy-data", "--from", "sqlite:///missing.db", "--to", "postgresql://x@127.0.0.1/phucvu"]) == 2
    assert "Không có cơ sở dữ liệu nguồn missing.db" in capsys.readouterr().err
    assert main(["copy-data", "--from", "a.db", "--to", "sqlite:///b.db"]) == 2
    assert "sang PostgreSQL" in capsys.readouterr().err
    assert main(["copy-data", "--from", "sqlite://a.db", "--to", "postgresql://x@127.0.0.1/phucvu"]) == 2
    assert "--from" in capsys.readouterr().err
