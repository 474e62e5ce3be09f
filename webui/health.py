"""/healthz for monitoring: the index's generation, size and age, and the last run's outcome.

200 when an index this finsearch can read is current and whole; 503 (with the reason) when
there is none yet, it must be rebuilt, or a file of it is damaged (`damaged` names the files;
the generation still served, if any, is given too). Never cached.
"""
from __future__ import annotations

import time

from flask import Blueprint, current_app, jsonify

from finsearch.search import IndexDamaged, IndexMissing, last_run

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz():
    service = current_app.extensions["finsearch"]
    outcome = last_run(service.index_dir)
    try:
        health = service.engine().health()
    except IndexMissing as error:
        response = jsonify(status="unavailable", error=str(error), last_run=outcome,
                           damaged=list(error.files) if isinstance(error, IndexDamaged) else [])
        response.status_code = 503
    else:
        stats = health.stats
        served = {"generation": stats.generation, "build": stats.build, "documents": stats.documents,
                  "age_seconds": round(time.time() - stats.created) if stats.created is not None else None}
        if health.problem:
            response = jsonify(status="unavailable", error=health.problem, damaged=list(health.damaged),
                               serving=served, last_run=outcome)
            response.status_code = 503
        else:
            response = jsonify(status="ok", **served, last_run=outcome)
    response.headers["Cache-Control"] = "no-store"
    return response
