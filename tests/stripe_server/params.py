"""The parameters Stripe's API reference lists for each POST this server takes: any other name is
refused as Stripe refuses it ("Received unknown parameter: …"), so a misspelt one fails a test
instead of being ignored. Every listed name is accepted, even those the server does nothing with."""
from __future__ import annotations

from .wire import invalid

_PAYMENT_INTENT = {
    "amount", "amount_details", "application_fee_amount", "automatic_payment_methods", "capture_method",
    "confirm", "confirmation_method", "confirmation_token", "currency", "customer", "customer_account",
    "description", "error_on_requires_action", "excluded_payment_method_types", "hooks", "mandate",
    "mandate_data", "metadata", "off_session", "on_behalf_of", "payment_details", "payment_method",
    "payment_method_configuration", "payment_method_data", "payment_method_options", "payment_method_types",
    "radar_options", "receipt_email", "return_url", "setup_future_usage", "shipping", "statement_descriptor",
    "statement_descriptor_suffix", "transfer_data", "transfer_group", "use_stripe_sdk",
}
ALLOWED = {
    "checkout.session": {
        "adaptive_pricing", "after_expiration", "allow_promotion_codes", "automatic_tax",
        "billing_address_collection", "branding_settings", "cancel_url", "client_reference_id",
        "consent_collection", "currency", "custom_fields", "custom_text", "customer", "customer_account",
        "customer_creation", "customer_email", "customer_update", "discounts", "excluded_payment_method_types",
        "expires_at", "invoice_creation", "line_items", "locale", "metadata", "mode", "name_collection",
        "optional_items", "origin_context", "payment_intent_data", "payment_method_collection",
        "payment_method_configuration", "payment_method_data", "payment_method_options", "payment_method_types",
        "permissions", "phone_number_collection", "redirect_on_completion", "return_url",
        "saved_payment_method_options", "setup_intent_data", "shipping_address_collection", "shipping_options",
        "submit_type", "subscription_data", "success_url", "tax_id_collection", "ui_mode", "wallet_options",
    },
    "checkout.session.payment_intent_data": {
        "application_fee_amount", "capture_method", "description", "metadata", "on_behalf_of", "receipt_email",
        "setup_future_usage", "shipping", "statement_descriptor", "statement_descriptor_suffix", "transfer_data",
        "transfer_group",
    },
    "payment_intent": _PAYMENT_INTENT,
    "payment_intent.confirm": _PAYMENT_INTENT - {"amount", "currency", "customer", "description", "metadata",
                                                 "confirm", "confirmation_method", "statement_descriptor",
                                                 "statement_descriptor_suffix", "transfer_data"},
    "customer": {
        "address", "balance", "business_name", "cash_balance", "description", "email", "individual_name",
        "invoice_prefix", "invoice_settings", "metadata", "name", "next_invoice_sequence", "payment_method",
        "phone", "preferred_locales", "shipping", "source", "tax", "tax_exempt", "tax_id_data", "test_clock",
        "validate",
    },
    "refund": {"amount", "charge", "currency", "customer", "instructions_email", "metadata", "origin",
               "payment_intent", "reason", "refund_application_fee", "reverse_transfer"},
    "setup_intent": {
        "attach_to_self", "automatic_payment_methods", "confirm", "confirmation_token", "customer",
        "customer_account", "description", "excluded_payment_method_types", "flow_directions", "mandate_data",
        "metadata", "on_behalf_of", "payment_method", "payment_method_configuration", "payment_method_data",
        "payment_method_options", "payment_method_types", "return_url", "single_use", "usage", "use_stripe_sdk",
    },
    "payment_method.attach": {"customer", "customer_account"},
    "none": set(),
}


def check(params: dict, allowed: str) -> None:
    names = ALLOWED[allowed] | {"expand"}
    for name in params:
        if name not in names:
            raise invalid(f"Received unknown parameter: {name}", param=name)
    nested = ALLOWED.get(f"{allowed}.payment_intent_data")
    if nested and isinstance(params.get("payment_intent_data"), dict):
        for name in params["payment_intent_data"]:
            if name not in nested:
                raise invalid(f"Received unknown parameter: payment_intent_data[{name}]",
                              param=f"payment_intent_data[{name}]")
