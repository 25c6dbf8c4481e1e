"""Parse a bulk user import (CSV or Excel .xlsx) into rows, with a per-row report.

Columns (header row, case-insensitive, in any order): ``address`` (required),
``display_name``, ``password`` (blank = a random one is generated and reported once),
``quota_mb``, ``role``. Chinese header names exported by common HR systems are accepted as
aliases through the catalogue-free map :data:`HEADER_ALIASES` (Unicode escapes: no CJK literals
in source).

Invariants: parsing never touches the store and never raises for a bad row: each row becomes an
:class:`ImportRow` carrying either values or a catalogue key of its problem, so the report
names every row. Files are bounded (:data:`MAX_ROWS`, :data:`MAX_BYTES`); .xlsx is opened
read-only with openpyxl (no formulas evaluated, no macros).
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass

from rongmail.errors import ValidationError

MAX_ROWS = 5000
MAX_BYTES = 10 * 1024 * 1024

HEADER_ALIASES = {
    "address": "address", "email": "address", "e-mail": "address", "mail": "address",
    "\u90ae\u7bb1": "address", "\u90ae\u4ef6\u5730\u5740": "address",  # 邮箱, 邮件地址
    "display_name": "display_name", "name": "display_name",
    "\u59d3\u540d": "display_name",  # 姓名
    "password": "password", "\u5bc6\u7801": "password",  # 密码
    "quota_mb": "quota_mb", "quota": "quota_mb", "\u5bb9\u91cf": "quota_mb",  # 容量
    "role": "role", "\u89d2\u8272": "role",  # 角色
}


@dataclass(frozen=True, slots=True)
class ImportRow:
    line: int  # 1-based line in the file (the header is line 1)
    address: str = ""
    display_name: str = ""
    password: str = ""
    quota_mb: int = 0
    role: str = "user"
    #: catalogue key of the parse problem ("" when the row parsed)
    problem: str = ""


def _cells_to_rows(table: list[list[str]]) -> list[ImportRow]:
    if not table:
        raise ValidationError("admin.import.empty")
    header = [HEADER_ALIASES.get(h.strip().lower(), "") for h in table[0]]
    if "address" not in header:
        raise ValidationError("admin.import.no_address_column")
    if len(table) - 1 > MAX_ROWS:
        raise ValidationError("admin.import.too_many", limit=MAX_ROWS)
    out: list[ImportRow] = []
    for i, cells in enumerate(table[1:], start=2):
        rec = {h: (cells[j].strip() if j < len(cells) else "")
               for j, h in enumerate(header) if h}
        if not any(rec.values()):
            continue
        quota = rec.get("quota_mb", "") or "0"
        try:
            q = int(float(quota))
            if q < 0:
                raise ValueError
        except ValueError:
            out.append(ImportRow(i, rec.get("address", ""), problem="admin.import.bad_quota"))
            continue
        if not rec.get("address"):
            out.append(ImportRow(i, problem="admin.import.no_address"))
            continue
        out.append(ImportRow(i, rec["address"], rec.get("display_name", ""),
                             rec.get("password", ""), q, rec.get("role", "") or "user"))
    return out


def _cell(v: object) -> str:
    if v is None:
        return ""
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return str(v)


def parse_csv(data: bytes) -> list[ImportRow]:
    if len(data) > MAX_BYTES:
        raise ValidationError("admin.import.too_large")
    # Excel in China saves CSV as GB18030 (GBK) unless told otherwise; try UTF-8 (with BOM) first
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = data.decode("gb18030", "replace")
    return _cells_to_rows([row for row in csv.reader(io.StringIO(text))])


def parse_xlsx(data: bytes) -> list[ImportRow]:
    if len(data) > MAX_BYTES:
        raise ValidationError("admin.import.too_large")
    from openpyxl import load_workbook

    try:
        wb = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as e:  # openpyxl raises zipfile/KeyError/InvalidFileException variants
        raise ValidationError("admin.import.bad_file", detail=repr(e)) from None
    try:
        ws = wb.worksheets[0]
        table: list[list[str]] = []
        for row in ws.iter_rows(values_only=True):
            table.append([_cell(v) for v in row])
            if len(table) > MAX_ROWS + 1:
                break
    finally:
        wb.close()
    return _cells_to_rows(table)


def parse_upload(filename: str, data: bytes) -> list[ImportRow]:
    """Pick the parser by extension (or by the ZIP magic of .xlsx)."""
    if filename.lower().endswith(".xlsx") or data[:2] == b"PK":
        return parse_xlsx(data)
    return parse_csv(data)
