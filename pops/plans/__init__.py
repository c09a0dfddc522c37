"""Payment plans (issue 15): `rules` (pure), `tables`, `setup` (schedule, agreement, first payment),
`charging` (the job), `notices` (texts with consent and quiet hours, email, the page), `reading`."""
