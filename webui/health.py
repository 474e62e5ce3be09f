"""/healthz for monitoring: the index's generation, size and age, and the last run's outcome.

200 when an index this finsearch can read is current; 503 (with the reason) when
there is none yet or it must be rebuilt. Never cached.
"""
from __future__ import annotations

import time

from flask import Blueprint, current_app, jsonify

from finsearch.indexer import store
from finsearch.search import IndexMissing

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz():
    service = current_app.extensions["finsearch"]
    root = store.resolve_root(service.index_dir)
    last_run = store.read_outcome(root)
    try:
        engine = service.engine()
        documents = engine.stats().documents
        build = store.current_build(root)
    except IndexMissing as error:
        response = jsonify(status="unavailable", error=str(error), last_run=last_run)
        response.status_code = 503
    else:
        manifest = store.read_manifest(build) or {}
        created = manifest.get("created")
        response = jsonify(status="ok", generation=manifest.get("generation"), build=build.name,
                           documents=documents,
                           age_seconds=round(time.time() - created) if isinstance(created, (int, float)) else None,
                           last_run=last_run)
    response.headers["Cache-Control"] = "no-store"
    return response
