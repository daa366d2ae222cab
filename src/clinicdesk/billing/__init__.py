"""Billing: the fee schedule, invoices (drafted from finished encounters or by hand),
their gapless numbers and credit notes. Sits above clinical (an invoice is drafted from
``clinical.public.encounter_finished``).

Money is integer minor units of the organization's currency (``kernel/money.py`` states
the rounding rule). Payments, insurance, documents and the day's close build on the
invoice's ``amount_due``.
"""
