"""Typed keys for what the app holds: config, pool, channels, clients, the use cases, the job engine."""

from __future__ import annotations

import aiohttp
import asyncpg
import grpc
from aiohttp import web

from backend.server.adapters.clients import HasherClient, ImagesClient
from backend.server.catalogue.service import Catalogue
from backend.server.events.bus import ChangeBus
from backend.server.health.service import Health
from backend.server.hub_pictures.service import HubPictures
from backend.server.jobs.control import Jobs
from backend.server.jobs.runner import JobRunner
from backend.server.legacy import LegacyImport, LegacyServices
from backend.server.library.service import Library
from backend.server.personal.service import Personal
from backend.util.config import Config

CONFIG = web.AppKey("config", Config)
# This start of the gateway (a uuid4 in hex): its staged previews and its presence session carry it.
START_ID = web.AppKey("start_id", str)
DATABASE_DSN = web.AppKey("database_dsn", str)
POOL = web.AppKey("pool", asyncpg.Pool)
HASHER_CHANNEL = web.AppKey("hasher_channel", grpc.aio.Channel)
IMAGES_CHANNEL = web.AppKey("images_channel", grpc.aio.Channel)
HASHER = web.AppKey("hasher", HasherClient)
IMAGES = web.AppKey("images", ImagesClient)
JOB_RUNNER = web.AppKey("job_runner", JobRunner)
# The catalogue and the clients and pool under it, built once: what the scan and the import work with.
SERVICES = web.AppKey("services", LegacyServices)
# The use cases, which request handlers call (and nothing else of the above but CONFIG).
CATALOGUE = web.AppKey("catalogue", Catalogue)
LIBRARY = web.AppKey("library", Library)
PERSONAL = web.AppKey("personal", Personal)
LEGACY_IMPORT = web.AppKey("legacy_import", LegacyImport)
HEALTH = web.AppKey("health", Health)
HUB_PICTURES = web.AppKey("hub_pictures", HubPictures)
# The gateway's one client session for the hub's pictures a person asks to see (a hub job has its own).
HUB_SESSION = web.AppKey("hub_session", aiohttp.ClientSession)
JOBS = web.AppKey("jobs", Jobs)
# Catalogue changes, heard from every gateway on the database: GET /api/events.
CHANGE_BUS = web.AppKey("change_bus", ChangeBus)
