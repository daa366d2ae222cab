"""The demo clinic (``clinicdesk demo``): ``clinic`` builds it from the patients plan
(``patient_plan``, ``patients``, ``documents``), the appointment book (``schedule``) and
the day's queue (``queue``)."""

from clinicdesk.demo.clinic import DemoClinic, demo_password, seed_demo_clinic

__all__ = ["DemoClinic", "demo_password", "seed_demo_clinic"]
