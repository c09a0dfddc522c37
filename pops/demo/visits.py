"""Visits on the simulated ledger: what each patient is seen for, charged, copaid and adjudicated."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

from .billing import Billing
from .practices import FACILITIES, LAB_FACILITY, SELF_PAY_DISCOUNT, SERVICES, Plan
from .records import ZERO, Encounter, Guarantor, Patient, age_on, anniversary, money, weekday_before


class Visits(Billing):
    """Charges visits, takes copays at the desk and adjudicates claims (payments come from Billing)."""

    def visit_kinds(self, patient: Patient, on: dt.date) -> list[tuple[str, list[str], str]]:
        """(description, codes, where) choices for an ordinary visit; where is "clinic" or "lab"."""
        age = age_on(patient.born, on)
        flu = on.month in (9, 10, 11, 12)
        if age < 18:
            kinds = [("Sick visit", ["99213"], "clinic"), ("Sore throat", ["99213", "87880"], "clinic"),
                     ("Ear pain", ["99213"], "clinic"), ("Cough and fever", ["99214", "87811"], "clinic"),
                     ("Asthma flare", ["99214", "94640"], "clinic"),
                     ("Laceration repair", ["99213", "12002"], "clinic")]
            if flu:
                kinds += [("Flu symptoms", ["99214", "87804"], "clinic"),
                          ("Flu shot", ["90686", "90460"], "clinic")]
            return kinds
        kinds = [("Office visit", ["99213"], "clinic"), ("Follow-up visit", ["99214"], "clinic"),
                 ("Office visit with labs", ["99214", "36415", "80053", "83036"], "clinic"),
                 ("Sore throat", ["99213", "87880"], "clinic"),
                 ("Ear wax removal", ["99212", "69210"], "clinic"),
                 ("Skin lesion biopsy", ["99213", "11102"], "clinic"),
                 ("Ankle injury", ["99213", "73610"], "clinic"),
                 ("Lab work", ["36415", "80053", "85025", "84443"], "lab"),
                 ("Chest X-ray", ["71046"], "lab"),
                 ("Abdominal ultrasound", ["76700"], "lab")]
        if age >= 40:
            kinds += [("Chest pain evaluation", ["99214", "93000"], "clinic"),
                      ("Shoulder pain", ["99213", "73030"], "clinic")]
        if age >= 50:
            kinds += [("Shingles vaccine", ["90750", "90471"], "clinic")]
        if flu:
            kinds += [("Flu shot", ["90686", "90471"], "clinic"),
                      ("Flu symptoms", ["99213", "87804"], "clinic")]
        return kinds

    def preventive(self, patient: Patient, on: dt.date) -> tuple[str, list[str], str]:
        age = age_on(patient.born, on)
        if age >= 18:
            code = "99395" if age < 40 else "99396" if age < 65 else "99397"
            codes = [code, "36415", "80061", "85025"]
            if age >= 65 and self.rng.random() < 0.3:
                codes += ["90732", "90471"]
            return "Annual physical", codes, "clinic"
        code = "99391" if age < 1 else "99392" if age < 5 else "99393" if age < 12 else "99394"
        shots = {0: ["90700", "90713", "90744"], 1: ["90633", "90700"], 2: ["90633"],
                 4: ["90707", "90716"], 5: ["90707", "90716"], 11: ["90715", "90734", "90651"],
                 12: ["90651"], 16: ["90734"]}.get(age, [])
        codes = [code] + (["96110"] if age < 3 else ["99173", "92551"] if age in (4, 5, 6) else
                          ["99173"] if age >= 3 else [])
        if shots:
            codes += shots + ["90460"] + (["90461"] if len(shots) > 1 else [])
        return ("Well-child visit" if age < 12 else "Adolescent well visit"), codes, "clinic"

    def visit_plan(self, g: Guarantor, start: dt.date, end: dt.date,
                   extra: int = 0) -> list[tuple[dt.date, Patient, tuple]]:
        rng = self.rng
        visits = []
        span = (end - start).days
        if span < 1:
            return visits
        for patient in g.patients:
            adult = age_on(patient.born, self.today) >= 18
            for year in range(start.year, end.year + 1):
                if not adult or rng.random() < 0.6:
                    day = anniversary(patient.born, year) + dt.timedelta(days=rng.randint(-20, 45))
                    if start <= day <= end:
                        day = weekday_before(day)
                        visits.append((day, patient, self.preventive(patient, day)))
            sick = rng.choice([0, 1, 1, 2, 2, 3] if adult else [0, 1, 2, 2, 3, 4]) + extra
            if age_on(patient.born, self.today) >= 65:
                sick += rng.randint(1, 2)
            for _ in range(round(sick * span / 730 + 0.3)):
                day = weekday_before(start + dt.timedelta(days=rng.randint(0, span)))
                if day < start:
                    continue
                visits.append((day, patient, rng.choice(self.visit_kinds(patient, day))))
        if not visits:  # everyone on the ledger has been seen at least once
            patient = rng.choice(g.patients)
            day = weekday_before(start + dt.timedelta(days=rng.randint(0, span)))
            if day >= start:
                visits.append((day, patient, rng.choice(self.visit_kinds(patient, day))))
        visits.sort(key=lambda v: (v[0], v[1].id))
        return visits[-14:]

    def encounter(self, g: Guarantor, on: dt.date, patient: Patient, kind: tuple[str, list[str], str],
                  *, adjudicate_on: dt.date | None = None, deductible: bool | None = None,
                  copay_paid: bool | None = None) -> Encounter:
        """Charge a visit, take the copay at the desk, and adjudicate it (or leave it pending)."""
        rng = self.rng
        description, codes, where = kind
        lab = LAB_FACILITY[g.group] if where == "lab" else None
        code = lab or patient.clinic
        name, providers = FACILITIES[g.group][code]
        provider = patient.pcp
        if not lab and description not in ("Annual physical", "Well-child visit") and rng.random() < 0.3:
            provider = rng.choice(providers)
        self.seq += 1
        enc = Encounter(self.seq, patient, on, provider, (code, name), description)
        for cpt in codes:
            text, amount, _ = SERVICES[cpt]
            enc.add("charge", Decimal(amount), on, text, code=cpt)
        plan = g.plan
        office_visit = next((c for c in enc.charges if SERVICES[c.code][2] == "em"), None)
        copay = plan.copay if office_visit is not None and plan.payer else ZERO
        if copay_paid is None:
            copay_paid = rng.random() < 0.85
        if copay and copay_paid:
            self.pay_line(g, enc, office_visit, copay, on, "Copay", source="office")
        if plan.payer is None:
            self.self_pay(g, enc, rng.random() < 0.5 if copay_paid else False)
            g.encounters.append(enc)
            return enc
        if adjudicate_on is None:
            adjudicate_on = weekday_before(on + dt.timedelta(days=rng.randint(12, 35)))
        if adjudicate_on >= self.today:
            enc.insurance_pending = sum((c.amount for c in enc.charges), ZERO) - copay
        else:
            if deductible is None:
                deductible = rng.random() < plan.deductible_chance
            self.adjudicate(enc, plan, adjudicate_on, deductible, copay)
        g.encounters.append(enc)
        return enc

    def adjudicate(self, enc: Encounter, plan: Plan, on: dt.date, deductible: bool, copay: Decimal) -> None:
        enc.adjudicated_on = on
        for charge in enc.charges:
            category = SERVICES[charge.code][2]
            allowed = money(charge.amount * plan.allowed)
            if category in ("preventive", "vaccine"):
                share = ZERO
            elif category == "em" and copay:
                share = copay
            elif deductible:
                share = allowed
            else:
                share = money(allowed * plan.coinsurance)
            if allowed - share > 0:
                enc.add("insurance_payment", -(allowed - share), on, plan.payer, applies_to=charge.id)
            enc.add("adjustment", -(charge.amount - allowed), on, "Contractual adjustment",
                    applies_to=charge.id)

    def self_pay(self, g: Guarantor, enc: Encounter, paid_at_visit: bool) -> None:
        enc.adjudicated_on = enc.on
        for charge in enc.charges:
            enc.add("adjustment", -money(charge.amount * SELF_PAY_DISCOUNT), enc.on, "Self-pay discount",
                    applies_to=charge.id)
        if paid_at_visit:
            self.pay(g, enc.on, enc.balance_on(enc.on), "office", only=[enc], description="Paid at visit")
