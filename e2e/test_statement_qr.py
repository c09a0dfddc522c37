"""A paper statement's QR code, end to end: print, render in Chromium, scan, land on QuickPay."""
from __future__ import annotations

import json
import re

import zxingcpp
from playwright.sync_api import expect

from helpers import png_to_gray
from pops import clock, demo


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
