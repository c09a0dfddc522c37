"""A realistic demo ledger in the import format (spec/import-v1.md), dated relative to today.

The ledger is simulated rather than written out: visits are charged, insurance adjudicates them
weeks later, monthly statements are computed from the lines as they stood on the statement date,
and guarantors pay (or don't) after each statement. Balances therefore always add up.
"""
from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal

FORMAT = "pops-import/1"

DEMO_ACCOUNTS = {
    "main": "A1001",  # Maria Lopez: unpaid statement, visits since it, upcoming appointments
    "pediatrics_main": "A2001",  # the same story in the other group (new charges in amount due)
    "zero_balance": "A1004",
    "escrow": "A1007",
    "collections_shown": "A1010",  # collections plus an open balance, Show Collections on
    "collections_only": "A1013",  # nothing left but a collections balance
    "sms_opt_out": "A1016",
    "unapplied": "A2005",
    "collections_hidden": "A2008",  # collections plus an open balance, Show Collections off
    "no_mobile": "A2011",
    "under_one_dollar": "A2014",
}

DEMO_SIGN_IN = {
    "account": "A1001",
    "group": "RFM",
    "first_name": "Maria",
    "preferred_name": "Mari",
    "last_name": "Lopez",
    "date_of_birth": "1981-04-12",
}

CENT = Decimal("0.01")
ZERO = Decimal("0.00")
STATEMENT_DUE_DAYS = 25

GROUPS = [
    {
        "code": "RFM",
        "name": "Riverside Family Medicine",
        "brand_color": "#0b6e4f",
        "timezone": "America/Chicago",
        "footer_phone": "(217) 555-0100",
        "footer_email": "billing@riverside-fm.example.org",
        "footer_text": "Riverside Family Medicine · 400 River Rd, Springfield, IL 62701 · "
        "Billing office Mon–Fri 8:00–5:00",
        "show_collections": True,
        "show_current_balance": True,
        "include_new_charges_in_amount_due": False,
        "email_receipts": True,
        "enable_credit_card": True,
        "enable_google_pay": False,
        "enable_apple_pay": False,
        "enable_payment_method_storage": True,
        "require_cvv": True,
        "quickpay_max_uses": 10,
        "link_days": 365,
        "desk_qr_minutes": 15,
        "session_idle_timeout": 15,
        "allow_session_extension": True,
        "enable_appointments": True,
        "landing_page": "home",
        "print_link_and_qr_on_statements": True,
    },
    {
        "code": "LPP",
        "name": "Lakeside Pediatric Partners",
        "brand_color": "#5b3fa8",
        "timezone": "America/New_York",
        "footer_phone": "(216) 555-0150",
        "footer_email": "accounts@lakeside-peds.example.com",
        "footer_text": "Lakeside Pediatric Partners · 88 Shore Dr, Lakewood, OH 44107 · "
        "Questions about your bill? Call us weekdays 9:00–4:30",
        "show_collections": False,
        "show_current_balance": True,
        "include_new_charges_in_amount_due": True,
        "email_receipts": True,
        "enable_credit_card": True,
        "enable_google_pay": True,
        "enable_apple_pay": True,
        "enable_payment_method_storage": False,
        "require_cvv": True,
        "quickpay_max_uses": 5,
        "link_days": 180,
        "desk_qr_minutes": 10,
        "session_idle_timeout": 10,
        "allow_session_extension": False,
        "enable_appointments": True,
        "landing_page": "pay",
        "print_link_and_qr_on_statements": True,
    },
]

# CPT code: (description, charge, category). Category decides the patient's share: preventive
# care and vaccines cost insured patients nothing, office visits carry the copay, the rest
# coinsurance or the deductible.
SERVICES: dict[str, tuple[str, str, str]] = {
    "99212": ("Office visit, est. patient, straightforward", "110.00", "em"),
    "99213": ("Office visit, est. patient, low complexity", "165.00", "em"),
    "99214": ("Office visit, est. patient, moderate complexity", "240.00", "em"),
    "99391": ("Preventive visit, infant", "195.00", "preventive"),
    "99392": ("Preventive visit, age 1-4", "205.00", "preventive"),
    "99393": ("Preventive visit, age 5-11", "215.00", "preventive"),
    "99394": ("Preventive visit, age 12-17", "230.00", "preventive"),
    "99395": ("Preventive visit, age 18-39", "245.00", "preventive"),
    "99396": ("Preventive visit, age 40-64", "265.00", "preventive"),
    "99397": ("Preventive visit, age 65+", "285.00", "preventive"),
    "36415": ("Venipuncture", "18.00", "lab"),
    "80053": ("Comprehensive metabolic panel", "62.00", "lab"),
    "80061": ("Lipid panel", "55.00", "preventive"),
    "85025": ("Complete blood count (CBC)", "38.00", "lab"),
    "83036": ("Hemoglobin A1c", "42.00", "lab"),
    "84443": ("Thyroid stimulating hormone (TSH)", "58.00", "lab"),
    "81002": ("Urinalysis, non-automated", "14.00", "lab"),
    "87880": ("Rapid strep test", "32.00", "lab"),
    "87804": ("Rapid influenza test", "45.00", "lab"),
    "87811": ("COVID-19 antigen test", "48.00", "lab"),
    "93000": ("Electrocardiogram (ECG)", "85.00", "procedure"),
    "71046": ("Chest X-ray, 2 views", "140.00", "imaging"),
    "73610": ("Ankle X-ray, 3 views", "115.00", "imaging"),
    "73030": ("Shoulder X-ray, 2 views", "120.00", "imaging"),
    "76700": ("Ultrasound, abdomen complete", "380.00", "imaging"),
    "77067": ("Screening mammogram, bilateral", "260.00", "preventive"),
    "11102": ("Skin biopsy, tangential", "210.00", "procedure"),
    "12002": ("Simple laceration repair, 2.6-7.5 cm", "230.00", "procedure"),
    "69210": ("Cerumen removal", "85.00", "procedure"),
    "94640": ("Nebulizer treatment", "48.00", "procedure"),
    "96110": ("Developmental screening", "22.00", "preventive"),
    "99173": ("Visual acuity screening", "15.00", "preventive"),
    "92551": ("Hearing screening", "18.00", "preventive"),
    "90686": ("Influenza vaccine, quadrivalent", "38.00", "vaccine"),
    "90471": ("Immunization administration", "28.00", "vaccine"),
    "90460": ("Immunization admin with counseling, first", "32.00", "vaccine"),
    "90461": ("Immunization admin with counseling, each add'l", "20.00", "vaccine"),
    "90715": ("Tdap vaccine", "62.00", "vaccine"),
    "90732": ("Pneumococcal vaccine (PPSV23)", "128.00", "vaccine"),
    "90750": ("Zoster vaccine (Shingrix)", "205.00", "vaccine"),
    "90700": ("DTaP vaccine", "42.00", "vaccine"),
    "90713": ("Polio vaccine (IPV)", "48.00", "vaccine"),
    "90744": ("Hepatitis B vaccine, pediatric", "35.00", "vaccine"),
    "90633": ("Hepatitis A vaccine, pediatric", "52.00", "vaccine"),
    "90707": ("MMR vaccine", "95.00", "vaccine"),
    "90716": ("Varicella vaccine", "145.00", "vaccine"),
    "90651": ("HPV vaccine (9-valent)", "285.00", "vaccine"),
    "90734": ("Meningococcal vaccine (MenACWY)", "165.00", "vaccine"),
}

FACILITIES = {
    "RFM": {
        "MAIN": ("Riverside Main St Clinic", ["Dr. Ann Okafor", "Dr. James Whitfield", "Nina Castillo, NP"]),
        "NORTH": ("Riverside Northgate Clinic", ["Dr. Priya Raman", "Dr. Marcus Bell", "Owen Hart, PA-C"]),
        "LAB": ("Riverside Lab & Imaging", []),
    },
    "LPP": {
        "SHORE": ("Lakeside Pediatrics - Shore Drive", ["Dr. Helen Brooks", "Dr. Samuel Ortiz", "Tom Reyes, CPNP"]),
        "WEST": ("Lakeside Pediatrics - Westlake", ["Dr. Grace Lindqvist", "Dr. Kwame Mensah", "Julia Abrams, CPNP"]),
    },
}
HOME_CLINICS = {"RFM": ["MAIN", "NORTH"], "LPP": ["SHORE", "WEST"]}
LAB_FACILITY = {"RFM": "LAB", "LPP": None}


@dataclass(frozen=True)
class _Plan:
    payer: str | None  # None: self-pay
    allowed: Decimal  # share of the charge the payer allows
    copay: Decimal
    coinsurance: Decimal
    deductible_chance: float


def _plan(payer: str | None, allowed: str, copay: str, coinsurance: str, deductible: float) -> _Plan:
    return _Plan(payer, Decimal(allowed), Decimal(copay), Decimal(coinsurance), deductible)


PLANS = {
    "RFM": [
        _plan("Blue Cross Blue Shield of Illinois", "0.62", "25.00", "0.20", 0.30),
        _plan("Aetna", "0.58", "30.00", "0.20", 0.30),
        _plan("UnitedHealthcare", "0.60", "35.00", "0.20", 0.35),
        _plan("Cigna", "0.57", "40.00", "0.20", 0.45),
        _plan("Health Alliance", "0.60", "20.00", "0.10", 0.20),
        _plan("Illinois Medicaid", "0.42", "0.00", "0.00", 0.0),
        _plan(None, "0.70", "0.00", "0.00", 0.0),
    ],
    "LPP": [
        _plan("Medical Mutual of Ohio", "0.60", "25.00", "0.20", 0.30),
        _plan("Anthem Blue Cross", "0.62", "30.00", "0.20", 0.35),
        _plan("Aetna", "0.58", "30.00", "0.20", 0.30),
        _plan("UnitedHealthcare", "0.60", "35.00", "0.20", 0.40),
        _plan("CareSource (Ohio Medicaid)", "0.42", "0.00", "0.00", 0.0),
        _plan(None, "0.70", "0.00", "0.00", 0.0),
    ],
}
PLAN_WEIGHTS = {"RFM": [22, 18, 16, 12, 8, 10, 4], "LPP": [24, 20, 14, 12, 22, 4]}
MEDICARE = _plan("Medicare", "0.50", "0.00", "0.20", 0.10)
SELF_PAY_DISCOUNT = Decimal("0.30")

FEMALE = ["Jennifer", "Aisha", "Emily", "Grace", "Olivia", "Hannah", "Priya", "Rachel", "Tanya",
          "Keisha", "Laura", "Megan", "Sarah", "Nicole", "Fatima", "Mei", "Rosa", "Claire",
          "Danielle", "Ingrid", "Yolanda", "Brenda", "Carmen", "Anjali", "Leah", "Natalie"]
MALE = ["James", "Robert", "Michael", "David", "Daniel", "Marcus", "Andre", "Kevin", "Brian",
        "Thomas", "Luis", "Omar", "Wei", "Samuel", "Patrick", "Jamal", "Ethan", "Victor",
        "Gregory", "Raymond", "Hector", "Tyrone", "Dmitri", "Kenji"]
CHILDREN = ["Leo", "Sofia", "Mateo", "Ava", "Noah", "Mia", "Liam", "Zoe", "Elijah", "Chloe",
            "Lucas", "Aria", "Jayden", "Layla", "Isaac", "Nora", "Caleb", "Maya", "Owen", "Ruby",
            "Amir", "Iris", "Theo", "Jada", "Kai", "Esme", "Miles", "Hazel", "Ezra", "Lila"]
SURNAMES = ["Anderson", "Nguyen", "Patel", "Johnson", "Williams", "Garcia", "Martinez", "Kim",
            "Chen", "Robinson", "Walker", "Hughes", "Bennett", "Foster", "Ramirez", "Sullivan",
            "Murphy", "Kowalski", "Haddad", "Jensen", "Novak", "Delgado", "Coleman", "Ferreira",
            "Ibrahim", "Takahashi", "Schmidt", "O'Brien", "Russo", "Mendoza", "Washington",
            "Fischer", "Carter", "Gallagher", "Petrov", "Adeyemi", "Larsen", "Moreau", "Whitaker",
            "Yilmaz", "Quinn", "Dubois", "Hernandez", "Singh"]
STREETS = ["Elm St", "Oak Ave", "Walnut St", "Lakeview Dr", "Cedar Ln", "Washington St",
           "Maple Ave", "Chestnut St", "Birch Ct", "Prairie Rd", "Willow Way", "Hillcrest Dr",
           "Park Pl", "Orchard Ln", "Harbor View Rd", "Juniper St"]
CITIES = {
    "RFM": [("Springfield", "IL", "62704"), ("Springfield", "IL", "62702"), ("Chatham", "IL", "62629"),
            ("Rochester", "IL", "62563"), ("Sherman", "IL", "62684"), ("Riverton", "IL", "62561")],
    "LPP": [("Lakewood", "OH", "44107"), ("Rocky River", "OH", "44116"), ("Bay Village", "OH", "44140"),
            ("Westlake", "OH", "44145"), ("Cleveland", "OH", "44102")],
}
CARDS = ["Visa", "Visa", "Visa", "Mastercard", "Mastercard", "Discover", "American Express"]
TIMES = [f"{h:02d}:{m:02d}" for h in range(8, 17) for m in (0, 15, 30, 45) if (h, m) <= (16, 30)]

# Special accounts: group, payment behaviour and what the simulation must guarantee.
SPECIAL = {
    "A1001": "main",
    "A1004": "zero_balance",
    "A1007": "escrow",
    "A1010": "collections_shown",
    "A1013": "collections_only",
    "A1016": "sms_opt_out",
    "A2001": "pediatrics_main",
    "A2005": "unapplied",
    "A2008": "collections_hidden",
    "A2011": "no_mobile",
    "A2014": "under_one_dollar",
}
GROUP_SIZES = {"RFM": 24, "LPP": 16}


def money(value: Decimal | str | int) -> Decimal:
    return Decimal(value).quantize(CENT, rounding=ROUND_HALF_UP)


def money_text(value: Decimal) -> str:
    """An import-format money string: two places, never "-0.00"."""
    amount = money(value)
    return str(amount if amount != 0 else ZERO)


def _weekday_before(day: dt.date) -> dt.date:
    while day.weekday() >= 5:
        day -= dt.timedelta(days=1)
    return day


def _weekday_after(day: dt.date) -> dt.date:
    while day.weekday() >= 5:
        day += dt.timedelta(days=1)
    return day


def _business_day(day: dt.date, earliest: dt.date, latest: dt.date) -> dt.date:
    """The weekday nearest after `day` within [earliest, latest], else the one before, else `day`."""
    if (after := _weekday_after(day)) <= latest:
        return after
    if (before := _weekday_before(day)) >= earliest:
        return before
    return day


def _anniversary(born: dt.date, year: int) -> dt.date:
    try:
        return born.replace(year=year)
    except ValueError:  # born on 29 February
        return dt.date(year, 2, 28)


def _age(born: dt.date, on: dt.date) -> int:
    return on.year - born.year - ((on.month, on.day) < (born.month, born.day))


@dataclass(eq=False)
class _Patient:
    id: str
    first_name: str
    last_name: str
    born: dt.date
    clinic: str
    pcp: str


@dataclass(eq=False)
class _Receipt:
    on: dt.date
    method: str
    source: str
    card_type: str | None = None
    last4: str | None = None
    applications: list[tuple[_Encounter, str, Decimal]] = field(default_factory=list)
    number: str = ""

    @property
    def amount(self) -> Decimal:
        return sum((amount for _, _, amount in self.applications), ZERO)


@dataclass(eq=False)
class _Line:
    id: str
    kind: str
    amount: Decimal
    on: dt.date
    description: str
    code: str | None = None
    applies_to: str | None = None
    receipt: _Receipt | None = None


@dataclass(eq=False)
class _Encounter:
    seq: int
    patient: _Patient
    on: dt.date
    provider: str
    facility: tuple[str, str]
    description: str
    lines: list[_Line] = field(default_factory=list)
    insurance_pending: Decimal = ZERO
    in_collections: bool = False
    adjudicated_on: dt.date | None = None
    id: str = ""

    def add(self, kind: str, amount: Decimal, on: dt.date, description: str, **extra) -> _Line:
        line = _Line(str(len(self.lines) + 1), kind, money(amount), on, description, **extra)
        self.lines.append(line)
        return line

    @property
    def charges(self) -> list[_Line]:
        return [line for line in self.lines if line.kind == "charge"]

    def billed_by(self, day: dt.date) -> bool:
        """On the patient's statements by `day`: adjudicated and not moved to collections."""
        return not self.in_collections and self.adjudicated_on is not None and self.adjudicated_on <= day

    def balance_on(self, day: dt.date) -> Decimal:
        return sum((line.amount for line in self.lines if line.on <= day), ZERO) - self.insurance_pending

    def remaining(self, charge: _Line, day: dt.date) -> Decimal:
        return sum(
            (line.amount for line in self.lines
             if line.on <= day and (line is charge or line.applies_to == charge.id)),
            ZERO,
        )


@dataclass(eq=False)
class _Statement:
    on: dt.date
    balance: Decimal
    encounters: list[_Encounter]


@dataclass(eq=False)
class _Appointment:
    patient: _Patient
    at: dt.datetime
    provider: str
    location: str
    reason: str
    status: str
    id: str = ""


@dataclass(eq=False)
class _Guarantor:
    account: str
    group: str
    role: str | None
    first_name: str
    last_name: str
    born: dt.date
    plan: _Plan
    behaviour: str
    cycle_day: int
    preferred_name: str | None = None
    email: str | None = None
    mobile: str | None = None
    sms_opt_out: bool = False
    address: dict | None = None
    escrow: Decimal = ZERO
    unapplied: Decimal = ZERO
    patients: list[_Patient] = field(default_factory=list)
    encounters: list[_Encounter] = field(default_factory=list)
    statements: list[_Statement] = field(default_factory=list)
    receipts: list[_Receipt] = field(default_factory=list)
    appointments: list[_Appointment] = field(default_factory=list)


class _Builder:
    def __init__(self, today: dt.date, seed: int):
        self.today = today
        self.rng = random.Random(seed)
        self.seq = 0

    # --- people -------------------------------------------------------------------------

    def born(self, age: int) -> dt.date:
        return self.today - dt.timedelta(days=age * 365 + self.rng.randint(5, 360))

    def guarantors(self) -> list[_Guarantor]:
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

    def contact(self, g: _Guarantor, n: int) -> None:
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
                  n: int) -> _Guarantor:
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
        g = _Guarantor(account, group, role, first, last, self.born(age), plan, behaviour,
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

    def new_patient(self, g: _Guarantor, first: str, last: str, born: dt.date) -> _Patient:
        clinic = g.patients[0].clinic if g.patients else self.rng.choice(HOME_CLINICS[g.group])
        providers = FACILITIES[g.group][clinic][1]
        pcp = g.patients[0].pcp if g.patients and self.rng.random() < 0.7 else self.rng.choice(providers[:2])
        patient = _Patient(f"P{len(g.patients) + 1}", first, last, born, clinic, pcp)
        g.patients.append(patient)
        return patient

    def household(self, g: _Guarantor, age: int) -> None:
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

    def main_guarantor(self) -> _Guarantor:
        g = _Guarantor(
            "A1001", "RFM", "main", "Maria", "Lopez", dt.date(1981, 4, 12),
            plan=PLANS["RFM"][0], behaviour="unpaid_latest",
            cycle_day=min(28, (self.today - dt.timedelta(days=14)).day),
            preferred_name="Mari", email="maria@example.org", mobile="+15555550123",
            address={"line1": "12 Elm St", "city": "Springfield", "state": "IL", "zip": "62701"},
        )
        maria = _Patient("P1", "Maria", "Lopez", g.born, "MAIN", "Dr. Ann Okafor")
        leo = _Patient("P2", "Leo", "Lopez", dt.date(2015, 8, 30), "MAIN", "Dr. James Whitfield")
        sofia = _Patient("P3", "Sofia", "Lopez", dt.date(2019, 2, 17), "MAIN", "Dr. James Whitfield")
        g.patients = [maria, leo, sofia]
        return g

    # --- visits -------------------------------------------------------------------------

    def visit_kinds(self, patient: _Patient, on: dt.date) -> list[tuple[str, list[str], str]]:
        """(description, codes, where) choices for an ordinary visit; where is "clinic" or "lab"."""
        age = _age(patient.born, on)
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

    def preventive(self, patient: _Patient, on: dt.date) -> tuple[str, list[str], str]:
        age = _age(patient.born, on)
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

    def visit_plan(self, g: _Guarantor, start: dt.date, end: dt.date,
                   extra: int = 0) -> list[tuple[dt.date, _Patient, tuple]]:
        rng = self.rng
        visits = []
        span = (end - start).days
        if span < 1:
            return visits
        for patient in g.patients:
            adult = _age(patient.born, self.today) >= 18
            for year in range(start.year, end.year + 1):
                if not adult or rng.random() < 0.6:
                    day = _anniversary(patient.born, year) + dt.timedelta(days=rng.randint(-20, 45))
                    if start <= day <= end:
                        day = _weekday_before(day)
                        visits.append((day, patient, self.preventive(patient, day)))
            sick = rng.choice([0, 1, 1, 2, 2, 3] if adult else [0, 1, 2, 2, 3, 4]) + extra
            if _age(patient.born, self.today) >= 65:
                sick += rng.randint(1, 2)
            for _ in range(round(sick * span / 730 + 0.3)):
                day = _weekday_before(start + dt.timedelta(days=rng.randint(0, span)))
                if day < start:
                    continue
                visits.append((day, patient, rng.choice(self.visit_kinds(patient, day))))
        if not visits:  # everyone on the ledger has been seen at least once
            patient = rng.choice(g.patients)
            day = _weekday_before(start + dt.timedelta(days=rng.randint(0, span)))
            if day >= start:
                visits.append((day, patient, rng.choice(self.visit_kinds(patient, day))))
        visits.sort(key=lambda v: (v[0], v[1].id))
        return visits[-14:]

    def encounter(self, g: _Guarantor, on: dt.date, patient: _Patient, kind: tuple[str, list[str], str],
                  *, adjudicate_on: dt.date | None = None, deductible: bool | None = None,
                  copay_paid: bool | None = None) -> _Encounter:
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
        enc = _Encounter(self.seq, patient, on, provider, (code, name), description)
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
            adjudicate_on = _weekday_before(on + dt.timedelta(days=rng.randint(12, 35)))
        if adjudicate_on >= self.today:
            enc.insurance_pending = sum((c.amount for c in enc.charges), ZERO) - copay
        else:
            if deductible is None:
                deductible = rng.random() < plan.deductible_chance
            self.adjudicate(enc, plan, adjudicate_on, deductible, copay)
        g.encounters.append(enc)
        return enc

    def adjudicate(self, enc: _Encounter, plan: _Plan, on: dt.date, deductible: bool, copay: Decimal) -> None:
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

    def self_pay(self, g: _Guarantor, enc: _Encounter, paid_at_visit: bool) -> None:
        enc.adjudicated_on = enc.on
        for charge in enc.charges:
            enc.add("adjustment", -money(charge.amount * SELF_PAY_DISCOUNT), enc.on, "Self-pay discount",
                    applies_to=charge.id)
        if paid_at_visit:
            self.pay(g, enc.on, enc.balance_on(enc.on), "office", only=[enc], description="Paid at visit")

    # --- money --------------------------------------------------------------------------

    def receipt(self, g: _Guarantor, on: dt.date, source: str) -> _Receipt:
        rng = self.rng
        if source == "mail":
            receipt = _Receipt(on, "check", "mail")
        elif rng.random() < 0.8:
            receipt = _Receipt(on, "card", "office", rng.choice(CARDS), f"{rng.randint(0, 9999):04d}")
        else:
            receipt = _Receipt(on, "cash", "office")
        g.receipts.append(receipt)
        return receipt

    def pay_line(self, g: _Guarantor, enc: _Encounter, charge: _Line, amount: Decimal, on: dt.date,
                 description: str, source: str) -> None:
        receipt = self.receipt(g, on, source)
        enc.add("patient_payment", -amount, on, description, applies_to=charge.id, receipt=receipt)
        receipt.applications.append((enc, charge.id, money(amount)))

    def pay(self, g: _Guarantor, on: dt.date, amount: Decimal, source: str, *,
            only: list[_Encounter] | None = None, description: str = "") -> _Receipt | None:
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

    def open_balance(self, g: _Guarantor, on: dt.date) -> Decimal:
        return sum((e.balance_on(on) for e in g.encounters if e.billed_by(on)), ZERO)

    def statement(self, g: _Guarantor, on: dt.date) -> _Statement | None:
        listed = [e for e in sorted(g.encounters, key=lambda e: (e.on, e.seq))
                  if e.billed_by(on) and e.balance_on(on) != 0]
        balance = sum((e.balance_on(on) for e in listed), ZERO)
        if balance <= 0:
            return None
        stmt = _Statement(on, balance, listed)
        g.statements.append(stmt)
        return stmt

    def cycle_dates(self, g: _Guarantor, start: dt.date) -> list[dt.date]:
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

    def run_statements(self, g: _Guarantor, dates: list[dt.date]) -> None:
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
            paid_on = _business_day(paid_on, first, until)
            self.pay(g, paid_on, amount, "mail" if rng.random() < 0.55 else "office")

    # --- the ledger of one guarantor ----------------------------------------------------

    def ledger(self, g: _Guarantor) -> None:
        rng, today = self.rng, self.today
        two_years_ago = today - dt.timedelta(days=730)
        start, end = two_years_ago, today - dt.timedelta(days=1)
        role = g.role
        if role in ("collections_shown", "collections_hidden", "collections_only"):
            patient = g.patients[0]
            first = _weekday_before(today - dt.timedelta(days=rng.randint(430, 520)))
            kind = ("Abdominal ultrasound", ["76700"], "lab") if g.group == "RFM" else \
                ("Laceration repair", ["99214", "12002"], "clinic")
            enc = self.encounter(g, first, patient, kind, deductible=True, copay_paid=False)
            enc.in_collections = True
            if rng.random() < 0.6:
                second = _weekday_before(first + dt.timedelta(days=rng.randint(20, 60)))
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
            settle_on = _business_day(yesterday, last, yesterday)
            self.pay(g, settle_on, self.open_balance(g, dt.date.max), "office")
        elif role == "under_one_dollar" and g.statements:
            stmt = g.statements[-1]
            left = money(Decimal(rng.randint(5, 95)) / 100)
            paid_on = stmt.on + dt.timedelta(days=rng.randint(1, (today - stmt.on).days - 1))
            paid_on = _business_day(paid_on, stmt.on + dt.timedelta(days=1), today - dt.timedelta(days=1))
            self.pay(g, paid_on, stmt.balance - left, "mail")

    def open_balance_story(self, g: _Guarantor, last_statement: dt.date) -> None:
        """Forced visits that leave an unpaid latest statement (and, for the main accounts,
        visits since it: one adjudicated with a balance, one still with insurance)."""
        today, rng = self.today, self.rng
        p = g.patients
        visit = _weekday_before(last_statement - dt.timedelta(days=24))
        adjudicated = _weekday_before(last_statement - dt.timedelta(days=3))
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
        since = _weekday_after(last_statement + dt.timedelta(days=2))
        sick = ("Sore throat", ["99213", "87880"], "clinic")
        self.encounter(g, since, p[1 % len(p)], sick,
                       adjudicate_on=_weekday_before(today - dt.timedelta(days=2)),
                       deductible=True, copay_paid=True)
        recent = _weekday_before(today - dt.timedelta(days=5))
        self.encounter(g, max(recent, since), p[2 % len(p)], ("Ear pain", ["99213"], "clinic"),
                       adjudicate_on=today, copay_paid=True)

    # --- appointments -------------------------------------------------------------------

    def slot(self, day: dt.date) -> dt.datetime:
        hour, minute = map(int, self.rng.choice(TIMES).split(":"))
        return dt.datetime.combine(day, dt.time(hour, minute))

    def appointments(self, g: _Guarantor) -> None:
        rng, today = self.rng, self.today
        for enc in g.encounters:
            if (today - enc.on).days <= 270:
                g.appointments.append(_Appointment(enc.patient, self.slot(enc.on), enc.provider,
                                                   enc.facility[1], enc.description, "completed"))
        if rng.random() < 0.35:
            patient = rng.choice(g.patients)
            day = _weekday_before(today - dt.timedelta(days=rng.randint(10, 200)))
            g.appointments.append(_Appointment(patient, self.slot(day), patient.pcp,
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
            adult = _age(patient.born, today) >= 18
            reason = rng.choice(["Annual physical", "Follow-up visit", "Lab work", "Medication review"]
                                if adult else ["Well-child visit", "Follow-up visit", "Sports physical",
                                               "Vaccines"])
            self.upcoming(g, patient, rng.randint(1, 75), reason, None)

    def upcoming(self, g: _Guarantor, patient: _Patient, days: int, reason: str, time: str | None) -> None:
        day = _weekday_after(self.today + dt.timedelta(days=days))
        at = self.slot(day) if time is None else dt.datetime.combine(day, dt.time.fromisoformat(time))
        location = FACILITIES[g.group][patient.clinic][0] if reason != "Lab work" or g.group != "RFM" \
            else FACILITIES["RFM"]["LAB"][0]
        g.appointments.append(_Appointment(patient, at, patient.pcp, location, reason, "scheduled"))

    # --- the document -------------------------------------------------------------------

    def build(self) -> dict:
        guarantors = self.guarantors()
        for g in guarantors:
            self.ledger(g)
            self.appointments(g)
        self.number(guarantors)
        return {
            "format": FORMAT,
            "groups": [dict(group) for group in GROUPS],
            "guarantors": [_guarantor_json(g) for g in guarantors],
        }

    def number(self, guarantors: list[_Guarantor]) -> None:
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


def _line_json(line: _Line, encounter_date: dt.date) -> dict:
    out: dict = {"id": line.id, "kind": line.kind}
    if line.code:
        out["code"] = line.code
    out["description"] = line.description
    out["amount"] = money_text(line.amount)
    if line.on != encounter_date or line.kind != "charge":
        out["date"] = line.on.isoformat()
    if line.applies_to:
        out["applies_to"] = line.applies_to
    if line.receipt is not None:
        out["receipt"] = line.receipt.number
    return out


def _guarantor_json(g: _Guarantor) -> dict:
    out: dict = {"account": g.account, "group": g.group, "first_name": g.first_name, "last_name": g.last_name}
    if g.preferred_name:
        out["preferred_name"] = g.preferred_name
    out["date_of_birth"] = g.born.isoformat()
    if g.email:
        out["email"] = g.email
    if g.mobile:
        out["mobile"] = g.mobile
    out["sms_opt_out"] = g.sms_opt_out
    if g.address:
        out["address"] = dict(g.address)
    out["escrow"] = money_text(g.escrow)
    out["unapplied"] = money_text(g.unapplied)
    out["patients"] = [{"id": p.id, "first_name": p.first_name, "last_name": p.last_name,
                        "date_of_birth": p.born.isoformat()} for p in g.patients]
    out["encounters"] = [
        {
            "id": e.id,
            "patient": e.patient.id,
            "date": e.on.isoformat(),
            "provider": e.provider,
            "facility": {"code": e.facility[0], "name": e.facility[1]},
            "description": e.description,
            "in_collections": e.in_collections,
            "insurance_pending": money_text(e.insurance_pending),
            "lines": [_line_json(line, e.on) for line in e.lines],
        }
        for e in sorted(g.encounters, key=lambda e: e.id)
    ]
    out["statements"] = [
        {
            "number": f"S-{s.on:%Y-%m}-{g.account}",
            "date": s.on.isoformat(),
            "due_date": (s.on + dt.timedelta(days=STATEMENT_DUE_DAYS)).isoformat(),
            "balance": money_text(s.balance),
            "amount_due": money_text(s.balance),
            "encounters": [e.id for e in s.encounters],
        }
        for s in g.statements
    ]
    receipts = []
    for r in sorted(g.receipts, key=lambda r: r.number):
        receipt: dict = {"number": r.number, "date": r.on.isoformat(), "method": r.method}
        if r.card_type:
            receipt["card_type"] = r.card_type
            receipt["last4"] = r.last4
        receipt.update({
            "amount": money_text(r.amount),
            "status": "paid",
            "source": r.source,
            "applications": [{"encounter": e.id, "line": line, "amount": money_text(amount)}
                             for e, line, amount in r.applications],
        })
        receipts.append(receipt)
    out["receipts"] = receipts
    out["appointments"] = [
        {"id": a.id, "patient": a.patient.id, "at": a.at.strftime("%Y-%m-%dT%H:%M:%S"),
         "provider": a.provider, "location": a.location, "reason": a.reason, "status": a.status}
        for a in sorted(g.appointments, key=lambda a: a.at)
    ]
    return out


def build_document(today: dt.date, seed: int = 7) -> dict:
    """The demo ledger as a `pops-import/1` document, dated relative to `today`.

    The same (today, seed) always gives the same document.
    """
    return _Builder(today, seed).build()


class DemoRefused(Exception):
    """The database holds something other than demo data, which `pops demo` must not touch."""


def stale_demo_data(document: dict) -> bool:
    """True when the database holds demo data built for another day (or another demo version).

    The simulated ledger depends on the day it is built for, so importing today's on top of an
    older one would leave the older encounters behind and double the balances. Raises
    DemoRefused when the database holds practices that are not the demo's.
    """
    from ..models import Encounter, Group, Guarantor

    demo_groups = {group["code"] for group in document["groups"]}
    others = sorted(code for (code,) in Group.select(Group.code).tuples() if code not in demo_groups)
    if others:
        raise DemoRefused(
            "this database holds practices that are not the demo's (%s); pops demo only seeds an "
            "empty database or its own. Point POPS_DATABASE_URL at another database." % ", ".join(others)
        )
    wanted = {(g["account"], e["id"]) for g in document["guarantors"] for e in g["encounters"]}
    held = Encounter.select(Guarantor.account, Encounter.ext_id).join(Guarantor).tuples()
    return any(pair not in wanted for pair in held)
