"""QR codes as SVG: crisp at any print size, a few kilobytes, no image library at run time.

qrcode encodes; this module picks the mask and draws the path itself, because qrcode's own
mask search and SVG drawing are pure-Python loops that cost ~7 ms a code, too slow for a run of
10,000 paper statements. The mask chosen is the one qrcode would choose (the same penalty
rules, ISO/IEC 18004 §7.8.3, on the same test-mode matrix), found with whole-row bit operations.
"""
from __future__ import annotations

import functools
import re

import qrcode
import qrcode.util

_FINDER_LIKE = ("10111010000", "00001011101")


def qr_svg(data: str, *, box_size: int = 10, border: int = 4) -> str:
    """An <svg> element (no XML declaration) encoding `data`, to place inline in a page.

    Error correction M: a statement crumpled in a pocket still scans. `box_size` is tenths of
    a millimetre per module in the element's default size; CSS may size it otherwise.
    """
    code = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, border=border)
    code.add_data(data)
    code.best_fit()
    code.makeImpl(True, 0)  # the data under mask 0, format and version information left light
    n = code.modules_count
    # rows then columns, each as an integer (bit n-1 is the first module), so masks are XORs
    base = [_bits(line) for line in code.modules] + [_bits(line) for line in zip(*code.modules)]
    flips = _mask_flips(code.version)
    mask = min(range(8), key=lambda k: (_penalty([b ^ f for b, f in zip(base, flips[k])], n), k))
    # Re-masking the data is an XOR; then only the format and version information are written.
    code.modules = [[c == "1" for c in format(b ^ f, f"0{n}b")] for b, f in zip(base[:n], flips[mask])]
    code.setup_type_info(False, mask)
    if code.version >= 7:
        code.setup_type_number(False)
    return _svg(code.modules, border, box_size)


_DARK_RUN = re.compile("1+")


def _svg(modules: list[list[bool]], border: int, box_size: int) -> str:
    # One rectangle per horizontal run of dark modules: a third of the size of one per module.
    parts = []
    for y, row in enumerate(modules, start=border):
        for run in _DARK_RUN.finditer("".join("1" if m else "0" for m in row)):
            start, end = run.span()
            parts.append(f"M{start + border},{y}h{end - start}v1h{start - end}z")
    size = len(modules) + 2 * border
    mm = f"{size * box_size / 10:g}mm"
    return (
        f'<svg width="{mm}" height="{mm}" version="1.1" viewBox="0 0 {size} {size}" '
        f'xmlns="http://www.w3.org/2000/svg"><path d="{"".join(parts)}" fill="#000000" /></svg>'
    )


def _bits(line) -> int:
    return int("".join("1" if m else "0" for m in line), 2)


@functools.lru_cache(maxsize=None)
def _mask_flips(version: int) -> tuple[tuple[int, ...], ...]:
    """For each mask k, per row then per column: the data modules whose colour differs from mask 0's."""
    blank = qrcode.QRCode(version=version, error_correction=qrcode.constants.ERROR_CORRECT_M)
    blank.makeImpl(True, 0)  # fills every module; rebuild the function patterns alone to find the data ones
    n = blank.modules_count
    blank.modules = [[None] * n for _ in range(n)]
    blank.setup_position_probe_pattern(0, 0)
    blank.setup_position_probe_pattern(n - 7, 0)
    blank.setup_position_probe_pattern(0, n - 7)
    blank.setup_position_adjust_pattern()
    blank.setup_timing_pattern()
    blank.setup_type_info(True, 0)
    if version >= 7:
        blank.setup_type_number(True)
    data = [[cell is None for cell in row] for row in blank.modules]
    masks = [qrcode.util.mask_func(k) for k in range(8)]
    flips = []
    for k in range(8):
        grid = [[data[r][c] and masks[0](r, c) != masks[k](r, c) for c in range(n)] for r in range(n)]
        flips.append(tuple(_bits(line) for line in grid) + tuple(_bits(line) for line in zip(*grid)))
    return tuple(flips)


def _penalty(lines: list[int], n: int) -> int:
    """qrcode's util.lost_point() of the matrix whose rows then columns are `lines` (n bits each)."""
    pairs = (1 << (n - 1)) - 1
    points = 0
    for line in lines:
        # runs of five or more of one colour: 3 points, plus 1 per module beyond five
        same = ~(line ^ (line >> 1)) & pairs  # bit i: modules i and i+1 alike
        five = same & (same >> 1) & (same >> 2) & (same >> 3)  # bit i: modules i..i+4 alike
        points += five.bit_count() + 2 * (five & ~(five >> 1)).bit_count()
    rows = lines[:n]
    # 2×2 blocks of one colour
    for a, b in zip(rows, rows[1:]):
        points += 3 * (~(a ^ b) & ~(a ^ (a >> 1)) & ~(b ^ (b >> 1)) & pairs).bit_count()
    # finder-like 1:1:3:1:1 patterns with four light modules on one side (neither overlaps itself)
    text = "|".join([format(line, f"0{n}b") for line in lines])
    points += 40 * (text.count(_FINDER_LIKE[0]) + text.count(_FINDER_LIKE[1]))
    # how far the share of dark modules is from half
    dark = sum(row.bit_count() for row in rows)
    points += int(abs(dark / (n * n) * 100 - 50) / 5) * 10
    return points
