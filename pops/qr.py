"""QR codes as SVG: crisp at any print size, a few kilobytes, no image library at run time."""
from __future__ import annotations

import qrcode
import qrcode.image.svg


def qr_svg(data: str, *, box_size: int = 10, border: int = 4) -> str:
    """An <svg> element (no XML declaration) encoding `data`, to place inline in a page.

    Error correction M: a statement crumpled in a pocket still scans.
    """
    code = qrcode.QRCode(
        error_correction=qrcode.constants.ERROR_CORRECT_M,
        box_size=box_size,
        border=border,
        image_factory=qrcode.image.svg.SvgPathImage,
    )
    code.add_data(data)
    code.make(fit=True)
    svg = code.make_image().to_string(encoding="unicode")
    return svg[svg.index("<svg"):]
