"""Sliding-window arithmetic shared by convolutions and pooling, explained in the user's words."""
from __future__ import annotations

from .base import ShapeError


def window_output(size: int, kernel: int, stride: int, padding: int, dilation: int, axis: str) -> int:
    """Output length of a sliding window, or ShapeError showing the arithmetic when it is empty."""
    span = dilation * (kernel - 1) + 1
    if size + 2 * padding < span:
        what = f"kernel {kernel}" if dilation == 1 else f"dilated kernel {span}"
        raise ShapeError(f"{what} > input {axis} {size}" + (f" + padding {2 * padding}" if padding else ""),
                         "use a smaller kernel, add padding or remove a pooling layer before it")
    return (size + 2 * padding - span) // stride + 1


def explain_window(size: int, kernel: int, stride: int, padding: int, dilation: int, axis: str) -> str:
    """How `window_output` found an output length, with the numbers: 'height: (28 − 3)/1 + 1 = 26'
    (padding appears when there is some, ⌊ ⌋ when the division is not exact, the dilated span
    when it differs from the kernel). The wire's tooltip shows it."""
    span = dilation * (kernel - 1) + 1
    reach = size + 2 * padding - span
    padded = f"{size} + 2×{padding}" if padding else f"{size}"
    division = f"({padded} − {span})/{stride}"
    if reach % stride:
        division = f"⌊{division}⌋"
    dilated = f" (kernel {kernel} dilated {dilation}× spans {span})" if dilation != 1 else ""
    return f"{axis}: {division} + 1 = {reach // stride + 1}{dilated}"


def resolve_padding(padding: int | str, kernel: int, stride: int, dilation: int) -> int:
    """'valid' -> 0, 'same' -> the padding keeping the size (stride 1, odd span only), int -> itself."""
    if padding == "valid":
        return 0
    if padding == "same":
        span = dilation * (kernel - 1) + 1
        if stride != 1:
            raise ShapeError("padding 'same' needs stride 1", "give the padding as a number instead")
        if span % 2 == 0:
            raise ShapeError(f"padding 'same' needs an odd kernel size, not {kernel}", "use 3, 5 or 7")
        return (span - 1) // 2
    return int(padding)
