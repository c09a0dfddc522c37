"""Each guarantor's two years: visits, statements and payments told so every demo account shows its
rule, then appointments, all numbered as a PM system would."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

from .households import Households
from .practices import FACILITIES, TIMES
from .records import Appointment, Guarantor, Patient, age_on, business_day, money, weekday_after, weekday_before
from .visits import Visits


class Builder(Households, Visits):
    """Simulates the whole demo ledger for one (today, seed); the same pair always gives the same ledger."""

    # --- the ledger of one guarantor ----------------------------------------------------

    def ledger(self, g: Guarantor) -> None:
        rng, today = self.rng, self.today
        two_years_ago = today - dt.timedelta(days=730)
        start, end = two_years_ago, today - dt.timedelta(days=1)
        role = g.role
        if role in ("collections_shown", "collections_hidden", "collections_only"):
            patient = g.patients[0]
            first = weekday_before(today - dt.timedelta(days=rng.randint(430, 520)))
            kind = ("Abdominal ultrasound", ["76700"], "lab") if g.group == "RFM" else \
                ("Laceration repair", ["99214", "12002"], "clinic")
            enc = self.encounter(g, first, patient, kind, deductible=True, copay_paid=False)
            enc.in_collections = True
            if rng.random() < 0.6:
                second = weekday_before(first + dt.timedelta(days=rng.randint(20, 60)))
                enc = self.encounter(g, second, g.patients[-1],
                                     ("Office visit with labs", ["99214", "36415", "80053", "83036"], "clinic")
                                     if g.group == "RFM" else ("Asthma flare", ["99214", "94640"], "clinic"),
                                     deductible=True, copay_paid=False)
                enc.in_collections = True
            start = enc.adjudicated_on + dt.timedelta(days=120)  # when the agency took them over
        if role in ("zero_balance", "collections_only"):
            end = today - dt.timedelta(days=60)
        elif role == "under_one_dollar":
            end = today - dt.timedelta(days=110)
        elif role in ("main", "pediatrics_main"):
            end = today - dt.timedelta(days=60)
        busy = 2 if role in ("main", "pediatrics_main") else 0  # the accounts the demo shows off
        for on, patient, kind in self.visit_plan(g, start, end, busy):
            self.encounter(g, on, patient, kind)
        dates = self.cycle_dates(g, start)
        if role is not None and dates:
            self.open_balance_story(g, dates[-1])
        self.run_statements(g, dates)
        if role in ("zero_balance", "collections_only"):
            yesterday = today - dt.timedelta(days=1)
            last = max(line.on for e in g.encounters for line in e.lines)
            settle_on = business_day(yesterday, last, yesterday)
            self.pay(g, settle_on, self.open_balance(g, dt.date.max), "office")
        elif role == "under_one_dollar" and g.statements:
            stmt = g.statements[-1]
            left = money(Decimal(rng.randint(5, 95)) / 100)
            paid_on = stmt.on + dt.timedelta(days=rng.randint(1, (today - stmt.on).days - 1))
            paid_on = business_day(paid_on, stmt.on + dt.timedelta(days=1), today - dt.timedelta(days=1))
            self.pay(g, paid_on, stmt.balance - left, "mail")

    def open_balance_story(self, g: Guarantor, last_statement: dt.date) -> None:
        """Forced visits that leave an unpaid latest statement (and, for the main accounts,
        visits since it: one adjudicated with a balance, one still with insurance)."""
        today, rng = self.today, self.rng
        p = g.patients
        visit = weekday_before(last_statement - dt.timedelta(days=24))
        adjudicated = weekday_before(last_statement - dt.timedelta(days=3))
        if g.group == "RFM":
            kind = ("Abdominal ultrasound", ["76700"], "lab") if g.role == "main" else \
                rng.choice([("Abdominal ultrasound", ["76700"], "lab"),
                            ("Skin lesion biopsy", ["99213", "11102"], "clinic"),
                            ("Chest X-ray", ["71046"], "lab")])
        elif g.role == "pediatrics_main":
            kind = ("Laceration repair", ["99213", "12002"], "clinic")
        else:
            kind = rng.choice([("Laceration repair", ["99213", "12002"], "clinic"),
                               ("Asthma flare", ["99214", "94640"], "clinic")])
        self.encounter(g, visit, p[0], kind, adjudicate_on=adjudicated, deductible=True)
        if g.role not in ("main", "pediatrics_main"):
            return
        since = weekday_after(last_statement + dt.timedelta(days=2))
        sick = ("Sore throat", ["99213", "87880"], "clinic")
        self.encounter(g, since, p[1 % len(p)], sick,
                       adjudicate_on=weekday_before(today - dt.timedelta(days=2)),
                       deductible=True, copay_paid=True)
        recent = weekday_before(today - dt.timedelta(days=5))
        self.encounter(g, max(recent, since), p[2 % len(p)], ("Ear pain", ["99213"], "clinic"),
                       adjudicate_on=today, copay_paid=True)

    # --- appointments -------------------------------------------------------------------

    def slot(self, day: dt.date) -> dt.datetime:
        hour, minute = map(int, self.rng.choice(TIMES).split(":"))
        return dt.datetime.combine(day, dt.time(hour, minute))

    def appointments(self, g: Guarantor) -> None:
        rng, today = self.rng, self.today
        for enc in g.encounters:
            if (today - enc.on).days <= 270:
                g.appointments.append(Appointment(enc.patient, self.slot(enc.on), enc.provider,
                                                   enc.facility[1], enc.description, "completed"))
        if rng.random() < 0.35:
            patient = rng.choice(g.patients)
            day = weekday_before(today - dt.timedelta(days=rng.randint(10, 200)))
            g.appointments.append(Appointment(patient, self.slot(day), patient.pcp,
                                               FACILITIES[g.group][patient.clinic][0], "Follow-up visit",
                                               rng.choice(["cancelled", "no_show"])))
        upcoming = rng.choice([0, 1, 1, 2])
        if g.role in ("main", "pediatrics_main"):
            upcoming = 0
            self.upcoming(g, g.patients[0], 9, "Follow-up visit", "09:30")
            self.upcoming(g, g.patients[1], 16, "Sports physical", "15:45")
            self.upcoming(g, g.patients[2], 30, "Vaccines", "10:15")
        for _ in range(upcoming):
            patient = rng.choice(g.patients)
            adult = age_on(patient.born, today) >= 18
            reason = rng.choice(["Annual physical", "Follow-up visit", "Lab work", "Medication review"]
                                if adult else ["Well-child visit", "Follow-up visit", "Sports physical",
                                               "Vaccines"])
            self.upcoming(g, patient, rng.randint(1, 75), reason, None)

    def upcoming(self, g: Guarantor, patient: Patient, days: int, reason: str, time: str | None) -> None:
        day = weekday_after(self.today + dt.timedelta(days=days))
        at = self.slot(day) if time is None else dt.datetime.combine(day, dt.time.fromisoformat(time))
        location = FACILITIES[g.group][patient.clinic][0] if reason != "Lab work" or g.group != "RFM" \
            else FACILITIES["RFM"]["LAB"][0]
        g.appointments.append(Appointment(patient, at, patient.pcp, location, reason, "scheduled"))

    def simulate(self) -> list[Guarantor]:
        """Every guarantor with the ledger and appointments simulated, numbered."""
        guarantors = self.guarantors()
        for g in guarantors:
            self.ledger(g)
            self.appointments(g)
        self.number(guarantors)
        return guarantors

    def number(self, guarantors: list[Guarantor]) -> None:
        """Number encounters, receipts and appointments in date order, as a PM system would."""
        rng = self.rng
        encounters = sorted(((e.on, g.account, e.seq, e) for g in guarantors for e in g.encounters),
                            key=lambda t: t[:3])
        for n, (*_, enc) in enumerate(encounters, start=rng.randint(20, 40) * 1000 + 1):
            enc.id = f"E{n}"
        receipts = sorted(((r.on, g.account, i, r) for g in guarantors for i, r in enumerate(g.receipts)),
                          key=lambda t: t[:3])
        for n, (*_, receipt) in enumerate(receipts, start=rng.randint(60, 80) * 1000 + 1):
            receipt.number = f"R-{n}"
        appointments = sorted(((a.at, g.account, i, a) for g in guarantors for i, a in enumerate(g.appointments)),
                              key=lambda t: t[:3])
        for n, (*_, appointment) in enumerate(appointments, start=1001):
            appointment.id = f"AP-{n}"
