"""End-to-end HTTP load on a real `clinicdesk serve`, driven by wrk.

For each database (SQLite: one process; PostgreSQL: ``--workers 2``, the test suite's
throwaway cluster, the server connecting as the application role under row-level
security) a fresh database is migrated with `clinicdesk db upgrade` and loaded with N
patients (``patient_search.load``: a bulk insert with every derived column computed by
the service's own functions), a clinic is set up through the services (a front-desk user,
a doctor, the "Main Street" location with four providers and a queue in progress, and a
chain of small locations whose appointments today are there to be checked in), then the
real server is started on 127.0.0.1 and loaded by wrk, one scenario at a time:

* search   ``GET /api/v1/patients?q=`` full names, names with a typo, 3-4 letter prefixes of
           the family name and phone numbers written another way, in equal shares;
           ``search-name``, ``search-typo``, ``search-prefix``, ``search-phone`` one kind each
* detail   ``GET /api/v1/patients/{id}``, random patients
* chart    ``GET /patients/{id}`` (the chart page, signed in as the doctor by cookie)
* board    ``GET /queue/board?location_id=`` (the front desk's board, as htmx refreshes it)
* booking  ``POST /api/v1/appointments`` with an Idempotency-Key, each request a different
           provider, day or time (no clash), on the coming year
* checkin  ``POST /api/v1/queue/check-ins``, each request a different appointment of today
* issue    ``POST /api/v1/invoices/{id}/issue`` with ``If-Match``, each request a different
           draft invoice (one line, made beforehand by billing's services)
* pay      ``POST /api/v1/payments`` with an Idempotency-Key, each request paying one
           different issued invoice in full, in cash (allocated to it)

Bearer token (password grant) for the API, session cookie from the sign-in form for the
pages; every scenario's first request is checked with a plain request before wrk runs.
The server runs with its defaults (INFO log, one JSON line per request) except for the
request limits, raised so that they do not answer the benchmark with 429s.

wrk runs one thread (the server needs the two cores more than the client); a generated
Lua script sends prepared requests in order (reads cycle through theirs, writes never
repeat one) and prints the latency percentiles and status counts as JSON. When a run's
time is up it sends nothing more and waits for the answers to what it sent (wrk alone
would drop them, and they are the slowest); req/s counts the answers within the time.
Any answer that is not 2xx (a 303 to the sign-in page included), any socket error or
timeout, and any request never answered is an error. A short warm-up precedes each
scenario and is not reported. "app CPU" and "db CPU" are the CPU milliseconds per
answered request of the server's processes and of PostgreSQL's, read from /proc: unlike
req/s and latencies, they barely change when other work shares the machine; "others" is
how many cores that other work (or the VM's host) kept busy during the run.

``--think-ms MIN,MAX`` makes each connection a user at a desk's pace: after each answer it
waits a random MIN..MAX ms before its next request (wrk's ``delay()``; not counted in the
latency). Without it a connection sends its next request at once, so ``c`` is the number
of requests always in flight, a load far above ``c`` people working.

``--soak S`` adds a mixed run of S seconds per ``--soak-clients`` level: search 40 %,
chart 30 %, booking 15 %, registration (``POST /api/v1/patients``) 15 %, with server-side
figures per route from the server's request log.

Run: uv run python benchmarks/http_load.py [--database sqlite|postgresql|both]
     [--concurrency 10,50] [--duration 10] [--patients 10000] [--scenarios search,...]
     [--soak 300 --soak-clients 50,100] [--src ../other-checkout] [--json out.json]
Needs wrk (Debian/Ubuntu: apt-get install wrk). Bounded: every run has a duration,
every database a time limit; servers, the cluster and temporary directories are removed
at the end, also after Ctrl+C or a failure; nothing listens beyond 127.0.0.1.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import os
import platform
import random
import re
import shutil
import signal
import sys
import tempfile
import time
import uuid
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, timedelta
from datetime import time as clock
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit
from zoneinfo import ZoneInfo

import httpx
from harness import REPO_ROOT, letters, on_each, percentile
from startup import free_port

PASSWORD = "quiet lantern orbit maple"
DESK_EMAIL = "desk@bench.example"
DOCTOR_EMAIL = "doctor@bench.example"
SEED = 20261204
READS = ("search", "detail", "chart", "board")
SEARCH_KINDS = ("name", "typo", "prefix", "phone")
WRITES = ("booking", "checkin", "issue", "pay")
SCENARIOS = (*READS, *WRITES)
EXTRA_SCENARIOS = tuple(f"search-{kind}" for kind in SEARCH_KINDS)
EXPECTED = {"booking": 201, "checkin": 201, "register": 201, "issue": 200, "pay": 201}
# Writes never repeat a request, so each run needs its own: prepared for this many
# requests a second (several times what two cores answer). A run that uses them all up
# stops there and is marked.
WRITE_RATE_CEILING = {"booking": 400, "checkin": 150, "issue": 150, "pay": 120, "soak": 300}
SOAK_MIX = {"search": 40, "chart": 30, "booking": 15, "register": 15}
READ_ITEMS = 5000  # distinct read requests per scenario, cycled
SLOT_MINUTES = 15
DAY_SLOTS = 92  # 00:00-23:00 in 15-minute slots: the providers' hours every day
CHAIN_PROVIDERS = 2  # per chain location
MAIN_PROVIDERS = 4
BOOKING_DAYS = 365
RESULT_MARK = "HTTP_LOAD_RESULT "
SCRIPT = Path(__file__).resolve()
CSRF_FIELD = re.compile(r'name="csrf_token" value="([^"]+)"')


# --- preparing the data (a child process, with the server's own code) -----------------


def registrations(count: int, rng: random.Random) -> list[dict[str, Any]]:
    """``POST /api/v1/patients`` bodies: new people, as the front desk types them."""
    from faker import Faker
    from patient_search import LOCALES, phone_as_typed, us_phone

    fake = Faker(list(LOCALES))
    fake.seed_instance(rng.random())
    locales, weights = list(LOCALES), list(LOCALES.values())
    bodies = []
    for n in range(count):
        faker = fake[rng.choices(locales, weights)[0]]
        female = rng.random() < 0.52
        birth = date(1931, 1, 1) + timedelta(days=rng.randint(0, 94 * 365))
        body = {
            "given_name": faker.first_name_female() if female else faker.first_name_male(),
            "family_name": faker.last_name(),
            "birth_date": birth.isoformat(),
            "sex_at_birth": "female" if female else "male",
        }
        if rng.random() < 0.9:
            body["phone"] = phone_as_typed(us_phone(rng), n)
        bodies.append(body)
    return bodies


async def invoices(
    db: Any, organization_id: uuid.UUID, desk: Any, people: list[Any], drafts: int, issued: int
) -> tuple[list[tuple[uuid.UUID, int]], list[tuple[uuid.UUID, uuid.UUID, int]]]:
    """``drafts`` draft invoices to issue, as (id, version), and ``issued`` issued ones to
    pay, as (id, patient id, total): one line each, made by billing's own services, each
    for a different patient (as far as there are patients)."""
    from sqlalchemy import select

    from clinicdesk.billing.errors import CurrencyRefused
    from clinicdesk.billing.models import Invoice
    from clinicdesk.billing.schemas import InvoiceCreate, LineAdd
    from clinicdesk.billing.service import issuing
    from clinicdesk.billing.service.common import books
    from clinicdesk.billing.service.invoices import create_draft
    from clinicdesk.core.db import session_scope
    from clinicdesk.core.tenancy import scope_to_tenant
    from clinicdesk.identity.service.organizations import get_organization

    made: list[tuple[uuid.UUID, uuid.UUID]] = []  # (invoice id, patient id)
    async with session_scope(db) as session:
        await scope_to_tenant(session, organization_id)
        try:
            await books(session)
        except CurrencyRefused:
            # Invoicing needs the organization's currency, which an admin sets.
            (await get_organization(session)).currency = "EUR"
            await session.flush()
    for begin in range(0, drafts + issued, 500):
        async with session_scope(db) as session:
            await scope_to_tenant(session, organization_id)
            for n in range(begin, min(begin + 500, drafts + issued)):
                patient = people[n % len(people)]
                draft = await create_draft(
                    session,
                    actor=desk,
                    data=InvoiceCreate(
                        patient_id=patient.id,
                        lines=[LineAdd(name="Consultation", unit_price=4500 + n % 7 * 500)],
                    ),
                )
                if n >= drafts:
                    await issuing.issue(
                        session, actor=desk, invoice_id=draft.invoice.id, expected_version=None
                    )
                made.append((draft.invoice.id, patient.id))
    async with session_scope(db) as session:
        await scope_to_tenant(session, organization_id)
        found = {
            row.id: row
            for row in await session.execute(
                select(Invoice.id, Invoice.version, Invoice.amount_due)
            )
        }
    return (
        [(invoice_id, found[invoice_id].version) for invoice_id, _ in made[:drafts]],
        [
            (invoice_id, patient_id, found[invoice_id].amount_due)
            for invoice_id, patient_id in made[drafts:]
        ],
    )


async def prepare(spec: dict[str, Any]) -> dict[str, Any]:
    """Load and set up the clinic in the migrated database at ``spec["url"]`` (as its
    owner) and write the requests of every scenario into ``spec["dir"]``."""
    # Imported here: this runs in the child process, whose ``clinicdesk`` is the server's
    # (``--src``), so the data is derived by the code that will search it.
    from harness import add_provider, analyze, table
    from patient_search import load, phone_as_typed, typo_query
    from sqlalchemy import insert

    import clinicdesk.models  # noqa: F401  (every table known to the ORM)
    from clinicdesk.core.actor import SYSTEM
    from clinicdesk.core.crypto import FieldKeyring, configure_field_encryption
    from clinicdesk.core.db import create_database, session_scope
    from clinicdesk.core.models import new_id
    from clinicdesk.core.tenancy import scope_to_tenant
    from clinicdesk.identity.permissions import Role
    from clinicdesk.identity.schemas import LocationWrite
    from clinicdesk.identity.service import organizations, users
    from clinicdesk.identity.service.common import actor_for
    from clinicdesk.queue.schemas import AppointmentCheckIn, WalkInCheckIn
    from clinicdesk.queue.service import checkin, flow
    from clinicdesk.scheduling.models import Appointment
    from clinicdesk.scheduling.schemas import (
        AppointmentCreate,
        AppointmentTypeWrite,
    )
    from clinicdesk.scheduling.service import booking, setup
    from clinicdesk.scheduling.vocabulary import AppointmentStatus

    sys.path.insert(0, str(REPO_ROOT))
    from tests.support.queue import zone_near_noon

    configure_field_encryption(FieldKeyring(os.environ["CLINICDESK_FIELD_ENCRYPTION_KEY"]))
    rng = random.Random(SEED)
    out = Path(spec["dir"])
    db = create_database(spec["url"], pool_size=2)
    try:
        started = time.perf_counter()
        organization_id, people, _terms = await load(db, spec["patients"])
        load_seconds = time.perf_counter() - started
        zone_name = zone_near_noon()
        checkins_wanted = min(spec["checkins"], len(people) - 100)
        chain_locations = max(1, math.ceil(checkins_wanted / (CHAIN_PROVIDERS * DAY_SLOTS)))
        providers: list[tuple[str, str]] = []  # (provider id, location id)
        main_providers = []
        async with session_scope(db) as session:
            await scope_to_tenant(session, organization_id)
            desk_user = await users.create_user(
                session,
                actor=SYSTEM,
                organization_id=organization_id,
                email=DESK_EMAIL,
                full_name="Front Desk",
                roles=[Role.RECEPTIONIST],
                password=PASSWORD,
            )
            doctor_user = await users.create_user(
                session,
                actor=SYSTEM,
                organization_id=organization_id,
                email=DOCTOR_EMAIL,
                full_name="Ada Doctor",
                roles=[Role.DOCTOR],
                password=PASSWORD,
            )
            desk = actor_for(desk_user)
            consultation = await setup.create_type(
                session,
                actor=SYSTEM,
                data=AppointmentTypeWrite(name="Consultation", duration_minutes=SLOT_MINUTES),
            )
            sites = [("Main Street", MAIN_PROVIDERS)] + [
                (f"North {n:02d}", CHAIN_PROVIDERS) for n in range(1, chain_locations + 1)
            ]
            for site, count in sites:
                location = await organizations.create_location(
                    session, actor=SYSTEM, data=LocationWrite(name=site, time_zone=zone_name)
                )
                if site == "Main Street":
                    main_location = location.id
                for n in range(count):
                    # The doctor who signs in is Main Street's first provider.
                    first = not providers and not n
                    user, provider = await add_provider(
                        session,
                        organization_id=organization_id,
                        location_id=location.id,
                        display_name=f"Dr. {site} {n + 1}",
                        user=doctor_user if first else None,
                        email=f"provider-{len(providers)}@bench.example",
                        full_name=f"Provider {letters(len(providers))}",
                        blocks=[(d, clock(0), clock(23)) for d in range(7)],
                    )
                    providers.append((str(provider.id), str(location.id)))
                    if site == "Main Street":
                        main_providers.append((provider.id, actor_for(user)))

        zone = ZoneInfo(zone_name)
        now = datetime.now(UTC)
        today = now.astimezone(zone).date()

        def at(day: date, slot: int) -> datetime:
            local = datetime(day.year, day.month, day.day, tzinfo=zone)
            return (local + timedelta(minutes=SLOT_MINUTES * slot)).astimezone(UTC)

        # Main Street's morning: per provider, twelve booked around now; who is due has
        # arrived, the first is done, the second in consultation; two walk-ins.
        board_patients = people[-MAIN_PROVIDERS * 12 - 2 :]
        local_now = now.astimezone(zone)
        first_slot = (local_now.hour * 60 + local_now.minute) // SLOT_MINUTES - 6
        async with session_scope(db) as session:
            await scope_to_tenant(session, organization_id)
            for index, (provider_id, clinician) in enumerate(main_providers):
                visits = []
                for k in range(12):
                    appointment = await booking.book(
                        session,
                        actor=desk,
                        data=AppointmentCreate(
                            patient_id=board_patients[index * 12 + k].id,
                            provider_id=provider_id,
                            location_id=main_location,
                            type_id=consultation.id,
                            starts_at=at(today, first_slot + k),
                            # The first six are before now: the morning so far.
                            record_past_visit=at(today, first_slot + k) < now,
                        ),
                    )
                    if k < 8:
                        visit, _secret = await checkin.check_in_appointment(
                            session,
                            actor=desk,
                            data=AppointmentCheckIn(appointment_id=appointment.id),
                        )
                        visits.append(visit.id)
                for visit_id in visits[:2]:
                    await flow.call(session, actor=clinician, visit_id=visit_id, room=None)
                    await flow.start(session, actor=clinician, visit_id=visit_id)
                    if visit_id == visits[0]:
                        await flow.finish(session, actor=clinician, visit_id=visit_id)
            for person in board_patients[-2:]:
                await checkin.check_in_walk_in(
                    session,
                    actor=desk,
                    data=WalkInCheckIn(patient_id=person.id, location_id=main_location),
                )

        # Today's appointments at the chain, one patient each, to be checked in: spread
        # round-robin over the locations so each run's check-ins land everywhere.
        chain = [p for p in providers if p[1] != str(main_location)]
        rows = []
        for n in range(checkins_wanted):
            chain_provider, chain_location = chain[n % len(chain)]
            start = at(today, n // len(chain))
            rows.append(
                {
                    "id": new_id(),
                    "organization_id": organization_id,
                    "version": 1,
                    "patient_id": people[n].id,
                    "provider_id": uuid.UUID(chain_provider),
                    "location_id": uuid.UUID(chain_location),
                    "type_id": consultation.id,
                    "starts_at": start,
                    "ends_at": start + timedelta(minutes=SLOT_MINUTES),
                    "busy_until": start + timedelta(minutes=SLOT_MINUTES),
                    "status": AppointmentStatus.BOOKED,
                    "holds_slot": True,
                    "booked_by_id": desk_user.id,
                    "booked_via": "staff",
                }
            )
        async with session_scope(db) as session:
            await scope_to_tenant(session, organization_id)
            for begin in range(0, len(rows), 5000):
                await session.execute(insert(table(Appointment)), rows[begin : begin + 5000])
        started = time.perf_counter()
        drafts, issued = await invoices(
            db, organization_id, desk, people, spec["issues"], spec["payments"]
        )
        invoice_seconds = time.perf_counter() - started
        await analyze(db)
        version = await db.server_version()
    finally:
        await db.dispose()

    def write(name: str, lines: list[str]) -> None:
        (out / f"{name}.tsv").write_text("".join(f"{line}\n" for line in lines))

    def line(
        kind: str, method: str, path: str, body: Any = None, key: str = "", if_match: str = ""
    ) -> str:
        payload = json.dumps(body, ensure_ascii=False) if body is not None else ""
        # If-Match, a sixth field, only where a scenario sends one.
        tail = f"\t{if_match}" if if_match else ""
        return f"{kind}\t{method}\t{path}\t{payload}\t{key}{tail}"

    def search_line(text: str) -> str:
        return line("search", "GET", f"/api/v1/patients?q={quote(text, safe='')}&limit=20")

    per_kind = READ_ITEMS // len(SEARCH_KINDS)
    with_phone = [p for p in people if p.phone]
    searches: dict[str, list[str]] = {kind: [] for kind in SEARCH_KINDS}
    for n in range(per_kind):
        person = rng.choice(people)
        searches["name"].append(search_line(f"{person.given} {person.family}"))
        typo = None
        while typo is None:
            typo = typo_query(rng.choice(people), rng)
        searches["typo"].append(search_line(typo))
        prefix = rng.choice(people).family
        searches["prefix"].append(search_line(prefix[: 3 + n % 2]))
        searches["phone"].append(search_line(phone_as_typed(rng.choice(with_phone).phone or "", n)))
    mixed = [entry for group in zip(*searches.values(), strict=True) for entry in group]
    write("search", mixed)
    for kind, entries in searches.items():
        write(f"search-{kind}", entries)
    write(
        "detail",
        [
            line("detail", "GET", f"/api/v1/patients/{rng.choice(people).id}")
            for _ in range(READ_ITEMS)
        ],
    )
    write(
        "chart",
        [line("chart", "GET", f"/patients/{rng.choice(people).id}") for _ in range(READ_ITEMS)],
    )
    write("board", [line("board", "GET", f"/queue/board?location_id={main_location}")])
    bookings = []
    for n in range(spec["bookings"]):
        booked_provider, booked_location = providers[n % len(providers)]
        day = today + timedelta(days=1 + (n // len(providers)) % BOOKING_DAYS)
        slot = n // (len(providers) * BOOKING_DAYS)
        if slot >= DAY_SLOTS:
            break
        body = {
            "patient_id": str(rng.choice(people).id),
            "provider_id": booked_provider,
            "location_id": booked_location,
            "type_id": str(consultation.id),
            "starts_at": at(day, slot).isoformat(),
            "reason": "Follow-up",
        }
        bookings.append(line("booking", "POST", "/api/v1/appointments", body, str(uuid.uuid4())))
    write("booking", bookings)
    # The day's appointments run to the evening, and check-in opens 120 minutes before
    # one: the desk confirms an early arrival (without, the later ones are refused, 409).
    write(
        "checkin",
        [
            line(
                "checkin",
                "POST",
                "/api/v1/queue/check-ins",
                {"appointment_id": str(row["id"]), "early": True},
            )
            for row in rows
        ],
    )
    write(
        "issue",
        [
            line("issue", "POST", f"/api/v1/invoices/{invoice_id}/issue", if_match=f'W/"{version}"')
            for invoice_id, version in drafts
        ],
    )
    write(
        "pay",
        [
            line(
                "pay",
                "POST",
                "/api/v1/payments",
                {
                    "patient_id": str(patient_id),
                    "method": "cash",
                    "amount": total,
                    "allocations": [{"invoice_id": str(invoice_id), "amount": total}],
                },
                str(uuid.uuid4()),
            )
            for invoice_id, patient_id, total in issued
        ],
    )
    write(
        "register",
        [
            line("register", "POST", "/api/v1/patients", body)
            for body in registrations(spec["registrations"], rng)
        ],
    )
    return {
        "version": version,
        "load_seconds": round(load_seconds, 1),
        "main_location_id": str(main_location),
        "locations": len(sites),
        "providers": len(providers),
        "checkins": len(rows),
        "drafts": len(drafts),
        "issued": len(issued),
        "invoice_seconds": round(invoice_seconds, 1),
        "zone": zone_name,
    }


# --- wrk -------------------------------------------------------------------------------

LUA = r"""-- generated by benchmarks/http_load.py: one wrk run over prepared requests
local ffi = require("ffi")
ffi.cdef[[
typedef struct { long tv_sec; long tv_nsec; } http_load_timespec;
int clock_gettime(int clock, http_load_timespec *now);
int getpid(void);
int tgkill(int tgid, int tid, int sig);
]]
local ITEMS = %(items)s
local CYCLE = %(cycle)s
local SECONDS = %(seconds)d
local KINDS = %(kinds)s
local THINK_MIN, THINK_MAX = %(think_min)d, %(think_max)d

local clock = ffi.new("http_load_timespec")
local function now()
  ffi.C.clock_gettime(1, clock)  -- CLOCK_MONOTONIC
  return tonumber(clock.tv_sec) + tonumber(clock.tv_nsec) * 1e-9
end

local prepared = {}
local position = 0
local started = nil
local stopping = false
-- Read by done() through thread:get, so global.
statuses = {}
handed = 0
answered = 0
in_time = 0
ran_out = 0
ran_out_after = 0
last_answer = 0

function init(args)
  for entry in io.lines(ITEMS) do
    -- An optional sixth field: the If-Match header.
    local kind, method, path, body, key, if_match =
      entry:match("^([^\t]*)\t([^\t]*)\t([^\t]*)\t([^\t]*)\t([^\t]*)\t?([^\t]*)$")
    local headers = {}
    for name, value in pairs(KINDS[kind]) do headers[name] = value end
    if body == "" then
      body = nil
    else
      headers["Content-Type"] = "application/json"
    end
    if key ~= "" then headers["Idempotency-Key"] = key end
    if if_match ~= "" then headers["If-Match"] = if_match end
    prepared[#prepared + 1] = wrk.format(method, path, headers, body)
  end
end

-- Every request sent has its answer: stop, and end wrk's timed wait as Ctrl+C would
-- (SIGINT to its main thread), so that done() runs now.
local function finish()
  wrk.thread:stop()
  pcall(function()
    local pid = ffi.C.getpid()
    ffi.C.tgkill(pid, pid, 2)
  end)
end

-- wrk calls request() once before the run to check the script (script_verify_request)
-- and sends nothing of it: that call must not use up a write.
local verified = false

function request()
  if not verified then
    verified = true
    return prepared[1] or wrk.format("GET", "/health")
  end
  local t = now()
  started = started or t
  if t - started >= SECONDS then
    stopping = true
  end
  if not stopping and position >= #prepared then
    if CYCLE then
      position = 0
    else
      -- Writes are never repeated: the run ends with the last one.
      stopping = true
      ran_out = 1
      ran_out_after = t - started
    end
  end
  if stopping then
    -- Time is up: send nothing more on this connection, and wait for the answers to
    -- what was sent (a run cut off at its end would drop the slowest requests).
    if answered >= handed then finish() end
    return ""
  end
  position = position + 1
  handed = handed + 1
  return prepared[position]
end

-- With --think-ms each connection is one user at a desk's pace: wrk waits this long after
-- an answer before it sends that connection's next request (not counted as latency).
if THINK_MAX > 0 then
  math.randomseed(os.time())
  function delay()
    return math.random(THINK_MIN, THINK_MAX)
  end
end

function response(status, headers, body)
  local code = tostring(status)
  statuses[code] = (statuses[code] or 0) + 1
  answered = answered + 1
  last_answer = now() - started
  if last_answer < SECONDS then in_time = in_time + 1 end
  if stopping and answered >= handed then finish() end
end

local threads = {}

function setup(thread)
  threads[#threads + 1] = thread
end

function done(summary, latency, requests)
  local counts = {}
  local sums = {handed = 0, answered = 0, in_time = 0, ran_out = 0}
  local ran_out_at, last = 0, 0
  for _, thread in ipairs(threads) do
    for code, count in pairs(thread:get("statuses")) do
      counts[code] = (counts[code] or 0) + count
    end
    for name, _ in pairs(sums) do sums[name] = sums[name] + thread:get(name) end
    ran_out_at = math.max(ran_out_at, thread:get("ran_out_after"))
    last = math.max(last, thread:get("last_answer"))
  end
  local parts = {}
  for code, count in pairs(counts) do
    parts[#parts + 1] = string.format('"%%s": %%d', code, count)
  end
  local e = summary.errors
  io.write(string.format(
    '%(mark)s{"sent": %%d, "answered": %%d, "in_time": %%d, "ran_out": %%d, ' ..
    '"ran_out_after": %%.3f, "last_answer": %%.3f, "p50_us": %%d, "p95_us": %%d, ' ..
    '"p99_us": %%d, "max_us": %%d, "connect": %%d, "read": %%d, "write": %%d, ' ..
    '"timeout": %%d, "statuses": {%%s}}\n',
    sums.handed, sums.answered, sums.in_time, sums.ran_out, ran_out_at, last,
    latency:percentile(50), latency:percentile(95), latency:percentile(99), latency.max,
    e.connect, e.read, e.write, e.timeout, table.concat(parts, ", ")))
end
"""
# The longest wait for the last answers after a run's time is up; below wrk's --timeout,
# so a connection that waits idle is never counted as timed out.
DRAIN_SECONDS = 25
TIMEOUT_SECONDS = 30


def lua_string(value: str) -> str:
    if not value.isascii() or not value.isprintable():
        raise ValueError(f"not a plain header value: {value!r}")
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def lua_table(headers: dict[str, dict[str, str]]) -> str:
    kinds = []
    for kind, values in headers.items():
        pairs = ", ".join(f"[{lua_string(k)}] = {lua_string(v)}" for k, v in values.items())
        kinds.append(f"[{lua_string(kind)}] = {{{pairs}}}")
    return "{\n  " + ",\n  ".join(kinds) + "\n}"


@dataclass
class Run:
    scenario: str
    concurrency: int
    seconds: float
    requests: int
    rps: float
    p50_ms: float
    p95_ms: float
    p99_ms: float
    max_ms: float
    errors: int
    error_detail: str
    ran_out: bool
    # CPU time per answered request: the server's processes, and PostgreSQL's.
    app_cpu_ms: float | None = None
    db_cpu_ms: float | None = None
    # Cores busy with other work meanwhile (other processes, or the VM's host).
    other_cores: float | None = None
    read_errors: int = 0


async def wrk(
    url: str,
    work: Path,
    name: str,
    lines: list[str],
    headers: dict[str, dict[str, str]],
    *,
    concurrency: int,
    seconds: int,
    cycle: bool,
    think_ms: tuple[int, int] = (0, 0),
) -> Run:
    items = work / f"{name}-c{concurrency}.tsv"
    items.write_text("".join(f"{line}\n" for line in lines))
    script = work / f"{name}-c{concurrency}.lua"
    script.write_text(
        LUA
        % {
            "items": lua_string(str(items)),
            "cycle": "true" if cycle else "false",
            "seconds": seconds,
            "kinds": lua_table(headers),
            "think_min": think_ms[0],
            "think_max": think_ms[1],
            "mark": RESULT_MARK,
        }
    )
    command = [
        *("wrk", "-t1", f"-c{concurrency}", f"-d{seconds + DRAIN_SECONDS}s"),
        *("--timeout", f"{TIMEOUT_SECONDS}s", "-s", str(script), url),
    ]
    output = await run_command(command, limit=seconds + 90, what=f"wrk ({name})")
    found = [line for line in output.splitlines() if line.startswith(RESULT_MARK)]
    if not found:
        raise SystemExit(f"wrk printed no result for {name}:\n{output[-2000:]}")
    result = json.loads(found[-1].removeprefix(RESULT_MARK))
    statuses = {int(code): count for code, count in result["statuses"].items()}
    problems = {
        str(code): count for code, count in sorted(statuses.items()) if not 200 <= code < 300
    }
    # Not "read": wrk counts a connection closed by the server as one, and the server
    # closes those waiting idle for the last answers after 5 s (keep-alive). A request
    # lost that way shows as unanswered.
    for kind in ("connect", "write", "timeout"):
        if result[kind]:
            problems[kind] = result[kind]
    unanswered = result["sent"] - result["answered"]
    if unanswered > 0:
        problems["no answer"] = unanswered
    ran_out = bool(result["ran_out"])
    # Throughput: answers within the run's time (the wait for the last ones after it
    # would lower it), or, when the writes ran out first, all of them over their time.
    window = result["last_answer"] if ran_out else seconds
    answers = result["answered"] if ran_out else result["in_time"]
    return Run(
        scenario=name,
        concurrency=concurrency,
        seconds=round(window, 1),
        requests=result["answered"],
        rps=answers / window if window else 0.0,
        p50_ms=result["p50_us"] / 1000,
        p95_ms=result["p95_us"] / 1000,
        p99_ms=result["p99_us"] / 1000,
        max_ms=result["max_us"] / 1000,
        errors=sum(problems.values()),
        error_detail=", ".join(f"{k}: {v}" for k, v in problems.items()),
        ran_out=ran_out,
        read_errors=result["read"],
    )


# --- processes -------------------------------------------------------------------------


async def run_command(
    command: list[str],
    *,
    limit: float,
    what: str,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
) -> str:
    """Its output; a failure or a run past ``limit`` seconds ends the benchmark, and the process
    is killed if we are cancelled meanwhile."""
    process = await asyncio.create_subprocess_exec(
        *command,
        env=env,
        cwd=cwd,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    try:
        output, _ = await asyncio.wait_for(process.communicate(), limit)
    except TimeoutError:
        raise SystemExit(f"{what} took longer than {limit:.0f} s") from None
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    text = output.decode(errors="replace")
    if process.returncode != 0:
        raise SystemExit(f"{what} failed ({process.returncode}):\n{text[-3000:]}")
    return text


class Server:
    """`python -m clinicdesk serve` on a free port of 127.0.0.1, output in a log file."""

    def __init__(self, env: dict[str, str], data_dir: Path, workers: int) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = data_dir / "server.log"
        self.env = {**env, "CLINICDESK_PORT": str(self.port)}
        self.data_dir = data_dir
        self.workers = workers
        self.process: asyncio.subprocess.Process | None = None

    async def start(self) -> None:
        with self.log.open("wb") as output:
            self.process = await asyncio.create_subprocess_exec(
                *(sys.executable, "-m", "clinicdesk", "serve", "--workers", str(self.workers)),
                env=self.env,
                cwd=self.data_dir,
                stdout=output,
                stderr=asyncio.subprocess.STDOUT,
            )
        deadline = time.monotonic() + 90
        async with httpx.AsyncClient(timeout=2) as client:
            while time.monotonic() < deadline and self.process.returncode is None:
                with contextlib.suppress(httpx.TransportError):
                    if (await client.get(f"{self.url}/health/ready")).status_code == 200:
                        return
                await asyncio.sleep(0.2)
        raise SystemExit(f"the server did not become ready:\n{self.log.read_text()[-3000:]}")

    @property
    def pid(self) -> int:
        if self.process is None:
            raise RuntimeError("the server is not running")
        return self.process.pid

    async def stop(self) -> None:
        if self.process is None or self.process.returncode is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(self.process.wait(), 30)
        except TimeoutError:
            self.process.kill()
            await self.process.wait()

    def log_records(self, offset: int = 0) -> list[dict[str, Any]]:
        """The server's JSON log records from byte ``offset`` on."""
        if not self.log.exists():
            return []
        with self.log.open("rb") as log:
            log.seek(offset)
            text = log.read().decode(errors="replace")
        records = []
        for line in text.splitlines():
            if line.startswith("{"):
                with contextlib.suppress(ValueError):
                    records.append(json.loads(line))
        return records

    def problems(self) -> dict[str, int]:
        """What the server logged that a benchmark should mention: database faults
        (answered 503 or 409) by kind, and errors (500s, crashes)."""
        found: dict[str, int] = {}
        for record in self.log_records():
            if record.get("event") == "db.fault":
                name = f"db.fault {record.get('kind')} ({record.get('db_code', '')})"
            elif record.get("level") in ("error", "critical"):
                name = f"error: {record.get('event')}"
            else:
                continue
            found[name] = found.get(name, 0) + 1
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        if "database is locked" in text:
            found["'database is locked'"] = text.count("database is locked")
        return found


CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def tree_cpu_seconds(root: int) -> float:
    """CPU time of ``root`` and every process below it, including those that ended
    (a parent's ``cutime``)."""
    parents: dict[int, int] = {}
    ticks: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # ended meanwhile
        pid = int(entry.name)
        parents[pid] = int(fields[1])
        ticks[pid] = sum(int(value) for value in fields[11:15])  # utime stime cutime cstime
    tree, frontier = {root}, [root]
    while frontier:
        parent = frontier.pop()
        for pid, ppid in parents.items():
            if ppid == parent and pid not in tree:
                tree.add(pid)
                frontier.append(pid)
    return sum(ticks.get(pid, 0) for pid in tree) / CLOCK_TICKS


def postmaster_of(url: str) -> int | None:
    """The PostgreSQL server listening on the port of ``url`` (the throwaway cluster)."""
    port = str(urlsplit(url).port).encode()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if argv[0].endswith(b"/postgres") and b"-p" in argv:
            at = argv.index(b"-p")
            if argv[at + 1 : at + 2] == [port]:
                return int(entry.name)
    return None


def machine_busy_seconds() -> float:
    """CPU time the whole machine was busy (every core; steal included: the VM's host
    kept it from us)."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
    user, nice, system, _idle, _iowait, irq, softirq, steal = values
    return (user + nice + system + irq + softirq + steal) / CLOCK_TICKS


@dataclass(frozen=True)
class CpuSample:
    at: float
    app: float
    database: float | None
    ours: float  # this benchmark, the server, wrk, and PostgreSQL
    machine: float


class CpuMeter:
    """CPU time spent during a run by the server's processes, by PostgreSQL's, and by
    whatever else runs on the machine."""

    def __init__(self, server_pid: int, postmaster: int | None) -> None:
        self.server = server_pid
        self.postmaster = postmaster
        self.start = self.sample()

    def sample(self) -> CpuSample:
        database = tree_cpu_seconds(self.postmaster) if self.postmaster else None
        return CpuSample(
            at=time.monotonic(),
            app=tree_cpu_seconds(self.server),
            database=database,
            ours=tree_cpu_seconds(os.getpid()) + (database or 0.0),
            machine=machine_busy_seconds(),
        )

    def restart(self) -> None:
        self.start = self.sample()

    def charge(self, run: Run) -> None:
        """Set the run's CPU per answered request, and the other work's, since ``restart``."""
        before, after = self.start, self.sample()
        others = (after.machine - before.machine) - (after.ours - before.ours)
        run.other_cores = max(0.0, others) / (after.at - before.at)
        if run.requests:
            run.app_cpu_ms = (after.app - before.app) * 1000 / run.requests
            if before.database is not None and after.database is not None:
                run.db_cpu_ms = (after.database - before.database) * 1000 / run.requests


@dataclass
class RouteFigures:
    """Server-side figures of one route over a run, from the server's request log."""

    route: str
    requests: int
    p50_ms: float
    p95_ms: float
    p99_ms: float
    errors: int


def by_route(records: list[dict[str, Any]]) -> list[RouteFigures]:
    times: dict[str, list[float]] = {}
    errors: dict[str, int] = {}
    for record in records:
        if record.get("event") != "http.request":
            continue
        route = f"{record['method']} {record['route']}"
        times.setdefault(route, []).append(float(record["duration_ms"]))
        errors[route] = errors.get(route, 0) + (not 200 <= int(record["status"]) < 300)
    return [
        RouteFigures(
            route=route,
            requests=len(values),
            p50_ms=percentile(values, 0.5),
            p95_ms=percentile(values, 0.95),
            p99_ms=percentile(values, 0.99),
            errors=errors[route],
        )
        for route, values in sorted(times.items(), key=lambda item: -len(item[1]))
    ]


# --- one database ----------------------------------------------------------------------


@dataclass
class DatabaseResult:
    database: str
    version: str
    workers: int
    code: str
    patients: int
    load_seconds: float
    setup: dict[str, Any]
    runs: list[Run] = field(default_factory=list)
    soak: list[Run] = field(default_factory=list)
    soak_routes: list[list[RouteFigures]] = field(default_factory=list)
    server_problems: dict[str, int] = field(default_factory=dict)
    load_average: tuple[float, float] = (0.0, 0.0)


def sizes(args: argparse.Namespace) -> dict[str, int]:
    """How many distinct writes to prepare: a warm-up and every run at the ceiling rate."""
    runs = len(args.concurrency)

    def needed(scenario: str) -> int:
        if scenario not in args.scenarios:
            return 0
        seconds = int(args.warmup) + runs * int(args.duration)
        return 1 + WRITE_RATE_CEILING[scenario] * seconds

    soak = WRITE_RATE_CEILING["soak"] * args.soak * len(args.soak_clients)
    return {
        "bookings": needed("booking") + soak * SOAK_MIX["booking"] // 100 + 1,
        "checkins": needed("checkin"),
        "issues": needed("issue"),
        "payments": needed("pay"),
        "registrations": soak * SOAK_MIX["register"] // 100 + 1,
    }


async def sign_in(url: str) -> tuple[str, str, str]:
    """A bearer token for the front desk, and the session cookies of the doctor and the
    front desk as a browser gets them from the sign-in form."""
    async with httpx.AsyncClient(base_url=url, timeout=30) as client:
        answer = await client.post(
            "/api/v1/auth/token", data={"username": DESK_EMAIL, "password": PASSWORD}
        )
        if answer.status_code != 200:
            raise SystemExit(f"sign-in for a token failed: {answer.status_code} {answer.text}")
        token = str(answer.json()["access_token"])
    cookies = []
    for email in (DOCTOR_EMAIL, DESK_EMAIL):
        async with httpx.AsyncClient(base_url=url, timeout=30) as browser:
            form = await browser.get("/login")
            match = CSRF_FIELD.search(form.text)
            if match is None:
                raise SystemExit(f"no CSRF token on the sign-in page: {form.text[:300]}")
            answer = await browser.post(
                "/login",
                data={"email": email, "password": PASSWORD, "csrf_token": match.group(1)},
            )
            if answer.status_code != 303 or answer.headers.get("location") != "/":
                raise SystemExit(f"sign-in of {email} failed: {answer.status_code}")
            cookies.append("; ".join(f"{c.name}={c.value}" for c in browser.cookies.jar))
    return token, cookies[0], cookies[1]


def split_line(line: str) -> tuple[str, str, str, str, str, str]:
    """kind, method, path, body, Idempotency-Key and If-Match (the last two may be "")."""
    fields = line.split("\t")
    if len(fields) == 5:
        fields.append("")
    kind, method, path, body, key, if_match = fields
    return kind, method, path, body, key, if_match


async def check(url: str, line: str, headers: dict[str, dict[str, str]]) -> None:
    """One request of the scenario, answered as it should be, before wrk sends thousands."""
    kind, method, path, body, key, if_match = split_line(line)
    sent = dict(headers[kind])
    if body:
        sent["Content-Type"] = "application/json"
    if key:
        sent["Idempotency-Key"] = key
    if if_match:
        sent["If-Match"] = if_match
    async with httpx.AsyncClient(base_url=url, timeout=30) as client:
        answer = await client.request(method, path, headers=sent, content=body.encode() or None)
    expected = EXPECTED.get(kind, 200)
    if answer.status_code != expected:
        raise SystemExit(
            f"{kind}: {method} {path} answered {answer.status_code}, not {expected}:\n"
            f"{answer.text[:600]}"
        )
    if kind == "search" and not answer.json()["items"]:
        print(f"  note: the check search {path} found nobody")


class Requests:
    """The prepared requests of each scenario: reads are reused, writes handed out once."""

    def __init__(self, work: Path) -> None:
        self.pools = {
            name: (work / f"{name}.tsv").read_text().splitlines()
            for name in (*SCENARIOS, *EXTRA_SCENARIOS, "register")
        }
        self.used = dict.fromkeys(self.pools, 0)

    def take(self, name: str, count: int) -> list[str]:
        begin = self.used[name]
        self.used[name] = min(len(self.pools[name]), begin + count)
        return self.pools[name][begin : self.used[name]]

    def soak(self, count: int) -> list[str]:
        """``count`` requests in the soak's mix: reads picked at random from their
        scenarios', bookings and registrations new ones (fewer if they run out)."""
        rng = random.Random(SEED + count)
        kinds, weights = list(SOAK_MIX), list(SOAK_MIX.values())
        lines = []
        for _ in range(count):
            kind = rng.choices(kinds, weights)[0]
            if kind in ("booking", "register"):
                taken = self.take(kind, 1)
                if not taken:
                    break
                lines.append(taken[0])
            else:
                lines.append(rng.choice(self.pools[kind]))
        return lines


async def server_code(env: dict[str, str]) -> str:
    """Where the server's ``clinicdesk`` comes from, and its commit when in git."""
    where = await run_command(
        [sys.executable, "-c", "import clinicdesk; print(clinicdesk.__path__[0])"],
        env=env,
        limit=60,
        what="finding the server's code",
    )
    package = where.strip()

    async def git(*args: str) -> str | None:
        try:
            process = await asyncio.create_subprocess_exec(
                *("git", "-C", package, *args),
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.DEVNULL,
            )
        except OSError:
            return None
        output, _ = await process.communicate()
        return output.decode().strip() if process.returncode == 0 else None

    commit = await git("rev-parse", "--short", "HEAD")
    if commit is None:
        return package
    changed = await git("status", "--porcelain", "--", ".")
    return f"{package} ({commit}{' with uncommitted changes' if changed else ''})"


def server_env(
    owner_url: str, app_url: str, data_dir: Path, args: argparse.Namespace
) -> dict[str, str]:
    env = {
        **os.environ,
        "CLINICDESK_DATA_DIR": str(data_dir),
        "CLINICDESK_HOST": "127.0.0.1",
        "CLINICDESK_DATABASE_URL": app_url,
        "CLINICDESK_FIELD_ENCRYPTION_KEY": args.field_key,
        # The default: one line per request, which the soak's per-route figures read.
        "CLINICDESK_LOG_LEVEL": "INFO",
        "CLINICDESK_LOG_FORMAT": "json",
        "CLINICDESK_ACCESS_TOKEN_MINUTES": "600",
        # The request limits guard a clinic against one runaway client: here that client
        # is the benchmark.
        "CLINICDESK_RATE_LIMIT_GENERAL": "10000000/minute",
        "CLINICDESK_RATE_LIMIT_SEARCH": "10000000/minute",
    }
    for name in ("CLINICDESK_DATABASE_OWNER_URL", "CLINICDESK_REDIS_URL", "CLINICDESK_WORKERS"):
        env.pop(name, None)
    if owner_url != app_url:
        env["CLINICDESK_DATABASE_OWNER_URL"] = owner_url
    if args.src:
        env["PYTHONPATH"] = os.pathsep.join(
            filter(None, [str(args.src / "src"), os.environ.get("PYTHONPATH")])
        )
    return env


async def measure(owner_url: str, app_url: str, args: argparse.Namespace) -> DatabaseResult:
    """Migrate, load and set up the database, serve it, run every scenario and the soak."""
    database = "sqlite" if owner_url.startswith("sqlite") else "postgresql"
    workers = 1 if database == "sqlite" else args.pg_workers
    work = Path(tempfile.mkdtemp(prefix="clinicdesk-http-bench-"))
    data_dir = work / "data"
    data_dir.mkdir()
    env = server_env(owner_url, app_url, data_dir, args)
    server = Server(env, data_dir, workers)
    try:
        code = await server_code(env)
        print(f"{database}: server code {code}; migrating, loading ...", flush=True)
        await run_command(
            [sys.executable, "-m", "clinicdesk", "db", "upgrade", "--no-backup"],
            env=env,
            cwd=data_dir,
            limit=300,
            what="clinicdesk db upgrade",
        )
        spec = {"url": owner_url, "dir": str(work), "patients": args.patients, **sizes(args)}
        (work / "spec.json").write_text(json.dumps(spec))
        await run_command(
            [sys.executable, str(SCRIPT), "--prepare", str(work / "spec.json")],
            env=env,
            cwd=data_dir,
            limit=900,
            what="preparing the data",
        )
        plan = json.loads((work / "plan.json").read_text())
        print(
            f"{database}: {args.patients:,} patients loaded in {plan['load_seconds']} s; "
            f"{plan['locations']} locations, {plan['providers']} providers, "
            f"{plan['checkins']:,} appointments today to check in; "
            f"{plan['drafts']:,} draft and {plan['issued']:,} issued invoices made in "
            f"{plan['invoice_seconds']} s",
            flush=True,
        )
        result = DatabaseResult(
            database=database,
            version=plan["version"],
            workers=workers,
            code=code,
            patients=args.patients,
            load_seconds=plan["load_seconds"],
            setup={k: plan[k] for k in ("locations", "providers", "checkins", "zone")},
            load_average=os.getloadavg()[:2],
        )
        await server.start()
        token, doctor_cookie, desk_cookie = await sign_in(server.url)
        api = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
        headers = {
            **dict.fromkeys(
                ("search", "detail", "booking", "checkin", "register", "issue", "pay"), api
            ),
            "chart": {"Cookie": doctor_cookie, "Accept": "text/html"},
            "board": {"Cookie": desk_cookie, "Accept": "text/html", "HX-Request": "true"},
        }
        requests = Requests(work)
        postmaster = postmaster_of(app_url) if database == "postgresql" else None
        meter = CpuMeter(server.pid, postmaster)
        for scenario in args.scenarios:
            result.runs += await run_scenario(
                server, meter, work, scenario, requests, headers, args
            )
        for clients in args.soak_clients if args.soak else ():
            lines = requests.soak(WRITE_RATE_CEILING["soak"] * args.soak)
            offset = server.log.stat().st_size
            await asyncio.sleep(1)
            meter.restart()
            run = await wrk(
                server.url,
                work,
                "soak",
                lines,
                headers,
                concurrency=clients,
                seconds=args.soak,
                cycle=False,
            )
            meter.charge(run)
            run.scenario = "soak (mixed)"
            result.soak.append(run)
            print(f"  {format_run(run)}", flush=True)
            await asyncio.sleep(1)  # the server logs a request just after its answer
            result.soak_routes.append(by_route(server.log_records(offset)))
        await server.stop()
        result.server_problems = server.problems()
        return result
    finally:
        await server.stop()
        if args.keep:
            print(f"kept {work} (server log, requests, wrk scripts)")
        else:
            shutil.rmtree(work, ignore_errors=True)


async def run_scenario(
    server: Server,
    meter: CpuMeter,
    work: Path,
    scenario: str,
    requests: Requests,
    headers: dict[str, dict[str, str]],
    args: argparse.Namespace,
) -> list[Run]:
    """A checked first request, a warm-up (not reported), then one run per concurrency."""
    write = scenario in WRITES
    pool = requests.pools[scenario]
    await check(server.url, requests.take(scenario, 1)[0] if write else pool[0], headers)
    runs = []
    for warm_up, concurrency, seconds in [
        (True, args.concurrency[0], args.warmup),
        *((False, c, args.duration) for c in args.concurrency),
    ]:
        if seconds <= 0:
            continue
        lines = requests.take(scenario, WRITE_RATE_CEILING[scenario] * seconds) if write else pool
        if not lines:
            print(f"  {scenario} c={concurrency}: no prepared requests left")
            continue
        await asyncio.sleep(1)
        meter.restart()
        run = await wrk(
            server.url,
            work,
            scenario,
            lines,
            headers,
            concurrency=concurrency,
            seconds=seconds,
            cycle=not write,
            think_ms=args.think_ms,
        )
        meter.charge(run)
        if not warm_up:
            runs.append(run)
            print(f"  {format_run(run)}", flush=True)
    return runs


# --- report ----------------------------------------------------------------------------


def format_run(run: Run) -> str:
    flag = f"  (ran out of prepared requests after {run.seconds} s)" if run.ran_out else ""
    errors = f"{run.errors} ({run.error_detail})" if run.errors else "0"
    app = f"{run.app_cpu_ms:.1f}" if run.app_cpu_ms is not None else "-"
    db = f"{run.db_cpu_ms:.1f}" if run.db_cpu_ms is not None else "-"
    others = f"{run.other_cores:.1f}" if run.other_cores is not None else "-"
    return (
        f"{run.scenario:<14}{run.concurrency:>4}{run.rps:>9.1f}{run.p50_ms:>9.1f}"
        f"{run.p95_ms:>9.1f}{run.p99_ms:>9.1f}{run.max_ms:>9.0f}{app:>9}{db:>8}{others:>8}"
        f"  {errors}{flag}"
    )


HEADER = (
    f"{'scenario':<14}{'c':>4}{'req/s':>9}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}{'max ms':>9}"
    f"{'app CPU':>9}{'db CPU':>8}{'others':>8}  errors"
)


def report(results: list[DatabaseResult], args: argparse.Namespace) -> None:
    print()
    print(
        f"date: {datetime.now(UTC):%Y-%m-%d}; machine: {platform.machine()}, "
        f"{os.cpu_count()} cores, Python {platform.python_version()}"
    )
    print(
        f"runs: {args.duration} s each after a {args.warmup} s warm-up"
        + (f" (soak: {args.soak} s)" if args.soak else "")
        + "; "
        f"wrk, 1 thread, --timeout {TIMEOUT_SECONDS}s, waiting for the answers to what was "
        "sent; errors: any answer not 2xx, socket errors, timeouts, requests never answered"
        + (
            f"; each connection a user thinking {args.think_ms[0]}-{args.think_ms[1]} ms "
            "between requests"
            if args.think_ms[1]
            else ""
        )
    )
    for result in results:
        print()
        name = "SQLite" if result.database == "sqlite" else "PostgreSQL"
        print(
            f"{name} {result.version}, {result.workers} worker process(es); "
            f"{result.patients:,} patients (loaded in {result.load_seconds} s); "
            f"load average at start {result.load_average[0]:.2f}"
        )
        print(f"server code: {result.code}")
        print(HEADER)
        print("-" * len(HEADER))
        for run in [*result.runs, *result.soak]:
            print(format_run(run))
        for run, routes in zip(result.soak, result.soak_routes, strict=True):
            print(f"\nsoak with {run.concurrency} clients, by route (server-side times)")
            print(f"{'route':<36}{'requests':>9}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}  errors")
            for figures in routes:
                print(
                    f"{figures.route:<36}{figures.requests:>9}{figures.p50_ms:>9.1f}"
                    f"{figures.p95_ms:>9.1f}{figures.p99_ms:>9.1f}  {figures.errors}"
                )
        if result.server_problems:
            print(f"server log: {result.server_problems}")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )

    def numbers(text: str) -> list[int]:
        return [int(part) for part in text.split(",") if part.strip()]

    def scenarios(text: str) -> list[str]:
        chosen = [part.strip() for part in text.split(",") if part.strip() and part != "none"]
        unknown = set(chosen) - set(SCENARIOS) - set(EXTRA_SCENARIOS)
        if unknown:
            raise argparse.ArgumentTypeError(
                f"unknown scenario(s) {', '.join(sorted(unknown))}; "
                f"choose from {', '.join(SCENARIOS + EXTRA_SCENARIOS)}"
            )
        return chosen

    def think(text: str) -> tuple[int, int]:
        low, _, high = text.partition(",")
        bounds = (int(low), int(high or low))
        if not 0 <= bounds[0] <= bounds[1]:
            raise argparse.ArgumentTypeError("--think-ms wants MIN,MAX with 0 <= MIN <= MAX")
        return bounds

    parser.add_argument("--database", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--concurrency", type=numbers, default=[10, 50])
    parser.add_argument("--duration", type=int, default=10, help="seconds per run")
    parser.add_argument("--warmup", type=int, default=2, help="seconds, before each scenario")
    parser.add_argument("--patients", type=int, default=10_000)
    parser.add_argument(
        "--scenarios",
        type=scenarios,
        default=list(SCENARIOS),
        help=f"comma-separated, or none (default: {','.join(SCENARIOS)}; "
        f"also {','.join(EXTRA_SCENARIOS)})",
    )
    parser.add_argument(
        "--think-ms",
        type=think,
        default=(0, 0),
        help="MIN,MAX: each connection is a user who waits a random MIN..MAX ms after an "
        "answer before the next request (default: none, the next at once)",
    )
    parser.add_argument("--soak", type=int, default=0, help="seconds of the mixed soak run")
    parser.add_argument("--soak-clients", type=numbers, default=[50, 100])
    parser.add_argument("--pg-workers", type=int, default=2, help="server processes on PostgreSQL")
    parser.add_argument(
        "--src", type=Path, help="run the server (and prepare its data) from this checkout"
    )
    parser.add_argument("--json", type=Path, help="also write the results here")
    parser.add_argument(
        "--keep", action="store_true", help="keep the work directory (server log, wrk scripts)"
    )
    parser.add_argument("--time-limit", type=float, help="seconds per database (default: ample)")
    parser.add_argument("--prepare", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.prepare:
        spec = json.loads(args.prepare.read_text())
        plan = asyncio.run(prepare(spec))
        (Path(spec["dir"]) / "plan.json").write_text(json.dumps(plan))
        return
    if shutil.which("wrk") is None:
        raise SystemExit(
            "wrk is not installed: on Debian or Ubuntu `apt-get install wrk` (as root), on "
            "macOS `brew install wrk`, or build it from https://github.com/wg/wrk"
        )
    if args.src:
        args.src = args.src.resolve()
        if not (args.src / "src" / "clinicdesk").is_dir():
            raise SystemExit(f"{args.src} has no src/clinicdesk")
    from clinicdesk.core.keys import new_field_encryption_key

    args.field_key = new_field_encryption_key()
    # A kill (SIGTERM) cleans up like Ctrl+C: servers, the cluster and the files go.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    runs = len(args.scenarios) * (len(args.concurrency) * args.duration + args.warmup)
    time_limit = args.time_limit or 900 + 2 * runs + len(args.soak_clients) * args.soak * 1.5
    try:
        results = asyncio.run(
            on_each(
                args.database,
                lambda owner, app: measure(owner, app, args),
                name="http",
                keep=args.keep,
                time_limit=time_limit,
            )
        )
    except KeyboardInterrupt:
        raise SystemExit("interrupted; the servers were stopped and their files removed") from None
    report(results, args)
    if args.json:
        args.json.write_text(
            json.dumps(
                {
                    "date": f"{datetime.now(UTC):%Y-%m-%d}",
                    "machine": platform.machine(),
                    "cores": os.cpu_count(),
                    "python": platform.python_version(),
                    "src": str(args.src) if args.src else None,
                    "duration": args.duration,
                    "results": [asdict(result) for result in results],
                },
                indent=2,
            )
        )
        print(f"\nwritten to {args.json}")


if __name__ == "__main__":
    main()
