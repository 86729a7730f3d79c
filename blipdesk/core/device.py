"""Device and precision policy.

``auto`` picks CUDA when present (fp16), else Apple's MPS (fp16), else the CPU: bf16 when the CPU
computes bf16 natively (AVX512-BF16 or AMX), else fp32 — emulated bf16 is slower than fp32.
An explicit device (``cpu``, ``cuda``, ``cuda:N``, ``mps``) or precision (``fp32``, ``bf16``,
``fp16``) overrides it; a request this machine cannot honour raises ``DeviceError``.
"""

from __future__ import annotations

import contextlib
import os
import re
from dataclasses import dataclass
from functools import cache

import torch

from blipdesk.infra.errors import DeviceError

PRECISIONS = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}
DEVICE_CHOICES = ("auto", "cpu", "cuda", "cuda:N", "mps")


@dataclass(frozen=True)
class Placement:
    """Where and in what precision the model runs."""

    device: torch.device
    dtype: torch.dtype

    @property
    def precision(self) -> str:
        return next(name for name, dt in PRECISIONS.items() if dt == self.dtype)

    def describe(self) -> str:
        name = str(self.device)
        if self.device.type == "cuda":
            name += f" ({torch.cuda.get_device_name(self.device)})"
        return f"{name}, {self.precision}"


@cache
def cpu_flags() -> frozenset[str]:
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as fh:
            for line in fh:
                if line.startswith("flags"):
                    return frozenset(line.split(":", 1)[1].split())
    except OSError:
        pass
    return frozenset()


def cpu_has_native_bf16() -> bool:
    """True when the CPU computes bf16 in hardware: AVX512-BF16 or AMX (x86), or Arm's BF16."""
    flags = cpu_flags()
    if flags & {"avx512_bf16", "amx_bf16"}:
        return True
    if "bf16" in flags:  # aarch64 features line
        return True
    probe = getattr(torch.backends.cpu, "get_cpu_capability", None)
    return bool(probe and probe() in ("AVX512_BF16", "AMX"))


@cache
def physical_cores() -> int:
    """Physical cores (hyper-threads share one core's matrix units, so they do not help)."""
    pairs: set[tuple[str, str]] = set()
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as fh:
            phys = core = None
            for line in fh:
                key, _, value = line.partition(":")
                key = key.strip()
                if key == "physical id":
                    phys = value.strip()
                elif key == "core id":
                    core = value.strip()
                elif not line.strip():
                    if phys is not None and core is not None:
                        pairs.add((phys, core))
                    phys = core = None
    except OSError:
        pass
    logical = os.cpu_count() or 1
    with contextlib.suppress(AttributeError, OSError):
        logical = len(os.sched_getaffinity(0))
    if pairs:
        return max(1, min(len(pairs), logical))
    return max(1, logical)


def _parse_device(request: str) -> torch.device:
    request = request.strip().lower()
    if request == "cpu":
        return torch.device("cpu")
    if request == "mps":
        if not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
            raise DeviceError(
                "Apple MPS was requested, but it is not available on this machine; use --device cpu."
            )
        return torch.device("mps")
    match = re.fullmatch(r"cuda(?::(\d+))?", request)
    if match:
        if not torch.cuda.is_available():
            why = (
                "this PyTorch build has no CUDA support"
                if torch.version.cuda is None
                else "no CUDA GPU is visible (driver missing or CUDA_VISIBLE_DEVICES empty)"
            )
            raise DeviceError(f"CUDA was requested, but {why}; use --device cpu or auto.")
        index = int(match.group(1) or 0)
        count = torch.cuda.device_count()
        if index >= count:
            raise DeviceError(
                f"CUDA device {index} was requested, but this machine has {count} "
                f"(cuda:0{f' to cuda:{count - 1}' if count > 1 else ''})."
            )
        return torch.device("cuda", index)
    raise DeviceError(f"Unknown device {request!r}: choose auto, cpu, cuda, cuda:N or mps.")


def resolve_placement(device: str = "auto", precision: str = "auto") -> Placement:
    """Turn the person's device and precision choice into a concrete ``Placement``."""
    device = (device or "auto").strip().lower()
    precision = (precision or "auto").strip().lower()
    if precision != "auto" and precision not in PRECISIONS:
        raise DeviceError(f"Unknown precision {precision!r}: choose auto, fp32, bf16 or fp16.")

    if device == "auto":
        if torch.cuda.is_available():
            dev = torch.device("cuda", 0)
        elif getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
            dev = torch.device("mps")
        else:
            dev = torch.device("cpu")
    else:
        dev = _parse_device(device)

    if precision == "auto":
        if dev.type in ("cuda", "mps"):
            dtype = torch.float16
        else:
            dtype = torch.bfloat16 if cpu_has_native_bf16() else torch.float32
    else:
        dtype = PRECISIONS[precision]
        if dev.type == "cuda" and dtype == torch.bfloat16 and not torch.cuda.is_bf16_supported():
            raise DeviceError(
                f"bf16 was requested, but {torch.cuda.get_device_name(dev)} does not support it; use fp16."
            )
    return Placement(dev, dtype)


def configure_threads() -> int:
    """Give torch one thread per physical core (once; safe to call again)."""
    n = physical_cores()
    if torch.get_num_threads() != n:
        torch.set_num_threads(n)
    return n
