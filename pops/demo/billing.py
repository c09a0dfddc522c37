"""Money on the simulated ledger: receipts, payments applied oldest charge first, monthly statements."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

from .practices import CARDS
from .records import ZERO, Encounter, Guarantor, Line, Receipt, Simulation, Statement, business_day, money


class Billing(Simulation):
    """Takes payments and issues statements the way the practice posts them."""

    def receipt(self, g: Guarantor, on: dt.date, source: str) -> Receipt:
        rng = self.rng
        if source == "mail":
            receipt = Receipt(on, "check", "mail")
        elif rng.random() < 0.8:
            receipt = Receipt(on, "card", "office", rng.choice(CARDS), f"{rng.randint(0, 9999):04d}")
        else:
            receipt = Receipt(on, "cash", "office")
        g.receipts.append(receipt)
        return receipt

    def pay_line(self, g: Guarantor, enc: Encounter, charge: Line, amount: Decimal, on: dt.date,
                 description: str, source: str) -> None:
        receipt = self.receipt(g, on, source)
        enc.add("patient_payment", -amount, on, description, applies_to=charge.id, receipt=receipt)
        receipt.applications.append((enc, charge.id, money(amount)))

    def pay(self, g: Guarantor, on: dt.date, amount: Decimal, source: str, *,
            only: list[Encounter] | None = None, description: str = "") -> Receipt | None:
        """A payment applied to the oldest open charges first, as the practice posts it."""
        left = money(amount)
        if left <= 0:
            return None
        receipt = self.receipt(g, on, source)
        if not description:
            description = "Patient payment - check" if receipt.method == "check" else \
                f"Patient payment - {receipt.card_type or 'cash'}"
        candidates = only or sorted((e for e in g.encounters if e.billed_by(on)), key=lambda e: (e.on, e.seq))
        for enc in candidates:
            for charge in enc.charges:
                due = enc.remaining(charge, dt.date.max)
                if due <= 0 or left <= 0:
                    continue
                part = min(due, left)
                enc.add("patient_payment", -part, on, description, applies_to=charge.id, receipt=receipt)
                receipt.applications.append((enc, charge.id, part))
                left -= part
        if not receipt.applications:
            g.receipts.remove(receipt)
            return None
        return receipt

    def open_balance(self, g: Guarantor, on: dt.date) -> Decimal:
        return sum((e.balance_on(on) for e in g.encounters if e.billed_by(on)), ZERO)

    def statement(self, g: Guarantor, on: dt.date) -> Statement | None:
        listed = [e for e in sorted(g.encounters, key=lambda e: (e.on, e.seq))
                  if e.billed_by(on) and e.balance_on(on) != 0]
        balance = sum((e.balance_on(on) for e in listed), ZERO)
        if balance <= 0:
            return None
        stmt = Statement(on, balance, listed)
        g.statements.append(stmt)
        return stmt

    def cycle_dates(self, g: Guarantor, start: dt.date) -> list[dt.date]:
        last = self.today - dt.timedelta(days=4)
        year, month = start.year, start.month
        dates = []
        while True:
            day = dt.date(year, month, g.cycle_day)
            if day > last:
                return dates
            if day >= start:
                dates.append(day)
            year, month = (year + 1, 1) if month == 12 else (year, month + 1)

    def run_statements(self, g: Guarantor, dates: list[dt.date]) -> None:
        rng = self.rng
        for i, on in enumerate(dates):
            stmt = self.statement(g, on)
            latest = i == len(dates) - 1
            if stmt is None:
                continue
            until = min(dates[i + 1] if not latest else self.today, self.today) - dt.timedelta(days=1)
            first = on + dt.timedelta(days=5)
            if first > until:
                continue
            if g.behaviour == "prompt":
                amount = stmt.balance
            elif g.behaviour == "unpaid_latest":
                amount = ZERO if latest else stmt.balance
            elif g.behaviour == "partial":
                amount = ZERO if latest and rng.random() < 0.5 else \
                    min(stmt.balance, Decimal(rng.choice([25, 40, 50, 75, 100])))
            else:  # every_other: lets one statement ride, then pays the lot
                amount = stmt.balance if i % 2 else ZERO
            paid_on = first + dt.timedelta(days=rng.randint(0, min(15, (until - first).days)))
            paid_on = business_day(paid_on, first, until)
            self.pay(g, paid_on, amount, "mail" if rng.random() < 0.55 else "office")
