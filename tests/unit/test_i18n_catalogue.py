"""The message catalogue: both locales hold the same keys and placeholders, and product code
holds no Chinese literals (they belong in the catalogue)."""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path

from rongmail.i18n import catalogue, normalize_locale, t

SRC = Path(__file__).resolve().parents[2] / "src" / "rongmail"
CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
_PH = re.compile(r"\{(\w+)\}")


def test_same_keys_and_placeholders() -> None:
    zh, en = catalogue("zh-CN"), catalogue("en")
    assert zh.keys() == en.keys()
    for k in zh:
        assert set(_PH.findall(zh[k])) == set(_PH.findall(en[k])), k


def test_lookup_and_fallbacks() -> None:
    assert t("auth.failed", "zh-CN") != t("auth.failed", "en")
    assert normalize_locale("zh_CN.UTF-8") == "zh-CN" and normalize_locale("de") == "en"
    assert t("no.such.key", "en") == "no.such.key"
    assert "x.toml" in t("config.invalid", "en", file="x.toml", key="k", problem="p")


def _docstring_nodes(tree: ast.AST) -> set[int]:
    ids = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            body = getattr(node, "body", [])
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                ids.add(id(body[0].value))
    return ids


def test_no_chinese_literals_in_product_code() -> None:
    """String literals (not docstrings or comments) with CJK text are user-facing text that
    must live in the catalogue."""
    offenders = []
    for p in SRC.rglob("*.py"):
        text = p.read_text(encoding="utf-8")
        if not CJK.search(text):
            continue  # every literal's source is a slice of ``text``: none can hold CJK
        tree = ast.parse(text)
        docs = _docstring_nodes(tree)
        for node in ast.walk(tree):
            if (isinstance(node, ast.Constant) and isinstance(node.value, str)
                    and id(node) not in docs
                    and CJK.search(ast.get_source_segment(text, node) or "")):
                offenders.append(f"{p.relative_to(SRC)}:{node.lineno}")
    assert offenders == [], "Chinese text belongs in src/rongmail/i18n/*.json: " + ", ".join(
        offenders[:20])


def test_catalogue_files_are_sorted_json() -> None:
    for name in ("zh-CN.json", "en.json"):
        data = json.loads((SRC / "i18n" / name).read_text(encoding="utf-8"))
        assert isinstance(data, dict) and data
