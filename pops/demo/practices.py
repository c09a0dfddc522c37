"""The demo's two practices and what the simulation draws on: groups, fee schedule, clinics, payers,
names and addresses, and the accounts the demo shows off."""
from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

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

# The patients `pops demo` prints, in this order, each with a QuickPay link and sign-in details, so a
# demo can try more than one (the hourly code limit counts each guarantor on its own). All three
# can pay online and have a mobile and an email for codes.
DEMO_PATIENTS = {
    "main": "an unpaid statement, visits since it, upcoming appointments",
    "pediatrics_main": "three children at the other practice; lands on Pay; new charges count in the amount due",
    "collections_shown": "a balance with the collection agency beside one that can be paid",
}

DEMO_SIGN_IN = {
    "account": "A1001",
    "group": "RFM",
    "first_name": "Maria",
    "preferred_name": "Mari",
    "last_name": "Lopez",
    "date_of_birth": "1981-04-12",
}

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
class Plan:
    payer: str | None  # None: self-pay
    allowed: Decimal  # share of the charge the payer allows
    copay: Decimal
    coinsurance: Decimal
    deductible_chance: float


def _plan(payer: str | None, allowed: str, copay: str, coinsurance: str, deductible: float) -> Plan:
    return Plan(payer, Decimal(allowed), Decimal(copay), Decimal(coinsurance), deductible)


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
SPECIAL = {account: role for role, account in DEMO_ACCOUNTS.items()}
GROUP_SIZES = {"RFM": 24, "LPP": 16}
