"""Parse ClinicalTrials.gov API v2 studies (JSON) into rows.

A study is the object found in ``studies[]`` of ``GET /api/v2/studies``, in the
website's "Download -> JSON" array, or alone from ``GET /api/v2/studies/{nctId}``.
Every module is optional: field-limited downloads and studies without
``derivedSection`` or ``resultsSection`` load with empty values. Dates stay ISO strings
as precise as the source gives them (``2024-10`` stays a month). The study's full JSON
is kept in ``trials.raw`` so nothing the source sent is lost.
"""

from __future__ import annotations

import json
from typing import IO, Any

from ...errors import ParseError, UnknownFormat

Row = dict[str, Any]
Record = dict[str, Any]

STUDY_URL = "https://clinicaltrials.gov/study/{}"


def parse_study(study: dict[str, Any]) -> Record:
    """Turn one API v2 study object into table rows (``{"trials": row, "trial_x": [rows]}``)."""
    if not isinstance(study, dict) or "protocolSection" not in study:
        raise ParseError("not a ClinicalTrials.gov study (no protocolSection)")
    p = study["protocolSection"]
    ident = p.get("identificationModule", {})
    nct_id = ident.get("nctId")
    if not nct_id:
        raise ParseError("study without identificationModule.nctId")
    status = p.get("statusModule", {})
    design = p.get("designModule", {})
    info = design.get("designInfo", {})
    enrollment = design.get("enrollmentInfo", {})
    sponsors = p.get("sponsorCollaboratorsModule", {})
    lead = sponsors.get("leadSponsor", {})
    eligibility = p.get("eligibilityModule", {})
    arms = p.get("armsInterventionsModule", {})
    conditions = p.get("conditionsModule", {}).get("conditions", [])
    interventions = arms.get("interventions", [])
    derived = study.get("derivedSection", {})

    def date(name: str) -> tuple[str | None, str | None]:
        struct = status.get(name, {})
        return struct.get("date"), struct.get("type")

    start, start_type = date("startDateStruct")
    primary, primary_type = date("primaryCompletionDateStruct")
    completion, completion_type = date("completionDateStruct")
    trial = {
        "nct_id": nct_id,
        "brief_title": ident.get("briefTitle"),
        "official_title": ident.get("officialTitle"),
        "acronym": ident.get("acronym"),
        "org_study_id": ident.get("orgStudyIdInfo", {}).get("id"),
        "overall_status": status.get("overallStatus"),
        "why_stopped": status.get("whyStopped"),
        "study_type": design.get("studyType"),
        "phases": _json(design.get("phases", [])),
        "allocation": info.get("allocation"),
        "masking": info.get("maskingInfo", {}).get("masking"),
        "primary_purpose": info.get("primaryPurpose"),
        "enrollment": enrollment.get("count"),
        "enrollment_type": enrollment.get("type"),
        "start_date": start, "start_date_type": start_type,
        "primary_completion_date": primary, "primary_completion_date_type": primary_type,
        "completion_date": completion, "completion_date_type": completion_type,
        "first_posted": date("studyFirstPostDateStruct")[0],
        "last_update_posted": date("lastUpdatePostDateStruct")[0],
        "version_holder": derived.get("miscInfoModule", {}).get("versionHolder"),
        "results_first_posted": date("resultsFirstPostDateStruct")[0],
        "has_results": bool(study.get("hasResults") or "resultsSection" in study),
        "lead_sponsor": lead.get("name"),
        "lead_sponsor_class": lead.get("class"),
        "brief_summary": p.get("descriptionModule", {}).get("briefSummary"),
        "conditions": _json(conditions),
        "interventions": _json([i.get("name") for i in interventions]),
        "sex": eligibility.get("sex"),
        "minimum_age": eligibility.get("minimumAge"),
        "maximum_age": eligibility.get("maximumAge"),
        "healthy_volunteers": eligibility.get("healthyVolunteers"),
        "url": STUDY_URL.format(nct_id),
        "raw": json.dumps(study, ensure_ascii=False, separators=(",", ":")),
    }
    outcomes = p.get("outcomesModule", {})
    sponsor_rows = ([{"role": "lead", **_named(lead)}] if lead else []) + \
        [{"role": "collaborator", **_named(c)} for c in sponsors.get("collaborators", [])]
    rec = {
        "trials": trial,
        "trial_conditions": [{"source": "reported", "position": i, "condition": c, "mesh_id": None}
                             for i, c in enumerate(conditions, 1)]
        + _mesh(derived.get("conditionBrowseModule", {}), "condition"),
        "trial_interventions": [
            {"position": i, "type": x.get("type"), "name": x.get("name"),
             "other_names": _json(x.get("otherNames", [])), "description": x.get("description"),
             "arm_group_labels": _json(x.get("armGroupLabels", []))}
            for i, x in enumerate(interventions, 1)],
        "trial_intervention_mesh": _mesh(derived.get("interventionBrowseModule", {}), "term"),
        "trial_arms": [
            {"position": i, "label": a.get("label"), "type": a.get("type"),
             "description": a.get("description"), "intervention_names": _json(a.get("interventionNames", []))}
            for i, a in enumerate(arms.get("armGroups", []), 1)],
        "trial_outcomes": [
            {"kind": kind, "position": i, "measure": o.get("measure"), "description": o.get("description"),
             "time_frame": o.get("timeFrame")}
            for kind in ("primary", "secondary", "other")
            for i, o in enumerate(outcomes.get(f"{kind}Outcomes", []), 1)],
        "trial_sponsors": [{"position": i, **row} for i, row in enumerate(sponsor_rows, 1)],
        "trial_locations": [
            {"position": i, "facility": loc.get("facility"), "city": loc.get("city"),
             "state": loc.get("state"), "zip": loc.get("zip"), "country": loc.get("country"),
             "status": loc.get("status"), "lat": loc.get("geoPoint", {}).get("lat"),
             "lon": loc.get("geoPoint", {}).get("lon")}
            for i, loc in enumerate(p.get("contactsLocationsModule", {}).get("locations", []), 1)],
        "trial_references": [
            {"position": i, "pmid": int(r["pmid"]) if str(r.get("pmid", "")).isdigit() else None,
             "type": r.get("type"), "citation": r.get("citation")}
            for i, r in enumerate(p.get("referencesModule", {}).get("references", []), 1)],
        "trial_ids": [
            {"position": i, "id": x.get("id"), "type": x.get("type"), "domain": x.get("domain"),
             "link": x.get("link")}
            for i, x in enumerate(ident.get("secondaryIdInfos", []), 1)],
    }
    for name, rows in rec.items():
        if name != "trials":
            for row in rows:
                row["nct_id"] = nct_id
    return rec


def _mesh(browse: dict[str, Any], field: str) -> list[Row]:
    rows = [{"source": "mesh", "position": i, field: m.get("term"), "mesh_id": m.get("id")}
            for i, m in enumerate(browse.get("meshes", []), 1)]
    rows += [{"source": "mesh_ancestor", "position": i, field: m.get("term"), "mesh_id": m.get("id")}
             for i, m in enumerate(browse.get("ancestors", []), 1)]
    return rows


def _named(sponsor: dict[str, Any]) -> Row:
    return {"name": sponsor.get("name"), "class": sponsor.get("class")}


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


def studies_from_json(data: Any) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """The studies in any of the JSON shapes litwatch reads, and the envelope's other keys.

    Accepts a website download (an array of studies), an API page (``{"studies": [...]}``,
    maybe with ``totalCount`` / ``nextPageToken``) and a single study object.
    """
    if isinstance(data, list):
        return data, {}
    if isinstance(data, dict) and isinstance(data.get("studies"), list):
        return data["studies"], {k: v for k, v in data.items() if k != "studies"}
    if isinstance(data, dict) and "protocolSection" in data:
        return [data], {}
    raise UnknownFormat("JSON, but not ClinicalTrials.gov studies (no 'studies' list or 'protocolSection')")


# JSON is read whole; a larger file (or a gzip bomb) is refused rather than exhausting memory.
MAX_JSON_BYTES = 512 << 20


def read_json(stream: IO[bytes]) -> list[dict[str, Any]]:
    """Read a ClinicalTrials.gov JSON file (any shape of :func:`studies_from_json`)."""
    body = stream.read(MAX_JSON_BYTES + 1)
    if len(body) > MAX_JSON_BYTES:
        raise ParseError(f"JSON larger than {MAX_JSON_BYTES >> 20} MB; split it (the API pages "
                         f"studies by 1,000) and import the parts")
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError) as e:
        raise ParseError(f"malformed JSON: {e}") from None
    return studies_from_json(data)[0]
