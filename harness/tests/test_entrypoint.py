"""Build-time validation: what a person sees when the entry point is wrong."""

from __future__ import annotations

from pathlib import Path

import pytest

from blacklodge_harness.entrypoint import CallStyle, resolve
from blacklodge_harness.errors import EntryPointError

from conftest import APPS


def failure(spec: str, app_dir: Path = APPS) -> EntryPointError:
    with pytest.raises(EntryPointError) as info:
        resolve(spec, app_dir)
    return info.value


@pytest.mark.parametrize(
    ("spec", "kind", "style", "method"),
    [
        ("funcs:echo", "function", CallStyle.PAYLOAD, None),
        ("funcs:with_context", "function", CallStyle.PAYLOAD_CONTEXT, None),
        ("funcs:context_keyword", "function", CallStyle.PAYLOAD_CONTEXT_KEYWORD, None),
        ("funcs:run", "planqk-run", CallStyle.DATA_PARAMS, None),
        ("pkg.serving:handle", "function", CallStyle.PAYLOAD_CONTEXT, None),
        ("signatures:optional_threshold", "function", CallStyle.PAYLOAD, None),
        ("signatures:varargs", "function", CallStyle.PAYLOAD, None),
        ("models:Model", "class", CallStyle.PAYLOAD, "predict"),
        ("models:GatedModel", "class", CallStyle.PAYLOAD_CONTEXT, "predict"),
        ("models:CallableModel", "class", CallStyle.PAYLOAD, "__call__"),
        ("models:StaticPredict", "class", CallStyle.PAYLOAD, "predict"),
        ("models:QuantumService", "class", CallStyle.DATA_PARAMS, "predict"),
    ],
)
def test_accepted_entry_points(spec: str, kind: str, style: CallStyle, method: str) -> None:
    entry = resolve(spec, APPS)
    assert (entry.kind, entry.style, entry.method) == (kind, style, method)


def test_summary_describes_the_entry_point() -> None:
    summary = resolve("models:Model", APPS).summary()
    assert summary["ok"] is True
    assert summary["kind"] == "class"
    assert summary["call"] == "Model.predict(payload)"
    assert summary["signature"] == "(payload)"
    assert summary["module_file"] == "models.py"
    assert summary["lifecycle"] == {"load": True, "ready": True, "shutdown": True}
    assert resolve("funcs:async_echo", APPS).summary()["async"] is True


def test_missing_module_lists_modules_in_app_dir_with_close_match_first() -> None:
    error = failure("fnucs:echo")
    assert error.code == "module_not_found"
    assert error.title == "Module 'fnucs' not found"
    assert str(APPS) in error.detail
    listed = error.detail.split("Modules and packages there: ")[1]
    assert listed.startswith("funcs")
    assert "models" in listed and "pkg" in listed
    assert "Set the entry point to 'funcs:...'" in error.fix


def test_missing_submodule_lists_package_contents() -> None:
    error = failure("pkg.servng:handle")
    assert "package 'pkg'" in error.detail
    assert "serving" in error.detail
    assert "'pkg.serving:...'" in error.fix


def test_missing_module_in_empty_directory(tmp_path: Path) -> None:
    error = failure("model:predict", tmp_path)
    assert "There are no Python modules there." in error.detail


def test_module_under_src_gets_a_hint(tmp_path: Path) -> None:
    (tmp_path / "src" / "service").mkdir(parents=True)
    (tmp_path / "src" / "service" / "__init__.py").write_text("")
    error = failure("service:predict", tmp_path)
    assert "under src/" in error.fix


def test_missing_attribute_names_module_file_existing_names_and_fix() -> None:
    error = failure("funcs:ecoh")
    assert error.code == "attribute_missing"
    assert error.title == "Entry point 'funcs:ecoh' not found"
    assert "Module 'funcs' (funcs.py) has no attribute 'ecoh'" in error.detail
    names = error.detail.split("Names defined there: ")[1]
    assert names.startswith("echo (function)")
    assert "Point (class)" in names
    assert error.fix == "Set the entry point to 'funcs:echo'."


def test_missing_attribute_without_close_match() -> None:
    error = failure("funcs:zzzzzz")
    assert "Define 'def zzzzzz(payload): ...' in funcs.py" in error.fix


def test_not_callable() -> None:
    error = failure("funcs:NOT_CALLABLE")
    assert error.code == "not_callable"
    assert "'NOT_CALLABLE' is an int, not a function or a class." in error.detail


def test_instance_with_predict_gets_a_wrapping_hint() -> None:
    error = failure("signatures:model")
    assert "wrap it" in error.detail


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("signatures:no_args", "no_args() takes no positional argument"),
        ("signatures:three_required", "requires 3 arguments (a, b, c)"),
        ("signatures:keyword_required", "requires keyword-only argument key, which the harness does not pass."),
        ("signatures:keywords_required", "requires keyword-only arguments key, other, which the harness does not pass."),
        ("models:NeedsArgs", "NeedsArgs.__init__ requires model_path"),
        ("models:BadLoad", "BadLoad.load(path) requires path"),
        ("models:NoMethod", "Methods it has: evaluate, train"),
    ],
)
def test_bad_signatures(spec: str, expected: str) -> None:
    error = failure(spec)
    assert error.code == "bad_signature"
    assert expected in error.detail
    assert error.fix


def test_syntax_error_reports_file_and_line() -> None:
    error = failure("broken_syntax:predict")
    assert error.code == "syntax_error"
    assert error.title == "Syntax error in broken_syntax.py at line 2"
    assert "File broken_syntax.py, line 2" in error.detail
    assert "def predict(payload)" in error.detail


def test_missing_dependency_is_not_confused_with_missing_module() -> None:
    error = failure("missing_dependency:predict")
    assert error.code == "dependency_missing"
    assert "'definitely_not_an_installed_package', which is not installed" in error.title
    assert "missing_dependency.py, line 1" in error.detail
    assert "requirements.txt" in error.fix


def test_exception_during_import_points_at_user_code() -> None:
    error = failure("raises_on_import:predict")
    assert error.code == "import_failed"
    assert "KeyError at raises_on_import.py, line 3" in error.detail


def test_malformed_spec() -> None:
    error = failure("funcs.echo")
    assert error.code == "entrypoint_syntax"
    assert error.fix == "Use 'funcs:echo'."


def test_error_dict_shape() -> None:
    data = failure("funcs:ecoh").to_dict()
    assert set(data) == {"code", "title", "detail", "fix"}
