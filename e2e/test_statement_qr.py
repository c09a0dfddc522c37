"""A paper statement's QR code, end to end: print, render in Chromium, scan, land on QuickPay."""
from __future__ import annotations

import json
import re
import struct
import zlib

import zxingcpp
from playwright.sync_api import expect

from pops import clock, demo


def png_to_gray(png: bytes) -> memoryview:
    """The pixels of an 8-bit, non-interlaced RGB(A) or gray PNG (what Chromium writes) as a gray image."""
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, header = 8, b"", None
    while pos < len(png):
        length, kind = struct.unpack(">I4s", png[pos : pos + 8])
        body = png[pos + 8 : pos + 8 + length]
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    width, height, depth, colour, _, _, interlace = header
    assert depth == 8 and interlace == 0 and colour in (0, 2, 4, 6), header
    channels = {0: 1, 2: 3, 4: 2, 6: 4}[colour]
    stride = width * channels
    raw = zlib.decompress(idat)
    previous = bytearray(stride)
    gray = bytearray()
    for y in range(height):
        filter_type = raw[y * (stride + 1)]
        line = bytearray(raw[y * (stride + 1) + 1 : (y + 1) * (stride + 1)])
        for i in range(stride):
            left = line[i - channels] if i >= channels else 0
            up = previous[i]
            upper_left = previous[i - channels] if i >= channels else 0
            if filter_type == 1:
                line[i] = (line[i] + left) & 0xFF
            elif filter_type == 2:
                line[i] = (line[i] + up) & 0xFF
            elif filter_type == 3:
                line[i] = (line[i] + (left + up) // 2) & 0xFF
            elif filter_type == 4:
                p = left + up - upper_left
                pa, pb, pc = abs(p - left), abs(p - up), abs(p - upper_left)
                predictor = left if pa <= pb and pa <= pc else (up if pb <= pc else upper_left)
                line[i] = (line[i] + predictor) & 0xFF
        previous = line
        gray += line[::channels]  # the first channel: gray, or red (the code is black on white)
    return memoryview(bytes(gray)).cast("B", (height, width))


def test_statement_qr_code_scans_to_quickpay(server, page, page_errors, tmp_path):
    document = tmp_path / "demo.json"
    document.write_text(json.dumps(demo.build_document(clock.now().date())))
    server.run_pops("import", str(document))
    out = tmp_path / "statements.html"
    result = server.run_pops("statements", "run", "--group", "RFM", "--out", str(out))
    count = len(re.findall(r'<article class="statement', out.read_text()))
    assert re.fullmatch(rf"{count} statements \(\d+ with a QR code\) written to {re.escape(str(out))}\n", result.stdout)

    page.goto(out.as_uri())
    statements = page.locator("article.statement")
    expect(statements).to_have_count(count)
    first = page.locator("article.statement:has(.qr)").first
    name = first.locator(".to .name").inner_text()
    amount_due = first.locator(".amount-due").inner_text()
    assert re.fullmatch(r"\$[\d,]+\.\d\d", amount_due) and amount_due != "$0.00"
    printed_url = first.locator(".link").inner_text()
    assert printed_url.startswith(f"{server.url}/q/Q")

    qr = first.locator(".qr")
    box = qr.bounding_box()
    assert 100 <= box["width"] <= 125 and box["width"] == box["height"]  # 30 mm at 96 px per inch
    barcodes = zxingcpp.read_barcodes(png_to_gray(qr.screenshot()))
    assert [b.format for b in barcodes] == [zxingcpp.BarcodeFormat.QRCode]
    scanned = barcodes[0].text
    assert scanned == printed_url

    # printed one statement to a page
    page.emulate_media(media="print")
    assert first.evaluate("e => getComputedStyle(e).breakAfter") == "page"
    page.emulate_media(media="screen")

    page.goto(scanned)
    assert page.url == f"{server.url}/quickpay"  # the code is not left in the address bar
    expect(page.get_by_text(name.split()[-1], exact=False).first).to_be_visible()
    expect(page.get_by_test_id("amount-due")).to_have_text(amount_due)
    assert page_errors == []
