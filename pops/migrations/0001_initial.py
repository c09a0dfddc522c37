"""The initial schema: the ledger, POPS's own records, access and audit.

Frozen copies of the models as they were; money columns hold cents, instants naive UTC.
Python-side defaults (the clock) need no column default.
"""
from peewee import *


def up(migrator, db):
    class Group(Model):
        code = CharField(unique=True, max_length=32)
        name = CharField(max_length=200)
        logo = CharField(max_length=500, default='')
        brand_color = CharField(max_length=7, default='#1f5f8b')
        timezone = CharField(max_length=64, default='America/New_York')
        footer_phone = CharField(max_length=40, default='')
        footer_email = CharField(max_length=200, default='')
        footer_text = TextField(default='')
        show_collections = BooleanField(default=False)
        show_current_balance = BooleanField(default=True)
        include_new_charges_in_amount_due = BooleanField(default=False)
        email_receipts = BooleanField(default=False)
        enable_credit_card = BooleanField(default=True)
        enable_google_pay = BooleanField(default=False)
        enable_apple_pay = BooleanField(default=False)
        enable_payment_method_storage = BooleanField(default=False)
        require_cvv = BooleanField(default=True)
        quickpay_max_uses = IntegerField(default=10)
        link_days = IntegerField(default=365)
        desk_qr_minutes = IntegerField(default=15)
        session_idle_timeout = IntegerField(default=15)
        allow_session_extension = BooleanField(default=False)
        enable_appointments = BooleanField(default=True)
        landing_page = CharField(max_length=8, default='home')
        print_link_and_qr_on_statements = BooleanField(default=True)
        class Meta:
            database = db
            table_name = 'group'
    db.create_tables([Group])

    class Guarantor(Model):
        account = CharField(unique=True, max_length=64)
        group = ForeignKeyField(Group, on_delete='RESTRICT')
        first_name = CharField(max_length=100)
        last_name = CharField(max_length=100)
        preferred_name = CharField(max_length=100, default='')
        date_of_birth = DateField()
        email = CharField(max_length=254, default='')
        mobile = CharField(max_length=32, default='')
        sms_opt_out = BooleanField(default=False)
        address_line1 = CharField(max_length=200, default='')
        address_line2 = CharField(max_length=200, default='')
        city = CharField(max_length=100, default='')
        state = CharField(max_length=40, default='')
        zip = CharField(max_length=20, default='')
        escrow = BigIntegerField(default=0)
        unapplied = BigIntegerField(default=0)
        notify_balance_email = BooleanField(default=True)
        notify_balance_text = BooleanField(default=True)
        notify_balance_paper = BooleanField(default=True)
        notify_appointment_email = BooleanField(default=True)
        notify_appointment_text = BooleanField(default=True)
        class Meta:
            database = db
            table_name = 'guarantor'
    db.create_tables([Guarantor])

    class Patient(Model):
        guarantor = ForeignKeyField(Guarantor, on_delete='CASCADE')
        ext_id = CharField(max_length=64)
        first_name = CharField(max_length=100)
        last_name = CharField(max_length=100)
        date_of_birth = DateField(null=True)
        class Meta:
            database = db
            table_name = 'patient'
            indexes = ((('guarantor', 'ext_id'), True),)
    db.create_tables([Patient])

    class Appointment(Model):
        guarantor = ForeignKeyField(Guarantor, on_delete='CASCADE')
        ext_id = CharField(unique=True, max_length=64)
        patient = ForeignKeyField(Patient, on_delete='CASCADE')
        at = DateTimeField()
        provider = CharField(max_length=200, default='')
        location = CharField(max_length=200, default='')
        reason = CharField(max_length=500, default='')
        status = CharField(max_length=20, default='scheduled')
        class Meta:
            database = db
            table_name = 'appointment'
    db.create_tables([Appointment])

    class Staff(Model):
        email = CharField(unique=True, max_length=254)
        password_hash = CharField()
        role = CharField(max_length=10, default='staff')
        totp_secret = CharField(max_length=64)
        last_totp_step = BigIntegerField(default=0)
        failed_sign_ins = IntegerField(default=0)
        locked_until = DateTimeField(null=True)
        active = BooleanField(default=True)
        created_at = DateTimeField()
        class Meta:
            database = db
            table_name = 'staff'
    db.create_tables([Staff])

    class AuditLog(Model):
        at = DateTimeField(index=True)
        staff = ForeignKeyField(Staff, null=True, on_delete='RESTRICT')
        actor = CharField(max_length=254, default='')
        action = CharField(max_length=64)
        guarantor = ForeignKeyField(Guarantor, null=True, on_delete='SET NULL')
        detail = TextField(default='')
        ip = CharField(max_length=64, default='')
        class Meta:
            database = db
            table_name = 'audit_log'
    db.create_tables([AuditLog])

    class ContactChange(Model):
        guarantor = ForeignKeyField(Guarantor, on_delete='CASCADE')
        field = CharField(max_length=30)
        old_value = CharField(max_length=254, default='')
        new_value = CharField(max_length=254, default='')
        changed_at = DateTimeField()
        cleared_at = DateTimeField(null=True)
        class Meta:
            database = db
            table_name = 'contact_change'
    db.create_tables([ContactChange])

    class Encounter(Model):
        guarantor = ForeignKeyField(Guarantor, on_delete='CASCADE')
        ext_id = CharField(max_length=64)
        patient = ForeignKeyField(Patient, on_delete='RESTRICT')
        date = DateField()
        provider = CharField(max_length=200, default='')
        facility_code = CharField(max_length=64, default='')
        facility_name = CharField(max_length=200, default='')
        description = CharField(max_length=500, default='')
        in_collections = BooleanField(default=False)
        insurance_pending = BigIntegerField(default=0)
        class Meta:
            database = db
            table_name = 'encounter'
            indexes = ((('guarantor', 'ext_id'), True),)
    db.create_tables([Encounter])

    class EncounterLine(Model):
        encounter = ForeignKeyField(Encounter, on_delete='CASCADE')
        ext_id = CharField(max_length=64)
        kind = CharField(max_length=20)
        code = CharField(max_length=32, default='')
        description = CharField(max_length=500, default='')
        amount = BigIntegerField()
        date = DateField()
        applies_to = CharField(max_length=64, default='')
        provider = CharField(max_length=200, default='')
        receipt_number = CharField(index=True, max_length=64, default='')
        class Meta:
            database = db
            table_name = 'encounter_line'
            indexes = ((('encounter', 'ext_id'), True),)
    db.create_tables([EncounterLine])

    class Statement(Model):
        guarantor = ForeignKeyField(Guarantor, on_delete='CASCADE')
        number = CharField(unique=True, max_length=64)
        date = DateField()
        due_date = DateField()
        balance = BigIntegerField()
        amount_due = BigIntegerField()
        first_viewed_at = DateTimeField(null=True)
        class Meta:
            database = db
            table_name = 'statement'
    db.create_tables([Statement])

    class Link(Model):
        key = CharField(unique=True, max_length=64)
        guarantor = ForeignKeyField(Guarantor, on_delete='CASCADE')
        purpose = CharField(max_length=10)
        created_at = DateTimeField()
        expires_at = DateTimeField()
        max_uses = IntegerField()
        uses = IntegerField(default=0)
        revoked_at = DateTimeField(null=True)
        statement = ForeignKeyField(Statement, null=True, on_delete='SET NULL')
        created_by = ForeignKeyField(Staff, null=True, on_delete='RESTRICT')
        class Meta:
            database = db
            table_name = 'link'
    db.create_tables([Link])

    class OutboxMessage(Model):
        created_at = DateTimeField(index=True)
        channel = CharField(max_length=10)
        recipient = CharField(max_length=254)
        subject = CharField(max_length=300, default='')
        body = TextField()
        purpose = CharField(max_length=30, default='')
        guarantor = ForeignKeyField(Guarantor, null=True, on_delete='SET NULL')
        status = CharField(max_length=10, default='outbox')
        sent_at = DateTimeField(null=True)
        error = CharField(max_length=300, default='')
        class Meta:
            database = db
            table_name = 'outbox_message'
    db.create_tables([OutboxMessage])

    class PatientSession(Model):
        token_hash = CharField(unique=True, max_length=64)
        started_at = DateTimeField()
        last_seen_at = DateTimeField()
        expires_at = DateTimeField()
        ended_at = DateTimeField(null=True)
        end_reason = CharField(max_length=20, default='')
        ip = CharField(max_length=64, default='')
        user_agent = CharField(max_length=300, default='')
        guarantor = ForeignKeyField(Guarantor, on_delete='CASCADE')
        group = ForeignKeyField(Group, on_delete='RESTRICT')
        origin = CharField(max_length=20)
        auth = CharField(max_length=10)
        quickpay = BooleanField(default=False)
        link = ForeignKeyField(Link, null=True, on_delete='SET NULL')
        staff = ForeignKeyField(Staff, null=True, on_delete='RESTRICT')
        extensions = IntegerField(default=0)
        pages = IntegerField(default=0)
        payment_outcome = CharField(max_length=20, default='')
        class Meta:
            database = db
            table_name = 'patient_session'
    db.create_tables([PatientSession])

    class ReferenceBatch(Model):
        group = ForeignKeyField(Group, on_delete='RESTRICT')
        batch_date = DateField(index=True)
        description = CharField(max_length=100, default='API Payments')
        user = CharField(max_length=100, default='POPS')
        status = CharField(max_length=10, default='open')
        opened_at = DateTimeField()
        closed_at = DateTimeField(null=True)
        closed_by = ForeignKeyField(Staff, null=True, on_delete='RESTRICT')
        class Meta:
            database = db
            table_name = 'reference_batch'
    db.create_tables([ReferenceBatch])

    class Receipt(Model):
        number = CharField(unique=True, max_length=64)
        guarantor = ForeignKeyField(Guarantor, on_delete='RESTRICT')
        source = CharField(max_length=10)
        received_at = DateTimeField()
        received_date = DateField()
        method = CharField(max_length=20, default='card')
        card_type = CharField(max_length=40, default='')
        last4 = CharField(max_length=4, default='')
        amount = BigIntegerField()
        refunded_amount = BigIntegerField(default=0)
        status = CharField(max_length=20)
        decline_reason = CharField(max_length=200, default='')
        batch = ForeignKeyField(ReferenceBatch, null=True, on_delete='RESTRICT')
        taken_by = ForeignKeyField(Staff, null=True, on_delete='RESTRICT')
        posted_back = BooleanField(default=False)
        imported = BooleanField(default=False)
        class Meta:
            database = db
            table_name = 'receipt'
    db.create_tables([Receipt])

    class ReceiptApplication(Model):
        receipt = ForeignKeyField(Receipt, on_delete='CASCADE')
        encounter = ForeignKeyField(Encounter, on_delete='RESTRICT')
        line_ext_id = CharField(max_length=64, default='')
        amount = BigIntegerField()
        source = CharField(max_length=10, default='pops')
        class Meta:
            database = db
            table_name = 'receipt_application'
    db.create_tables([ReceiptApplication])

    class SessionBase(Model):
        token_hash = CharField(unique=True, max_length=64)
        started_at = DateTimeField()
        last_seen_at = DateTimeField()
        expires_at = DateTimeField()
        ended_at = DateTimeField(null=True)
        end_reason = CharField(max_length=20, default='')
        ip = CharField(max_length=64, default='')
        user_agent = CharField(max_length=300, default='')
        class Meta:
            database = db
            table_name = 'session_base'
    db.create_tables([SessionBase])

    class SessionPage(Model):
        session = ForeignKeyField(PatientSession, on_delete='CASCADE')
        path = CharField(max_length=300)
        at = DateTimeField()
        class Meta:
            database = db
            table_name = 'session_page'
    db.create_tables([SessionPage])

    class StaffSession(Model):
        token_hash = CharField(unique=True, max_length=64)
        started_at = DateTimeField()
        last_seen_at = DateTimeField()
        expires_at = DateTimeField()
        ended_at = DateTimeField(null=True)
        end_reason = CharField(max_length=20, default='')
        ip = CharField(max_length=64, default='')
        user_agent = CharField(max_length=300, default='')
        staff = ForeignKeyField(Staff, on_delete='CASCADE')
        class Meta:
            database = db
            table_name = 'staff_session'
    db.create_tables([StaffSession])

    class StatementEncounter(Model):
        statement = ForeignKeyField(Statement, on_delete='CASCADE')
        encounter = ForeignKeyField(Encounter, on_delete='CASCADE')
        class Meta:
            database = db
            table_name = 'statement_encounter'
            indexes = ((('statement', 'encounter'), True),)
    db.create_tables([StatementEncounter])

    class Transaction(Model):
        receipt = ForeignKeyField(Receipt, on_delete='RESTRICT')
        number = CharField(max_length=100)
        kind = CharField(max_length=10, default='sale')
        amount = BigIntegerField()
        status = CharField(max_length=20, default='approved')
        created_at = DateTimeField()
        refund_receipt_number = CharField(max_length=64, default='')
        staff = ForeignKeyField(Staff, null=True, on_delete='RESTRICT')
        class Meta:
            database = db
            table_name = 'transaction'
    db.create_tables([Transaction])


def down(migrator, db):
    migrator.migrate(migrator.drop_table('transaction'))
    migrator.migrate(migrator.drop_table('statement_encounter'))
    migrator.migrate(migrator.drop_table('staff_session'))
    migrator.migrate(migrator.drop_table('session_page'))
    migrator.migrate(migrator.drop_table('session_base'))
    migrator.migrate(migrator.drop_table('receipt_application'))
    migrator.migrate(migrator.drop_table('receipt'))
    migrator.migrate(migrator.drop_table('reference_batch'))
    migrator.migrate(migrator.drop_table('patient_session'))
    migrator.migrate(migrator.drop_table('outbox_message'))
    migrator.migrate(migrator.drop_table('link'))
    migrator.migrate(migrator.drop_table('statement'))
    migrator.migrate(migrator.drop_table('encounter_line'))
    migrator.migrate(migrator.drop_table('encounter'))
    migrator.migrate(migrator.drop_table('contact_change'))
    migrator.migrate(migrator.drop_table('audit_log'))
    migrator.migrate(migrator.drop_table('staff'))
    migrator.migrate(migrator.drop_table('appointment'))
    migrator.migrate(migrator.drop_table('patient'))
    migrator.migrate(migrator.drop_table('guarantor'))
    migrator.migrate(migrator.drop_table('group'))
