"""Notifications: what ClinicDesk tells patients (confirmations, reminders, waitlist
offers, "your turn is near") and staff (in-app alerts), through which channel, and what
comes back (delivery receipts, replies, opt-outs). Sits above scheduling, queue, clinical
and billing: it reacts to their signals and never the other way round.
"""
