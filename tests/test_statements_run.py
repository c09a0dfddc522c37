"""`pops statements run`: which statements are due, their statement-QR links, and the printed file."""
from __future__ import annotations

import datetime as dt
import html
import re
from decimal import Decimal

import pytest
import markupsafe
import zxingcpp

from pops import cli, statements
from pops.models import Group, Guarantor, Link, PatientSession, Statement

from factories import add_line, make_encounter, make_guarantor, make_patient, make_statement
from http_helpers import SECRET

BASE_URL = "http://testserver"
STATEMENT_DAY = dt.date(2026, 11, 2)


@pytest.fixture
def env(monkeypatch, db_url, tmp_path):
    monkeypatch.setenv("POPS_DATABASE_URL", db_url)
    monkeypatch.setenv("POPS_SECRET_KEY", SECRET)
    monkeypatch.setenv("POPS_BASE_URL", BASE_URL)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def account(group, number, *, first="Ana", last="Ruiz", amount="120.00", amount_due=None,
            on=STATEMENT_DAY, paid=None, **fields) -> tuple[Guarantor, Statement]:
    """A guarantor with one visit (one charge) and a statement of it; `paid` is a patient payment after it."""
    guarantor = Guarantor.get_or_none(Guarantor.account == number)
    if guarantor is None:
        guarantor = make_guarantor(group, number, first, last, dt.date(1980, 1, 1), address_line1="12 Elm St",
                                   city="Springfield", state="IL", zip="62701", **fields)
    seq = guarantor.encounters.count() + 1
    encounter = make_encounter(guarantor, f"E{seq}", patient=make_patient(guarantor, "P1", first, last),
                               date=on - dt.timedelta(days=20), provider="Dr. Ortiz", description="Office visit",
                               charge=amount)
    if paid is not None:
        add_line(encounter, "2", "patient_payment", -Decimal(paid), on + dt.timedelta(days=5))
    statement = make_statement(guarantor, f"S-{number}-{seq}", date=on, due_date=on + dt.timedelta(days=25),
                               balance=amount, amount_due=amount_due, encounters=[encounter])
    return guarantor, statement


def printed(path) -> str:
    return path.read_text(encoding="utf-8")


def qr_urls(page: str) -> list[str]:
    return [html.unescape(u) for u in re.findall(r'<div class="qr" data-url="([^"]+)"', page)]


# --- which statements are due -----------------------------------------------------------------

def test_selection_rule(group):
    other = Group.create(code="LPP", name="Lakeside Pediatric Partners")
    _, unpaid = account(group, "A1")
    account(group, "A2", paid="120.00")  # paid in full since the statement
    _, partly = account(group, "A3", paid="20.00")
    account(group, "A4", amount_due="0.00")  # nothing was due on it
    account(group, "A5", on=dt.date(2026, 9, 1))  # an older statement, superseded by the newer one
    _, newest = account(group, "A5", amount="40.00")
    account(group, "A6", on=dt.date(2026, 9, 1))  # older statement due, but the newest asked for nothing
    account(group, "A6", amount="0.00")
    account(group, "A7", notify_balance_paper=False)  # the patient turned paper notices off
    _, escrow = account(group, "A8", escrow=Decimal("25.00"))  # printed, though it cannot pay online
    _, cents = account(group, "A9", amount="0.40")  # printed; under $1.00 cannot be paid online
    account(other, "B1")  # another group

    due = statements.statements_due([group])

    assert [d.statement.number for d in due] == [unpaid.number, partly.number, newest.number, escrow.number,
                                                 cents.number]
    by_number = {d.statement.number: d for d in due}
    assert by_number[partly.number].balances.amount_due == Decimal("100.00")
    # A5's older statement is part of the Current Balance but the newest statement's Amount Due is asked
    assert by_number[newest.number].balances.amount_due == Decimal("40.00")
    assert [d.prints_link for d in due] == [True, True, True, False, False]
    assert [d.eligibility.reason for d in due][3:] == ["escrow", "under_minimum"]
    # all groups: by group code (LPP before RFM), then account
    assert [d.statement.number for d in statements.statements_due([group, other])][:2] == ["S-B1-1", unpaid.number]


def test_a_statement_paid_by_a_pops_receipt_is_not_due(group):
    from pops.models import Receipt

    guarantor, _ = account(group, "A1")
    Receipt.create(number="R1", guarantor=guarantor, source="pops", received_at=dt.datetime(2026, 11, 10, 12),
                   received_date=dt.date(2026, 11, 10), amount=Decimal("120.00"), status="paid")
    assert statements.statements_due([group]) == []


# --- the command ----------------------------------------------------------------------------

def test_run_prints_every_statement_and_mints_one_redeemable_link_each(env, group, client, capsys):
    maria, s1 = account(group, "A1001", first="Maria", last="Lopez", amount="245.10")
    other, s2 = account(group, "A1002", first="Sam", last="O'Brien & <Sons>", amount="80.00", paid="30.00")

    assert cli.main(["statements", "run"]) == 0

    out = env / "statements-2026-11-23.html"
    assert capsys.readouterr().out.strip() == f"2 statements (2 with a QR code) written to {out.name}"
    page = printed(out)
    assert page.count('<article class="statement') == 2
    assert "break-after: page" in page
    # amounts, dates, account numbers and escaped names
    assert "$245.10" in page and "$50.00" in page  # Sam's Amount Due is what is left after his payment
    assert "Nov 27, 2026" in page and "Nov 2, 2026" in page  # due date, statement date
    assert "Maria Lopez" in page and "A1001" in page and "12 Elm St" in page
    assert "Sam O&#39;Brien &amp; &lt;Sons&gt;" in page and "<Sons>" not in page
    assert "Riverside Family Medicine" in page and "(555) 010-2000" in page
    assert "Office visit" in page and "Dr. Ortiz" in page

    links = list(Link.select().order_by(Link.id))
    assert [(link.guarantor_id, link.statement_id, link.purpose) for link in links] == [
        (maria.id, s1.id, "statement"), (other.id, s2.id, "statement")]
    urls = qr_urls(page)
    assert len(urls) == 2
    for url, guarantor in zip(urls, (maria, other)):
        code = url.rsplit("/", 1)[1]
        assert re.fullmatch(r"Q[0-9A-Z]{3}(-[0-9A-Z]{4}){4}", code)  # typeable, in groups of four
        assert url == f"{BASE_URL}/q/{code}" and f'<span class="code">{code}</span>' in page
        client.cookies.clear()
        response = client.get(f"/q/{code}")
        assert response.status_code == 303 and response.headers["location"] == "/quickpay"
        session = PatientSession.select().order_by(PatientSession.id.desc()).get()
        assert (session.guarantor_id, session.origin, session.quickpay) == (guarantor.id, "statement_qr", True)
        client.cookies.set("pops_session", response.cookies["pops_session"])
        quickpay = client.get("/quickpay").text
        assert str(markupsafe.escape(guarantor.greeting_name)) in quickpay


def test_quickpay_shows_what_the_statement_asks(env, group, client):
    account(group, "A1001", first="Maria", last="Lopez", amount="245.10", paid="45.10")
    assert cli.main(["statements", "run", "--out", "run.html"]) == 0
    page = printed(env / "run.html")
    assert "$200.00" in page
    [url] = qr_urls(page)
    response = client.get(url.removeprefix(BASE_URL))
    client.cookies.set("pops_session", response.cookies["pops_session"])
    quickpay = client.get("/quickpay").text
    assert "Maria Lopez" in quickpay and "$200.00" in quickpay


def test_group_filter(env, group, capsys):
    other = Group.create(code="LPP", name="Lakeside Pediatric Partners")
    account(group, "A1001")
    lpp, _ = account(other, "B2001", first="Laura", last="Kim")

    assert cli.main(["statements", "run", "--group", "LPP", "--out", "lpp.html"]) == 0

    page = printed(env / "lpp.html")
    assert re.findall(r'data-account="([^"]+)"', page) == ["B2001"]
    assert "Lakeside Pediatric Partners" in page and "Riverside" not in page
    assert [link.guarantor_id for link in Link.select()] == [lpp.id]


def test_unknown_group_is_refused_and_nothing_is_minted(env, group, capsys):
    account(group, "A1001")
    assert cli.main(["statements", "run", "--group", "NOPE", "--out", "x.html"]) == 1
    err = capsys.readouterr().err
    assert "no group with code 'NOPE'" in err and "RFM" in err
    assert Link.select().count() == 0
    assert not (env / "x.html").exists()


def test_unwritable_file_mints_nothing(env, group, capsys):
    account(group, "A1001")
    assert cli.main(["statements", "run", "--out", str(env / "missing" / "x.html")]) == 1
    assert "cannot write" in capsys.readouterr().err
    assert Link.select().count() == 0


def test_no_qr_when_the_account_cannot_pay_online_or_the_group_prints_none(env, group, capsys):
    account(group, "A1001", first="Esther", last="Crow", escrow=Decimal("10.00"))
    assert cli.main(["statements", "run", "--out", "a.html"]) == 0
    page = printed(env / "a.html")
    assert "Esther Crow" in page and "$120.00" in page
    assert "Payment Not Possible: Please contact Riverside Family Medicine" in page
    assert qr_urls(page) == [] and "<svg" not in page and Link.select().count() == 0

    Guarantor.update(escrow=Decimal("0.00")).execute()
    Group.update(print_link_and_qr_on_statements=False).execute()
    assert cli.main(["statements", "run", "--out", "b.html"]) == 0
    page = printed(env / "b.html")
    assert "Esther Crow" in page and "To pay, call (555) 010-2000." in page
    assert qr_urls(page) == [] and Link.select().count() == 0
    assert "1 statements (0 with a QR code)" in capsys.readouterr().out


def test_nothing_due_writes_an_empty_run(env, group, capsys):
    assert cli.main(["statements", "run", "--out", "none.html"]) == 0
    assert "No statements are due." in printed(env / "none.html")
    assert capsys.readouterr().out.startswith("0 statements")


# --- the QR code decodes to the printed link ----------------------------------------------

def rasterize(svg: str, scale: int = 4) -> memoryview:
    """A grayscale image of a QR SVG made of rectangular subpaths (qrcode's path images)."""
    size = int(re.search(r'viewBox="0 0 (\d+) \d+"', svg).group(1))
    width = size * scale
    pixels = bytearray(b"\xff" * width * width)
    path = re.search(r' d="([^"]+)"', svg).group(1)
    for subpath in re.findall(r"M[^M]+", path):
        x = y = 0.0
        xs, ys = [], []
        for command, args in re.findall(r"([MHVhvLlz])([^MHVhvLlz]*)", subpath):
            numbers = [float(n) for n in re.findall(r"-?[\d.]+", args)]
            if command == "M" or command == "L":
                x, y = numbers
            elif command == "l":
                x, y = x + numbers[0], y + numbers[1]
            elif command == "H":
                x = numbers[0]
            elif command == "h":
                x += numbers[0]
            elif command == "V":
                y = numbers[0]
            elif command == "v":
                y += numbers[0]
            xs.append(x)
            ys.append(y)
        for row in range(int(min(ys) * scale), int(max(ys) * scale)):
            start, end = row * width + int(min(xs) * scale), row * width + int(max(xs) * scale)
            pixels[start:end] = b"\x00" * (end - start)
    return memoryview(bytes(pixels)).cast("B", (width, width))


def test_the_qr_code_decodes_to_the_printed_link(env, group):
    account(group, "A1001")
    account(group, "A1002")
    assert cli.main(["statements", "run", "--out", "qr.html"]) == 0
    page = printed(env / "qr.html")
    svgs = re.findall(r"<svg.*?</svg>", page, re.S)
    urls = qr_urls(page)
    assert len(svgs) == len(urls) == 2
    for svg, url in zip(svgs, urls):
        [barcode] = zxingcpp.read_barcodes(rasterize(svg))
        assert barcode.format == zxingcpp.BarcodeFormat.QRCode
        assert barcode.text == url


@pytest.mark.parametrize("length", [10, 45, 160, 400])  # versions 2 to 12: with and without version information
def test_qr_svg_draws_exactly_the_code_qrcode_makes(length):
    import qrcode

    from pops.qr import qr_svg

    data = "https://pay.example.org/q/" + "Q7K2-M9PX" * (length // 9 + 1)
    reference = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M)
    reference.add_data(data)
    reference.make(fit=True)  # qrcode's own mask choice
    svg = qr_svg(data)
    n = reference.modules_count
    drawn = [[False] * n for _ in range(n)]
    for x, y, w in re.findall(r"M(\d+),(\d+)h(\d+)", svg):
        for column in range(int(x) - 4, int(x) - 4 + int(w)):
            drawn[int(y) - 4][column] = True
    assert drawn == reference.modules
    assert f'viewBox="0 0 {n + 8} {n + 8}"' in svg
    [barcode] = zxingcpp.read_barcodes(rasterize(svg))
    assert barcode.text == data


def test_many_qr_codes_are_drawn_in_worker_processes_alike(monkeypatch):
    from pops.qr import qr_svg

    urls = [f"{BASE_URL}/q/QABC-DEFG-HJKM-NPQR-ST{n:02d}" for n in range(6)]
    monkeypatch.setattr(statements, "PARALLEL_FROM", 2)
    monkeypatch.setattr(statements.os, "cpu_count", lambda: 2)
    assert statements.qr_codes(urls) == [qr_svg(url) for url in urls]
