"""/healthz for monitoring: the index's generation, size and age, and the last run's outcome.

200 when an index this finsearch can read is current; 503 (with the reason) when
there is none yet or it must be rebuilt. Never cached.
"""
from __future__ import annotations

import time

from flask import Blueprint, current_app, jsonify

from finsearch.search import IndexMissing, last_run

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz():
    service = current_app.extensions["finsearch"]
    outcome = last_run(service.index_dir)
    try:
        health = service.engine().health()
    except IndexMissing as error:
        response = jsonify(status="unavailable", error=str(error), last_run=outcome)
        response.status_code = 503
    else:
        response = jsonify(status="ok", generation=health.generation, build=health.build,
                           documents=health.documents,
                           age_seconds=round(time.time() - health.created) if health.created is not None else None,
                           last_run=outcome)
    response.headers["Cache-Control"] = "no-store"
    return response
