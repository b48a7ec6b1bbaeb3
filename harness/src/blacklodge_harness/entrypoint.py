"""Find the user's entry point and work out how to call it.

:func:`resolve` imports ``module`` from the app directory, looks up ``attr``
and inspects it; every way this can go wrong is an
:class:`~blacklodge_harness.errors.EntryPointError` that names the module
file, the problem, what does exist, and the fix. The same code runs at build
time (``blacklodge validate``) and at start, so a build that validated cannot
fail differently at run time.

Kinds of entry point:

``function``
    Any callable that is not a class: ``f(payload)`` or ``f(payload, context)``
    (``context`` is passed when the second parameter is required or is named
    ``context`` / ``ctx``, or when there is a keyword-only ``context``).
``class``
    Instantiated once per process with no arguments, then ``load()`` (if
    defined) runs before traffic. Calls go to ``predict`` or, failing that,
    ``__call__``, with the same payload/context rules. ``ready()`` and
    ``shutdown()`` are optional.
``planqk-run``
    A function whose first two parameters are named ``data`` and ``params``
    (the PlanQK template's ``run(data, params)``). A class method with those
    parameter names is called the same way.
"""

from __future__ import annotations

import difflib
import enum
import importlib
import inspect
import sys
import traceback
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any, cast
from collections.abc import Callable

from blacklodge_harness.config import _ENTRYPOINT_RE, suggest_entrypoint
from blacklodge_harness.errors import EntryPointError

CONTEXT_NAMES = ("context", "ctx")
CALL_METHODS = ("predict", "__call__")
LIFECYCLE_METHODS = ("load", "ready", "shutdown")


class CallStyle(enum.Enum):
    """How the harness passes a call's input to the user's callable."""

    PAYLOAD = "f(payload)"
    PAYLOAD_CONTEXT = "f(payload, context)"
    PAYLOAD_CONTEXT_KEYWORD = "f(payload, context=context)"
    DATA_PARAMS = "f(data, params)"


@dataclass(frozen=True)
class EntryPoint:
    """A resolved entry point: the object, its kind and how to call it."""

    spec: str
    module_name: str
    attr: str
    module: ModuleType
    target: Any
    kind: str  # "function" | "class" | "planqk-run"
    style: CallStyle
    method: str | None  # for classes: "predict" or "__call__"
    signature: str
    is_async: bool
    lifecycle: tuple[str, ...]  # for classes: which of load/ready/shutdown exist
    module_file: str | None

    @property
    def call(self) -> str:
        """How the harness calls it, e.g. ``IrisModel.predict(payload)`` or ``run(data, params)``.

        The one description of the call: ``blacklodge validate`` prints it (the wrapper
        buildpack's build log shows it), ``/statz`` and the load log line show it.
        """
        callable_name = f"{self.attr}.{self.method}" if self.method else self.attr
        return self.style.value.replace("f(", f"{callable_name}(", 1)

    def summary(self) -> dict[str, Any]:
        """The JSON ``blacklodge validate`` prints."""
        return {
            "ok": True,
            "entrypoint": self.spec,
            "kind": self.kind,
            "call": self.call,
            "signature": self.signature,
            "async": self.is_async,
            "method": self.method,
            "lifecycle": {name: name in self.lifecycle for name in LIFECYCLE_METHODS} if self.kind == "class" else None,
            "module": self.module_name,
            "module_file": self.module_file,
        }


# --------------------------------------------------------------------------- parsing


def parse_spec(spec: str) -> tuple[str, str]:
    text = spec.strip()
    if not _ENTRYPOINT_RE.match(text):
        hint = suggest_entrypoint(text)
        raise EntryPointError(
            f"Entry point '{spec}' is not of the form 'module:attribute'",
            "The entry point names a module (dotted, as in an import statement) and a "
            "function or class in it, separated by a colon.",
            f"Use '{hint}'." if hint else "Use e.g. 'model:predict' for a function predict() in model.py.",
            code="entrypoint_syntax",
        )
    module, _, attr = text.partition(":")
    return module, attr


# --------------------------------------------------------------------------- importing


def _display_path(path: str | None, app_dir: Path) -> str:
    if not path:
        return "?"
    try:
        return str(Path(path).resolve().relative_to(app_dir))
    except (ValueError, OSError):
        return path


def _module_candidates(directory: Path) -> list[str]:
    """Importable modules and packages directly inside ``directory``."""
    names = set()
    try:
        entries = list(directory.iterdir())
    except OSError:
        return []
    for entry in entries:
        name = entry.name
        if name.startswith((".", "_")) and name != "__init__.py":
            continue
        if entry.is_file() and name.endswith(".py") and name != "__init__.py":
            stem = name[:-3]
            if stem.isidentifier():
                names.add(stem)
        elif entry.is_dir() and name.isidentifier() and name not in {"venv", "site-packages", "node_modules"}:
            try:
                if any(child.suffix == ".py" or child.is_dir() and (child / "__init__.py").exists() for child in entry.iterdir()):
                    names.add(name)
            except OSError:
                continue
    return sorted(names)


def _ranked(wanted: str, names: list[str], limit: int = 25) -> list[str]:
    """Close matches first (difflib), then the rest in order."""
    close = difflib.get_close_matches(wanted, names, n=5, cutoff=0.5)
    rest = [n for n in names if n not in close]
    return (close + rest)[:limit]


def _module_not_found(module_name: str, missing: str, app_dir: Path) -> EntryPointError:
    parent_name, _, leaf = missing.rpartition(".")
    if parent_name:
        parent = sys.modules.get(parent_name)
        search_dirs = [Path(p) for p in getattr(parent, "__path__", [])] or [app_dir / parent_name.replace(".", "/")]
        where = f"package '{parent_name}'"
    else:
        search_dirs = [app_dir]
        where = f"the app directory {app_dir}"
    found: list[str] = []
    for directory in search_dirs:
        found.extend(n for n in _module_candidates(directory) if n not in found)
    ranked = _ranked(leaf, found)
    detail = f"No module named '{missing}' was found in {where}."
    if ranked:
        detail += "\nModules and packages there: " + ", ".join(ranked) + ("" if len(found) <= len(ranked) else ", ...")
    else:
        detail += "\nThere are no Python modules there."
    close = difflib.get_close_matches(leaf, found, n=1, cutoff=0.6)
    if close:
        fixed_module = (parent_name + "." if parent_name else "") + close[0] + module_name[len(missing):]
        fix = f"Did you mean module '{fixed_module}'? Set the entry point to '{fixed_module}:...'."
    else:
        fix = (
            f"Set the entry point to a module that exists, or add {missing.replace('.', '/')}.py. "
            "Module paths are relative to the app directory (the repository root unless BLACKLODGE_APP_DIR says otherwise)."
        )
    if not parent_name and ((app_dir / "src" / leaf).is_dir() or (app_dir / "src" / f"{leaf}.py").is_file()):
        fix += f"\nThe module is under src/: install the project as a package (pyproject.toml) or use 'src.{module_name}'."
    return EntryPointError(f"Module '{module_name}' not found", detail, fix, code="module_not_found")


def _user_frame(exc: BaseException, app_dir: Path) -> traceback.FrameSummary | None:
    """The innermost traceback frame inside the app directory, else the innermost."""
    frames = traceback.extract_tb(exc.__traceback__)
    for frame in reversed(frames):
        path = Path(frame.filename)
        if not path.is_absolute() or not path.is_file():
            continue  # "<frozen os>" and similar
        try:
            path.resolve().relative_to(app_dir)
            return frame
        except (ValueError, OSError):
            continue
    return frames[-1] if frames else None


def import_module(module_name: str, app_dir: Path) -> ModuleType:
    """Import ``module_name`` with ``app_dir`` first on ``sys.path``."""
    app_dir = app_dir.resolve()
    app_dir_str = str(app_dir)
    if app_dir_str in sys.path:
        sys.path.remove(app_dir_str)
    sys.path.insert(0, app_dir_str)
    importlib.invalidate_caches()
    try:
        return importlib.import_module(module_name)
    except SyntaxError as exc:
        where = _display_path(exc.filename, app_dir)
        detail = f"{type(exc).__name__}: {exc.msg}\n  File {where}, line {exc.lineno}"
        if exc.text:
            detail += f"\n    {exc.text.strip()}"
            if exc.offset:
                indent = len(exc.text) - len(exc.text.lstrip())
                detail += "\n    " + " " * max(exc.offset - 1 - indent, 0) + "^"
        raise EntryPointError(
            f"Syntax error in {where} at line {exc.lineno}",
            detail,
            f"Fix the syntax in {where} line {exc.lineno}, then run 'python -c \"import {module_name}\"' to check.",
            code="syntax_error",
        ) from None
    except ModuleNotFoundError as exc:
        missing = exc.name or ""
        if missing and (module_name == missing or module_name.startswith(missing + ".")):
            raise _module_not_found(module_name, missing, app_dir) from None
        frame = _user_frame(exc, app_dir)
        location = f" ({_display_path(frame.filename, app_dir)}, line {frame.lineno})" if frame else ""
        top = missing.split(".")[0]
        raise EntryPointError(
            f"Module '{module_name}' imports '{missing}', which is not installed",
            f"Importing '{module_name}' failed{location}: {exc}",
            f"Add the distribution that provides '{top}' to your dependencies "
            "(requirements.txt, pyproject.toml, poetry.lock, ...) and rebuild.",
            code="dependency_missing",
        ) from None
    except BaseException as exc:  # noqa: BLE001 - user code may raise anything, even SystemExit
        if isinstance(exc, KeyboardInterrupt):
            raise
        frame = _user_frame(exc, app_dir)
        location = f" at {_display_path(frame.filename, app_dir)}, line {frame.lineno}" if frame else ""
        raise EntryPointError(
            f"Importing module '{module_name}' failed",
            f"The module raised {type(exc).__name__}{location}: {exc}",
            "Importing the module must succeed without a request: move work that needs "
            "run-time resources (network, secrets, large files) into a class's load() method.",
            code="import_failed",
        ) from None


# --------------------------------------------------------------------------- signatures


def _describe(obj: Any) -> str:
    if inspect.isclass(obj):
        return "class"
    if inspect.ismodule(obj):
        return "module"
    if inspect.isfunction(obj) or inspect.isbuiltin(obj) or inspect.ismethod(obj):
        return "function"
    if callable(obj):
        return "callable"
    return type(obj).__name__


def _a(noun: str) -> str:
    return ("an " if noun[:1].lower() in "aeiou" else "a ") + noun


def _signature(obj: Any) -> inspect.Signature | None:
    try:
        return inspect.signature(obj)
    except (TypeError, ValueError):
        return None


def _call_style(sig: inspect.Signature | None, what: str, fix_target: str) -> CallStyle:
    """Decide how to call a callable with this signature, or explain why it cannot be called."""
    if sig is None:
        return CallStyle.PAYLOAD  # builtins and C extensions: assume f(payload)
    params = list(sig.parameters.values())
    positional = [p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    has_varargs = any(p.kind == p.VAR_POSITIONAL for p in params)
    keyword_only = [p for p in params if p.kind == p.KEYWORD_ONLY]
    required_positional = [p for p in positional if p.default is p.empty]
    context_keyword = next((p for p in keyword_only if p.name in CONTEXT_NAMES), None)
    required_keyword = [p for p in keyword_only if p.default is p.empty and p is not context_keyword]

    def bad(problem: str) -> EntryPointError:
        return EntryPointError(
            f"{what} cannot be called by the harness",
            f"{what}{sig} {problem}",
            fix_target,
            code="bad_signature",
        )

    if required_keyword:
        names = ", ".join(p.name for p in required_keyword)
        noun = "argument" if len(required_keyword) == 1 else "arguments"
        return _raise(bad(f"requires keyword-only {noun} {names}, which the harness does not pass."))
    if [p.name for p in positional[:2]] == ["data", "params"]:
        if len(required_positional) > 2:
            return _raise(bad("takes more required arguments than data and params."))
        return CallStyle.DATA_PARAMS
    if not positional and not has_varargs:
        return _raise(bad("takes no positional argument, so it cannot receive the payload."))
    if len(required_positional) > 2:
        names = ", ".join(p.name for p in required_positional)
        return _raise(bad(f"requires {len(required_positional)} arguments ({names}); the harness passes the payload and, optionally, a context."))
    if len(positional) >= 2 and (positional[1].default is positional[1].empty or positional[1].name in CONTEXT_NAMES):
        return CallStyle.PAYLOAD_CONTEXT
    if context_keyword is not None:
        return CallStyle.PAYLOAD_CONTEXT_KEYWORD
    return CallStyle.PAYLOAD


def _raise(error: EntryPointError) -> CallStyle:
    raise error


_SIGNATURE_FIX = (
    "Define it as 'def {name}(payload)' or 'def {name}(payload, context)' "
    "(or 'def run(data, params)' in the PlanQK style)."
)


def _method_signature(cls: type, name: str) -> inspect.Signature | None:
    """Signature of ``cls.name`` as called on an instance (without ``self``)."""
    raw = inspect.getattr_static(cls, name)
    sig = _signature(getattr(cls, name))
    if sig is None:
        return None
    if isinstance(raw, (staticmethod, classmethod)) or not inspect.isfunction(getattr(cls, name)):
        return sig
    params = list(sig.parameters.values())
    return sig.replace(parameters=params[1:]) if params else sig


def _defines_call(cls: type) -> bool:
    return any("__call__" in vars(base) for base in cls.__mro__ if base is not object)


def _inspect_class(cls: type, label: str) -> tuple[CallStyle, str, str, bool, tuple[str, ...]]:
    init_sig = _signature(cls)
    if init_sig is not None:
        required = [
            p.name
            for p in init_sig.parameters.values()
            if p.default is p.empty and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
        ]
        if required:
            raise EntryPointError(
                f"Class {label} cannot be instantiated by the harness",
                f"{label}.__init__ requires {', '.join(required)}; the harness creates the instance with no arguments.",
                "Give those parameters defaults, or read them from environment variables inside __init__ or load().",
                code="bad_signature",
            )
    method = next((m for m in CALL_METHODS if m != "__call__" and callable(getattr(cls, m, None))), None)
    if method is None and _defines_call(cls):
        method = "__call__"
    if method is None:
        public = sorted(n for n in dir(cls) if not n.startswith("_") and callable(getattr(cls, n, None)))
        raise EntryPointError(
            f"Class {label} has no predict() or __call__() method",
            f"The harness calls instances of {label} through predict(payload) or __call__(payload)."
            + (f"\nMethods it has: {', '.join(_ranked('predict', public))}" if public else ""),
            f"Add 'def predict(self, payload):' to {label}, or point the entry point at a function.",
            code="bad_signature",
        )
    sig = _method_signature(cls, method)
    style = _call_style(
        sig,
        f"{label}.{method}",
        f"Define it as 'def {method}(self, payload)' or 'def {method}(self, payload, context)'.",
    )
    lifecycle: list[str] = []
    for hook in LIFECYCLE_METHODS:
        if not hasattr(cls, hook):
            continue
        value = getattr(cls, hook)
        if not callable(value):
            raise EntryPointError(
                f"{label}.{hook} is not a method",
                f"{label}.{hook} is a {type(value).__name__}; the harness calls {hook}() as part of the lifecycle.",
                f"Make {hook} a method taking no arguments, or rename the attribute.",
                code="bad_signature",
            )
        hook_sig = _method_signature(cls, hook)
        if hook_sig is not None:
            required = [
                p.name
                for p in hook_sig.parameters.values()
                if p.default is p.empty and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
            ]
            if required:
                raise EntryPointError(
                    f"{label}.{hook}() cannot be called by the harness",
                    f"{label}.{hook}{hook_sig} requires {', '.join(required)}; the harness calls {hook}() with no arguments.",
                    f"Remove the parameters of {hook}() or give them defaults.",
                    code="bad_signature",
                )
        lifecycle.append(hook)
    is_async = inspect.iscoroutinefunction(getattr(cls, method))
    return style, method, str(sig) if sig is not None else "(...)", is_async, tuple(lifecycle)


def inspect_target(target: Any, label: str) -> tuple[str, CallStyle, str | None, str, bool, tuple[str, ...]]:
    """(kind, style, method, signature, is_async, lifecycle) for an entry point object."""
    if inspect.isclass(target):
        style, method, signature, is_async, lifecycle = _inspect_class(target, label)
        return "class", style, method, signature, is_async, lifecycle
    if not callable(target):
        hint = ""
        if callable(getattr(target, "predict", None)):
            hint = f"\nIt has a predict() method: wrap it, e.g. 'def predict(payload): return {label}.predict(payload)'."
        raise EntryPointError(
            f"'{label}' is not callable",
            f"'{label}' is {_a(type(target).__name__)}, not a function or a class.{hint}",
            "Point the entry point at a function 'def f(payload)' or at a class with a predict() method.",
            code="not_callable",
        )
    sig = _signature(target)
    style = _call_style(sig, label, _SIGNATURE_FIX.format(name=label))
    kind = "planqk-run" if style is CallStyle.DATA_PARAMS else "function"
    call = getattr(target, "__call__", None)
    is_async = inspect.iscoroutinefunction(target) or (
        not inspect.isfunction(target) and inspect.iscoroutinefunction(call)
    )
    return kind, style, None, str(sig) if sig is not None else "(...)", is_async, ()


def _missing_attribute(module: ModuleType, module_name: str, attr: str, module_file: str) -> EntryPointError:
    names = [n for n in vars(module) if not n.startswith("_")]
    # Names defined in the module itself first, then imported ones.
    own = [
        n
        for n in names
        if getattr(getattr(module, n), "__module__", None) == module.__name__ and not inspect.ismodule(getattr(module, n))
    ]
    ordered = _ranked(attr, own + [n for n in names if n not in own and not inspect.ismodule(getattr(module, n))])
    listed = ", ".join(f"{n} ({_describe(getattr(module, n))})" for n in ordered)
    detail = f"Module '{module_name}' ({module_file}) has no attribute '{attr}'."
    detail += f"\nNames defined there: {listed}" if listed else "\nThe module defines no public names."
    callables = [n for n in own + names if callable(getattr(module, n)) and not inspect.ismodule(getattr(module, n))]
    close = difflib.get_close_matches(attr, callables, n=1, cutoff=0.6) or difflib.get_close_matches(
        attr.lower(), [c.lower() for c in callables], n=1, cutoff=0.6
    )
    if close:
        match = next((c for c in callables if c == close[0] or c.lower() == close[0]), close[0])
        fix = f"Set the entry point to '{module_name}:{match}'."
    else:
        fix = f"Define 'def {attr}(payload): ...' in {module_file}, or set the entry point to one of the names above."
    return EntryPointError(f"Entry point '{module_name}:{attr}' not found", detail, fix, code="attribute_missing")


def resolve(spec: str, app_dir: Path | None = None) -> EntryPoint:
    """Import and inspect the entry point ``spec`` ("module:attr") from ``app_dir``."""
    module_name, attr = parse_spec(spec)
    app_dir = (app_dir or Path.cwd()).resolve()
    if not app_dir.is_dir():
        raise EntryPointError(
            f"App directory {app_dir} does not exist",
            "The harness imports the entry point from the app directory.",
            "Set BLACKLODGE_APP_DIR to the directory holding your code.",
            code="app_dir_missing",
        )
    module = import_module(module_name, app_dir)
    module_file = _display_path(getattr(module, "__file__", None), app_dir)
    if not hasattr(module, attr):
        raise _missing_attribute(module, module_name, attr, module_file)
    target = getattr(module, attr)
    label = attr
    kind, style, method, signature, is_async, lifecycle = inspect_target(target, label)
    return EntryPoint(
        spec=f"{module_name}:{attr}",
        module_name=module_name,
        attr=attr,
        module=module,
        target=target,
        kind=kind,
        style=style,
        method=method,
        signature=signature,
        is_async=is_async,
        lifecycle=lifecycle,
        module_file=module_file,
    )


def make_caller(entry: EntryPoint, instance: Any = None) -> Callable[..., Any]:
    """The bound callable for an entry point (the instance's method for classes)."""
    if entry.kind == "class":
        if instance is None:
            raise ValueError("a class entry point needs its instance")
        return cast(Callable[..., Any], getattr(instance, entry.method or "predict"))
    return cast(Callable[..., Any], entry.target)
