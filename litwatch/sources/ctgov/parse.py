"""Parse ClinicalTrials.gov API v2 studies (JSON) into rows.

A study is the object found in ``studies[]`` of ``GET /api/v2/studies``, in the
website's "Download -> JSON" array, or alone from ``GET /api/v2/studies/{nctId}``.
Every module is optional: field-limited downloads and studies without
``derivedSection`` or ``resultsSection`` load with empty values. Dates stay ISO strings
as precise as the source gives them (``2024-10`` stays a month). The study's full JSON
is kept in ``trials.raw`` so nothing the source sent is lost.
"""

from __future__ import annotations

import io
import json
from typing import IO, Any, Iterator

from ...errors import BadRecord, ParseError, UnknownFormat
from ...files import MAX_JSON_BYTES, MAX_RECORD_BYTES
from ..checks import check_record, json_value, kind, pmid, require_nct_id

Row = dict[str, Any]
Record = dict[str, Any]

STUDY_URL = "https://clinicaltrials.gov/study/{}"


def parse_study(study: dict[str, Any]) -> Record:
    """Turn one API v2 study object into table rows (``{"trials": row, "trial_x": [rows]}``).

    :raises BadRecord: the study is malformed: not an object, no NCT ID or one of another
        shape (``NCT`` + 8 digits; surrounding spaces and lower case are repaired), a module
        or list of another JSON type than the API's, a value no column can take.
    """
    if not isinstance(study, dict):
        raise BadRecord(f"{kind(study)}, not a study object")
    p = _obj(study, "protocolSection")
    if not p:
        raise BadRecord("no protocolSection object")
    nct_id = require_nct_id(_obj(p, "identificationModule").get("nctId"))
    try:
        rec = _rows(study, p, nct_id)
        check_record(rec)
    except BadRecord as e:
        raise BadRecord(f"{nct_id}: {e}") from None
    return rec


def _rows(study: dict[str, Any], p: dict[str, Any], nct_id: str) -> Record:
    ident = _obj(p, "identificationModule")
    status = _obj(p, "statusModule")
    design = _obj(p, "designModule")
    info = _obj(design, "designInfo")
    enrollment = _obj(design, "enrollmentInfo")
    sponsors = _obj(p, "sponsorCollaboratorsModule")
    lead = _obj(sponsors, "leadSponsor")
    eligibility = _obj(p, "eligibilityModule")
    arms = _obj(p, "armsInterventionsModule")
    conditions = _list(_obj(p, "conditionsModule"), "conditions")
    interventions = _objs(arms, "interventions")
    derived = _obj(study, "derivedSection")

    def date(name: str) -> tuple[str | None, str | None]:
        struct = _obj(status, name)
        return struct.get("date"), struct.get("type")

    start, start_type = date("startDateStruct")
    primary, primary_type = date("primaryCompletionDateStruct")
    completion, completion_type = date("completionDateStruct")
    trial = {
        "nct_id": nct_id,
        "brief_title": ident.get("briefTitle"),
        "official_title": ident.get("officialTitle"),
        "acronym": ident.get("acronym"),
        "org_study_id": _obj(ident, "orgStudyIdInfo").get("id"),
        "overall_status": status.get("overallStatus"),
        "why_stopped": status.get("whyStopped"),
        "study_type": design.get("studyType"),
        "phases": _json(_list(design, "phases")),
        "allocation": info.get("allocation"),
        "masking": _obj(info, "maskingInfo").get("masking"),
        "primary_purpose": info.get("primaryPurpose"),
        "enrollment": enrollment.get("count"),
        "enrollment_type": enrollment.get("type"),
        "start_date": start, "start_date_type": start_type,
        "primary_completion_date": primary, "primary_completion_date_type": primary_type,
        "completion_date": completion, "completion_date_type": completion_type,
        "first_posted": date("studyFirstPostDateStruct")[0],
        "last_update_posted": date("lastUpdatePostDateStruct")[0],
        "version_holder": _obj(derived, "miscInfoModule").get("versionHolder"),
        "results_first_posted": date("resultsFirstPostDateStruct")[0],
        "has_results": bool(study.get("hasResults") or "resultsSection" in study),
        "lead_sponsor": lead.get("name"),
        "lead_sponsor_class": lead.get("class"),
        "brief_summary": _obj(p, "descriptionModule").get("briefSummary"),
        "conditions": _json(conditions),
        "interventions": _json([i.get("name") for i in interventions]),
        "sex": eligibility.get("sex"),
        "minimum_age": eligibility.get("minimumAge"),
        "maximum_age": eligibility.get("maximumAge"),
        "healthy_volunteers": eligibility.get("healthyVolunteers"),
        "url": STUDY_URL.format(nct_id),
        # Keys sorted: the same study sent with its keys in another order is the same copy.
        "raw": json.dumps(study, ensure_ascii=False, separators=(",", ":"), sort_keys=True),
    }
    outcomes = _obj(p, "outcomesModule")
    sponsor_rows = ([{"role": "lead", **_named(lead)}] if lead else []) + \
        [{"role": "collaborator", **_named(c)} for c in _objs(sponsors, "collaborators")]
    rec: Record = {
        "trials": trial,
        "trial_conditions": [{"source": "reported", "position": i, "condition": c, "mesh_id": None}
                             for i, c in enumerate(conditions, 1)]
        + _mesh(_obj(derived, "conditionBrowseModule"), "condition"),
        "trial_interventions": [
            {"position": i, "type": x.get("type"), "name": x.get("name"),
             "other_names": _json(_list(x, "otherNames")), "description": x.get("description"),
             "arm_group_labels": _json(_list(x, "armGroupLabels"))}
            for i, x in enumerate(interventions, 1)],
        "trial_intervention_mesh": _mesh(_obj(derived, "interventionBrowseModule"), "term"),
        "trial_arms": [
            {"position": i, "label": a.get("label"), "type": a.get("type"),
             "description": a.get("description"), "intervention_names": _json(_list(a, "interventionNames"))}
            for i, a in enumerate(_objs(arms, "armGroups"), 1)],
        "trial_outcomes": [
            {"kind": group, "position": i, "measure": o.get("measure"), "description": o.get("description"),
             "time_frame": o.get("timeFrame")}
            for group in ("primary", "secondary", "other")
            for i, o in enumerate(_objs(outcomes, f"{group}Outcomes"), 1)],
        "trial_sponsors": [{"position": i, **row} for i, row in enumerate(sponsor_rows, 1)],
        "trial_locations": [
            {"position": i, "facility": loc.get("facility"), "city": loc.get("city"),
             "state": loc.get("state"), "zip": loc.get("zip"), "country": loc.get("country"),
             "status": loc.get("status"), "lat": _obj(loc, "geoPoint").get("lat"),
             "lon": _obj(loc, "geoPoint").get("lon")}
            for i, loc in enumerate(_objs(_obj(p, "contactsLocationsModule"), "locations"), 1)],
        "trial_references": [
            {"position": i, "pmid": pmid(r.get("pmid")), "type": r.get("type"), "citation": r.get("citation")}
            for i, r in enumerate(_objs(_obj(p, "referencesModule"), "references"), 1)],
        "trial_ids": [
            {"position": i, "id": x.get("id"), "type": x.get("type"), "domain": x.get("domain"),
             "link": x.get("link")}
            for i, x in enumerate(_objs(ident, "secondaryIdInfos"), 1)],
    }
    for name, rows in rec.items():
        if name != "trials":
            for row in rows:
                row["nct_id"] = nct_id
    return rec


def _obj(parent: dict[str, Any], key: str) -> dict[str, Any]:
    """The object under ``key`` ({} when absent); a value of another type is malformed."""
    value = parent.get(key)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise BadRecord(f"{key} is {kind(value)}, not an object")
    return value


def _list(parent: dict[str, Any], key: str) -> list[Any]:
    """The list under ``key`` ([] when absent); a value of another type is malformed."""
    value = parent.get(key)
    if value is None:
        return []
    if not isinstance(value, list):
        raise BadRecord(f"{key} is {kind(value)}, not a list")
    return value


def _objs(parent: dict[str, Any], key: str) -> list[dict[str, Any]]:
    """The list of objects under ``key``; a list holding anything else is malformed."""
    items = _list(parent, key)
    for item in items:
        if not isinstance(item, dict):
            raise BadRecord(f"{key} holds {kind(item)}, not an object")
    return items


def _mesh(browse: dict[str, Any], field: str) -> list[Row]:
    rows = [{"source": "mesh", "position": i, field: m.get("term"), "mesh_id": m.get("id")}
            for i, m in enumerate(_objs(browse, "meshes"), 1)]
    rows += [{"source": "mesh_ancestor", "position": i, field: m.get("term"), "mesh_id": m.get("id")}
             for i, m in enumerate(_objs(browse, "ancestors"), 1)]
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


class NumberTooLarge(ParseError):
    """The fast JSON reader met an integer past 64 bits (yajl's "integer overflow"): one study's
    absurd value, which the exact reader (``read_json(..., exact=True)``) takes, for the study's
    own check to refuse."""


def read_json(stream: IO[bytes], exact: bool = False) -> Iterator[dict[str, Any]]:
    """Stream the studies of a ClinicalTrials.gov JSON file (any shape of
    :func:`studies_from_json`).

    An array of studies (a website download) or an API page is read one study at a time
    (ijson), so memory holds a study, not the file; no study may span more than
    :data:`~litwatch.files.MAX_RECORD_BYTES` of the file or nest deeper than
    :data:`MAX_DEPTH`. ``exact``: Python's JSON events instead of yajl's (ten times slower; for
    a file holding an integer past 64 bits, see :class:`NumberTooLarge`).
    """
    import ijson

    # BufferedReader reads through readinto(), which every binary stream has but typing.IO does not declare.
    buffered = stream if isinstance(stream, io.BufferedReader) else io.BufferedReader(stream)  # type: ignore[type-var]
    head = buffered.peek(_HEAD)[:_HEAD].lstrip()
    if head.startswith(b"[") or (head.startswith(b"{") and _page_first(head)):
        try:
            yield from _streamed(_Bounded(buffered), page=not head.startswith(b"["), exact=exact)
        except ijson.JSONError as e:
            message = " ".join(str(e).split())
            if "integer overflow" in message and not exact:
                raise NumberTooLarge(f"a number too large for the fast JSON reader: {message}") from None
            raise ParseError(f"malformed JSON: {message}") from None
        return
    body = buffered.read(MAX_JSON_BYTES + 1)
    if len(body) > MAX_JSON_BYTES:
        raise ParseError(f"a JSON object larger than {MAX_JSON_BYTES >> 20} MB, not a study; refused")
    yield from studies_from_json(json_value(body))[0]


# Studies nest about eight levels; JSON nested far deeper is damaged or hostile.
MAX_DEPTH = 64


def _streamed(stream: "_Bounded", page: bool, exact: bool = False) -> Iterator[Any]:
    """The items, built one at a time, of a JSON stream's top-level array, or (``page``) of
    the ``studies`` array of its top-level object.

    ijson's low-level events are used, not ``ijson.items``: its prefixes grow with depth, so
    deeply nested input would take quadratic time before any bound applied.
    """
    import ijson
    from ijson.common import ObjectBuilder

    level = 2 if page else 1  # the depth of the array whose items are wanted
    depth, builder, wanted = 0, None, not page
    backend = ijson.get_backend("python") if exact else ijson
    for event, value in backend.basic_parse(stream, use_float=True):
        if event in _STARTS:
            depth += 1
            if depth > MAX_DEPTH:
                raise ParseError(f"JSON nested more than {MAX_DEPTH} levels deep; refused as damaged or hostile")
        elif event in _ENDS:
            depth -= 1
        elif event == "map_key" and depth == 1 and page:
            wanted = value == "studies"
        if builder is None and wanted and depth == level + 1 and event in _STARTS:
            builder = ObjectBuilder()  # an item of the wanted array begins
        if builder is not None:
            builder.event(event, value)
            if depth == level:  # and has just ended
                yield builder.value
                stream.since = 0
                builder = None
        elif wanted and depth == level and event not in _STARTS + _ENDS + ("map_key",):
            yield value  # a scalar item (not a study): passed on, to be skipped by name
            stream.since = 0


_STARTS, _ENDS = ("start_map", "start_array"), ("end_map", "end_array")


_HEAD = 1 << 16


def _page_first(head: bytes) -> bool:
    """Whether a JSON object is an API page: its ``studies`` key comes before any study."""
    studies, study = head.find(b'"studies"'), head.find(b'"protocolSection"')
    return studies >= 0 and (study < 0 or studies < study)


class _Bounded(io.RawIOBase):
    """A stream that refuses to read more than a record's bound between two records."""

    def __init__(self, stream: IO[bytes]):
        self.stream, self.since = stream, 0

    def readable(self) -> bool:
        return True

    def readinto(self, b: Any) -> int:
        data = self.stream.read(len(b))
        self.since += len(data)
        if self.since > MAX_RECORD_BYTES:
            raise ParseError(f"a study larger than {MAX_RECORD_BYTES >> 20} MB (or one that never ends); "
                             f"refused as damaged or hostile")
        b[:len(data)] = data
        return len(data)
