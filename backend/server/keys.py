"""Typed keys for what the app holds: config, pool, channels, clients, the catalogue, the job engine."""

from __future__ import annotations

import asyncpg
import grpc
from aiohttp import web

from backend.server.catalogue import Catalogue
from backend.server.clients import HasherClient, ImagesClient
from backend.server.jobs.runner import JobRunner
from backend.util.config import Config

CONFIG = web.AppKey("config", Config)
POOL = web.AppKey("pool", asyncpg.Pool)
HASHER_CHANNEL = web.AppKey("hasher_channel", grpc.aio.Channel)
IMAGES_CHANNEL = web.AppKey("images_channel", grpc.aio.Channel)
HASHER = web.AppKey("hasher", HasherClient)
IMAGES = web.AppKey("images", ImagesClient)
CATALOGUE = web.AppKey("catalogue", Catalogue)
JOBS = web.AppKey("jobs", JobRunner)
