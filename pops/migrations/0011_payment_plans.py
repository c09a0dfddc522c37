"""Payment plans and autopay (issue 15): the group's options; texting consent; plan offers, plans,
instalments, plan notices and autopay authorisations."""
from peewee import *


def up(migrator, db):
    class Guarantor(Model):
        class Meta:
            database = db
            table_name = 'guarantor'

    class PatientSession(Model):
        class Meta:
            database = db
            table_name = 'patient_session'

    class PaymentAttempt(Model):
        class Meta:
            database = db
            table_name = 'payment_attempt'

    class StoredCard(Model):
        class Meta:
            database = db
            table_name = 'stored_card'

    class Staff(Model):
        class Meta:
            database = db
            table_name = 'staff'

    class TextConsent(Model):
        guarantor = ForeignKeyField(Guarantor, on_delete='CASCADE')
        mobile = CharField(max_length=32)
        granted = BooleanField()
        recorded_at = DateTimeField()
        how = CharField(max_length=60)
        session = ForeignKeyField(PatientSession, null=True, on_delete='SET NULL')
        wording = TextField(default='')
        class Meta:
            database = db
            table_name = 'text_consent'

    class PlanOffer(Model):
        key = CharField(max_length=64, unique=True)
        guarantor = ForeignKeyField(Guarantor, on_delete='CASCADE')
        created_at = DateTimeField()
        terms = TextField()
        authorisation = TextField()
        authorisation_version = CharField(max_length=20)
        language = CharField(max_length=5, default='en')
        class Meta:
            database = db
            table_name = 'plan_offer'

    class PaymentPlan(Model):
        guarantor = ForeignKeyField(Guarantor, on_delete='RESTRICT')
        offer = ForeignKeyField(PlanOffer, unique=True, on_delete='RESTRICT')
        key = CharField(max_length=64, unique=True)
        status = CharField(max_length=10, default='active', index=True)
        created_at = DateTimeField()
        balance = BigIntegerField()
        down_payment = BigIntegerField()
        months = IntegerField()
        day_of_month = IntegerField()
        stored_card = ForeignKeyField(StoredCard, null=True, on_delete='SET NULL')
        first_attempt = ForeignKeyField(PaymentAttempt, null=True, on_delete='SET NULL')
        ended_at = DateTimeField(null=True)
        cancel_reason = CharField(max_length=300, default='')
        cancelled_by = ForeignKeyField(Staff, null=True, on_delete='RESTRICT')
        class Meta:
            database = db
            table_name = 'payment_plan'

    class Instalment(Model):
        plan = ForeignKeyField(PaymentPlan, on_delete='CASCADE')
        number = IntegerField()
        due_date = DateField(index=True)
        amount = BigIntegerField()
        status = CharField(max_length=10, default='scheduled')
        tries = IntegerField(default=0)
        retry_on = DateField(null=True)
        attempt = ForeignKeyField(PaymentAttempt, null=True, on_delete='SET NULL')
        paid_at = DateTimeField(null=True)
        reminded = BooleanField(default=False)
        class Meta:
            database = db
            table_name = 'instalment'
            indexes = ((('plan', 'number'), True),)

    class PlanNotice(Model):
        guarantor = ForeignKeyField(Guarantor, on_delete='CASCADE')
        plan = ForeignKeyField(PaymentPlan, null=True, on_delete='CASCADE')
        kind = CharField(max_length=30)
        channel = CharField(max_length=10)
        created_at = DateTimeField()
        ref = CharField(max_length=64, default='', index=True)
        class Meta:
            database = db
            table_name = 'plan_notice'

    class Autopay(Model):
        guarantor = ForeignKeyField(Guarantor, on_delete='CASCADE')
        key = CharField(max_length=64, unique=True)
        cap = BigIntegerField()
        notice = CharField(max_length=10, default='each')
        stored_card = ForeignKeyField(StoredCard, null=True, on_delete='SET NULL')
        authorisation = TextField()
        authorisation_version = CharField(max_length=20)
        created_at = DateTimeField()
        ended_at = DateTimeField(null=True)
        session = ForeignKeyField(PatientSession, null=True, on_delete='SET NULL')
        class Meta:
            database = db
            table_name = 'autopay'

    migrator.migrate(
        migrator.add_column('group', 'payment_plans', BooleanField(default=False)),
        migrator.add_column('group', 'plan_min_balance', BigIntegerField(default=10000)),
        migrator.add_column('group', 'plan_min_instalment', BigIntegerField(default=2500)),
        migrator.add_column('group', 'plan_max_months', IntegerField(default=12)),
        migrator.add_column('group', 'plan_down_payment_percent', IntegerField(default=0)),
        migrator.add_column('group', 'autopay', BooleanField(default=False)),
        migrator.add_column('group', 'autopay_cap', BigIntegerField(default=50000)),
    )
    db.create_tables([TextConsent, PlanOffer, PaymentPlan, Instalment, PlanNotice, Autopay])


def down(migrator, db):
    for table in ('autopay', 'plan_notice', 'instalment', 'payment_plan', 'plan_offer', 'text_consent'):
        migrator.migrate(migrator.drop_table(table))
    migrator.migrate(*[migrator.drop_column('group', column) for column in (
        'payment_plans', 'plan_min_balance', 'plan_min_instalment', 'plan_max_months',
        'plan_down_payment_percent', 'autopay', 'autopay_cap')])
