"""Clinical: the consultation — encounters, vitals, notes, diagnoses, prescriptions,
orders and results. Sits above the queue (an encounter follows the visit through the
queue's signals) and below billing (which drafts invoices from finished encounters).

Each part keeps its own module in ``models/``, ``schemas/``, ``service/``, ``api/`` and
``views/``; pure rules (vitals ranges, sig text, safety checks) live in ``kernel/``.
"""
