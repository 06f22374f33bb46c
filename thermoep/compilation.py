"""Optional ``torch.compile`` of the library's elementwise kernels.

Sampling tanh units by block Gibbs spends its time in chains of elementwise operations (Newton
steps to a conditional's mode, a Gauss–Hermite rule per unit); compiled, each chain is one fused
loop. Compilation is off by default (it costs a minute or more on a CPU before the first batch)
and is switched on for a run by ``enable()`` (``run.compile = true`` in a run config, or
``THERMOEP_COMPILE=1``). Where compilation is unavailable or fails (no C++ compiler, an
unsupported torch), the eager function runs instead, with one warning.

    from thermoep import compilation
    compilation.enable()          # every compilable kernel compiles on its first call
"""

from __future__ import annotations

import functools
import os
import warnings
from collections.abc import Callable

import torch

_ENABLED = os.environ.get("THERMOEP_COMPILE", "0").lower() in ("1", "true", "yes")


def enable(flag: bool = True) -> None:
    """Compile the kernels from their next call on (``False``: run them eagerly again)."""
    global _ENABLED
    _ENABLED = bool(flag)


def enabled() -> bool:
    return _ENABLED


def compiling() -> bool:
    """True while torch.compile traces a function (the kernels then avoid host reads)."""
    check = getattr(torch.compiler, "is_compiling", None)
    if check is None:  # torch 2.2
        check = torch._dynamo.is_compiling
    return bool(check())


def compilable(fn: Callable) -> Callable:
    """``fn`` itself while compilation is off; its ``torch.compile`` (dynamic shapes: batches
    of every size share one compiled kernel) while on, falling back to ``fn`` if compiling or
    running the compiled kernel raises."""
    state: dict = {"compiled": None, "failed": False}

    @functools.wraps(fn)
    def call(*args, **kwargs):
        if not _ENABLED or state["failed"]:
            return fn(*args, **kwargs)
        if state["compiled"] is None:
            state["compiled"] = torch.compile(fn, dynamic=True)
        try:
            return state["compiled"](*args, **kwargs)
        except Exception as err:  # noqa: BLE001 — any compiler failure: run eagerly
            state["failed"] = True
            warnings.warn(f"torch.compile of {fn.__qualname__} failed ({type(err).__name__}: "
                          f"{str(err).splitlines()[0] if str(err) else ''}); running it "
                          "eagerly", RuntimeWarning, stacklevel=2)
            return fn(*args, **kwargs)

    call.eager = fn
    return call


__all__ = ["compilable", "compiling", "enable", "enabled"]
