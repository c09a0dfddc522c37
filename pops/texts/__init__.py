"""Texts done right (issue 16): what a balance text says, the replies a number sends back (STOP, START,
HELP), and reminders on a schedule. Consent lives with the plans' notices (pops.plans.notices: the one
home of `may_text`), the 8:00-21:00 gate in pops.plans.rules (`next_text_time`)."""
