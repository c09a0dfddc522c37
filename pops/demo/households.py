"""The guarantors of both practices and the patients on each account."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

from .practices import (
    CHILDREN,
    CITIES,
    FACILITIES,
    FEMALE,
    GROUP_SIZES,
    HOME_CLINICS,
    MALE,
    MEDICARE,
    PLAN_WEIGHTS,
    PLANS,
    SPECIAL,
    STREETS,
    SURNAMES,
)
from .records import Guarantor, Patient, Simulation, money


class Households(Simulation):
    """Invents the guarantors, their contact details and the patients on their accounts."""

    def born(self, age: int) -> dt.date:
        return self.today - dt.timedelta(days=age * 365 + self.rng.randint(5, 360))

    def guarantors(self) -> list[Guarantor]:
        rng = self.rng
        surnames = rng.sample(SURNAMES, sum(GROUP_SIZES.values()))
        females, males = rng.sample(FEMALE, len(FEMALE)), rng.sample(MALE, len(MALE))
        result = []
        for group, size in GROUP_SIZES.items():
            prefix = "A1" if group == "RFM" else "A2"
            for n in range(1, size + 1):
                account = f"{prefix}{n:03d}"
                role = SPECIAL.get(account)
                if role == "main":
                    result.append(self.main_guarantor())
                    continue
                female = (rng.random() < 0.6 and bool(females)) or not males
                first = (females if female else males).pop()
                last = surnames.pop()
                result.append(self.guarantor(account, group, role, first, last, n))
        return result

    def contact(self, g: Guarantor, n: int) -> None:
        rng = self.rng
        domain = rng.choice(["example.com", "example.org"])
        handle = f"{g.first_name}.{g.last_name}".lower().replace("'", "")
        g.email = f"{handle}@{domain}" if rng.random() < 0.9 else None
        area = "217" if g.group == "RFM" else "216"
        g.mobile = f"+1{area}55501{n:02d}" if rng.random() < 0.85 or g.email is None else None
        g.sms_opt_out = g.mobile is not None and rng.random() < 0.1
        city, state, zip_code = rng.choice(CITIES[g.group])
        g.address = {"line1": f"{rng.randint(10, 4999)} {rng.choice(STREETS)}", "city": city,
                     "state": state, "zip": zip_code}

    def guarantor(self, account: str, group: str, role: str | None, first: str, last: str,
                  n: int) -> Guarantor:
        rng = self.rng
        if group == "RFM":
            age = rng.choice([rng.randint(26, 45), rng.randint(36, 62), rng.randint(66, 82)])
        else:
            age = rng.randint(27, 48)
        if role is not None:
            age = min(age, 58)  # special accounts carry commercial insurance
        if age >= 65:
            plan = MEDICARE
        elif role is not None:
            plan = PLANS[group][rng.randint(0, 3)]
        else:
            plan = rng.choices(PLANS[group], PLAN_WEIGHTS[group])[0]
        behaviour = "unpaid_latest" if role else rng.choices(
            ["prompt", "unpaid_latest", "partial", "every_other"], [35, 30, 20, 15])[0]
        if role in ("zero_balance", "collections_only"):
            behaviour = "prompt"
        g = Guarantor(account, group, role, first, last, self.born(age), plan, behaviour,
                       cycle_day=rng.randint(1, 28))
        if role == "pediatrics_main":  # a statement three weeks old, still due
            g.cycle_day = min(28, (self.today - dt.timedelta(days=20)).day)
        if rng.random() < 0.12:
            g.preferred_name = {"Robert": "Bob", "Michael": "Mike", "Jennifer": "Jen",
                                "Daniel": "Dan", "Thomas": "Tom", "Samuel": "Sam",
                                "Patrick": "Pat", "Gregory": "Greg", "Natalie": "Nat",
                                "Rachel": "Rae"}.get(first)
        self.contact(g, n)
        if role == "no_mobile":
            g.mobile, g.sms_opt_out = None, False
            g.email = g.email or f"{first}.{last}@example.com".lower().replace("'", "")
        elif role == "sms_opt_out":
            g.mobile, g.sms_opt_out = f"+121755501{n:02d}", True
        elif role is not None:
            g.mobile = g.mobile or f"+1{'217' if group == 'RFM' else '216'}55501{n:02d}"
            g.email = g.email or f"{first}.{last}@example.org".lower().replace("'", "")
        if role == "escrow":
            g.escrow = Decimal(rng.choice(["150.00", "200.00", "250.00", "300.00"]))
        elif role == "unapplied":
            g.unapplied = money(Decimal(rng.randint(15, 90)))
        self.household(g, age)
        return g

    def new_patient(self, g: Guarantor, first: str, last: str, born: dt.date) -> Patient:
        clinic = g.patients[0].clinic if g.patients else self.rng.choice(HOME_CLINICS[g.group])
        providers = FACILITIES[g.group][clinic][1]
        pcp = g.patients[0].pcp if g.patients and self.rng.random() < 0.7 else self.rng.choice(providers[:2])
        patient = Patient(f"P{len(g.patients) + 1}", first, last, born, clinic, pcp)
        g.patients.append(patient)
        return patient

    def household(self, g: Guarantor, age: int) -> None:
        rng = self.rng
        children = rng.sample(CHILDREN, 4)
        if g.group == "LPP":
            count = 3 if g.role == "pediatrics_main" else rng.choice([1, 1, 2, 2, 2, 3, 3, 4])
            for first in children[:count]:
                self.new_patient(g, first, g.last_name, self.born(rng.randint(0, min(17, age - 20))))
            return
        self.new_patient(g, g.first_name, g.last_name, g.born)
        if age < 75 and rng.random() < 0.3:
            spouse = rng.choice(MALE if g.first_name in FEMALE else FEMALE)
            if spouse != g.first_name:
                self.new_patient(g, spouse, g.last_name, self.born(max(22, age + rng.randint(-4, 4))))
        if age < 52:
            for first in children[: rng.choice([0, 0, 1, 1, 2, 3])]:
                if len(g.patients) < 4:
                    self.new_patient(g, first, g.last_name, self.born(rng.randint(1, min(17, age - 22))))

    def main_guarantor(self) -> Guarantor:
        g = Guarantor(
            "A1001", "RFM", "main", "Maria", "Lopez", dt.date(1981, 4, 12),
            plan=PLANS["RFM"][0], behaviour="unpaid_latest",
            cycle_day=min(28, (self.today - dt.timedelta(days=14)).day),
            preferred_name="Mari", email="maria@example.org", mobile="+15555550123",
            address={"line1": "12 Elm St", "city": "Springfield", "state": "IL", "zip": "62701"},
        )
        maria = Patient("P1", "Maria", "Lopez", g.born, "MAIN", "Dr. Ann Okafor")
        leo = Patient("P2", "Leo", "Lopez", dt.date(2015, 8, 30), "MAIN", "Dr. James Whitfield")
        sofia = Patient("P3", "Sofia", "Lopez", dt.date(2019, 2, 17), "MAIN", "Dr. James Whitfield")
        g.patients = [maria, leo, sofia]
        return g
