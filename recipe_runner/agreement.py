"""Inter-annotator agreement: percent agreement, Krippendorff's alpha and Gwet's AC1 over the
answers of a dataset, and each session's pace and agreement with the others (`rr stats`).

Every kind of agreement is measured on yes/no decisions, so that one set of formulas serves all:
- `binary`: a unit is (input hash, label); each session's value is its accept or reject;
- `doc`: a unit is (input hash, label) for every label a session was asked about (the options
  of a choice task, the label of a classification task); the value is whether it accepted it;
- `span`: a unit is (input hash, start, end, label) for every span some session marked on a
  text; each session that annotated the text says yes (it marked that span) or no.
Per label, the units of that label; overall, every unit. `ignore` answers are left out; a
session that answered a unit twice counts with its last answer.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Hashable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from .errors import RecipeRunnerError

KINDS = ("binary", "doc", "span")
# A gap between two answers longer than this is a break, not time spent on the answers after it.
BREAK_SECONDS = 600.0

Unit = tuple[Any, ...]  # (input hash, label, ...): the first element is the item
Ratings = dict[Unit, dict[str, Hashable]]  # unit -> {session id: value}


@dataclass(frozen=True)
class Agreement:
    """The figures of one set of units; a figure that is undefined is None."""

    items: int
    annotators: int
    percent_agreement: float | None
    krippendorff_alpha: float | None
    gwet_ac2: float | None

    def as_dict(self) -> dict[str, Any]:
        return {
            "items": self.items,
            "annotators": self.annotators,
            "percent_agreement": self.percent_agreement,
            "krippendorff_alpha": self.krippendorff_alpha,
            "gwet_ac2": self.gwet_ac2,
        }


# the three coefficients, on reliability data: unit -> {annotator: value} --------------------
def pairable(ratings: Ratings) -> list[list[Hashable]]:
    """The values of each unit that has at least two, the only units the figures use."""
    return [list(values.values()) for values in ratings.values() if len(values) >= 2]


def percent_agreement(units: list[list[Hashable]]) -> float | None:
    """The mean over units of agreeing pairs of annotators / pairs."""
    if not units:
        return None
    total = 0.0
    for values in units:
        m = len(values)
        same = sum(n * (n - 1) for n in _tally(values).values())
        total += same / (m * (m - 1))
    return total / len(units)


def krippendorff_alpha(units: list[list[Hashable]]) -> float | None:
    """Krippendorff's alpha for nominal data: 1 - observed / expected disagreement, from the
    coincidences of values within units. None when every value is the same (no expected
    disagreement) or there is nothing to compare."""
    coincidences: dict[Hashable, float] = defaultdict(float)  # n_c
    observed = 0.0  # sum of the off-diagonal coincidences
    for values in units:
        m = len(values)
        tally = _tally(values)
        for value, n in tally.items():
            coincidences[value] += n
            observed += n * (m - n) / (m - 1)
    n_total = sum(coincidences.values())
    if n_total <= 1:
        return None
    expected = (n_total**2 - sum(n * n for n in coincidences.values())) / (n_total - 1)
    if expected == 0:
        return None
    return 1.0 - observed / expected


def gwet_ac(
    ratings: Ratings, categories: Iterable[Hashable], units: list[list[Hashable]] | None = None
) -> float | None:
    """Gwet's agreement coefficient with identity weights (AC1; AC2 with identity weights is
    AC1), for several raters and missing ratings: agreement over the units with two or more
    ratings, chance agreement from the category shares over every unit rated."""
    categories = list(categories)
    q = len(categories)
    units = pairable(ratings) if units is None else units
    if not units or q < 2:
        return None
    pa = percent_agreement(units)
    assert pa is not None
    shares: dict[Hashable, float] = dict.fromkeys(categories, 0.0)
    rated = [values for values in ratings.values() if values]
    for values in rated:
        r = len(values)
        for value, n in _tally(list(values.values())).items():
            shares[value] = shares.get(value, 0.0) + n / r
    pe = sum((s / len(rated)) * (1 - s / len(rated)) for s in shares.values()) / (q - 1)
    if pe >= 1:
        return None
    return (pa - pe) / (1 - pe)


def _tally(values: list[Hashable]) -> dict[Hashable, int]:
    counts: dict[Hashable, int] = defaultdict(int)
    for value in values:
        counts[value] += 1
    return counts


def agreement(ratings: Ratings, categories: Iterable[Hashable]) -> Agreement:
    """The three figures of a set of units, with the items (first element of a unit) that have
    at least two annotators among them, and the annotators that rated any unit."""
    units = pairable(ratings)
    items = {unit[0] for unit, values in ratings.items() if len(values) >= 2}
    annotators = {session for values in ratings.values() for session in values}
    return Agreement(
        items=len(items),
        annotators=len(annotators),
        percent_agreement=percent_agreement(units),
        krippendorff_alpha=krippendorff_alpha(units),
        gwet_ac2=gwet_ac(ratings, categories, units),
    )


# answers -> units ---------------------------------------------------------------------------
def _latest(answers: Iterable[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """The answers that count: not ignored, with a session; a session's later answer to the
    same task replaces its earlier one (answers come in the order saved)."""
    kept: dict[tuple[str, Any], Mapping[str, Any]] = {}
    for answer in answers:
        if answer.get("answer") not in ("accept", "reject"):
            continue
        session = str(answer.get("_session_id") or "")
        kept[(session, answer.get("_task_hash"))] = answer
    return list(kept.values())


def _label_of(answer: Mapping[str, Any]) -> str | None:
    label = answer.get("label")
    return label if isinstance(label, str) else None


def binary_units(answers: Iterable[Mapping[str, Any]]) -> Ratings:
    """(input hash, label) -> {session: "accept" | "reject"}."""
    ratings: Ratings = defaultdict(dict)
    for answer in _latest(answers):
        unit = (answer.get("_input_hash"), _label_of(answer) or "")
        ratings[unit][str(answer.get("_session_id") or "")] = answer["answer"]
    return dict(ratings)


def doc_units(answers: Iterable[Mapping[str, Any]]) -> Ratings:
    """(input hash, label) -> {session: accepted?} for each label the session was asked about.
    A choice task asks about its options (a rejected one is left out: the question was wrong);
    a classification task about its label (reject: not that label)."""
    ratings: Ratings = defaultdict(dict)
    for answer in _latest(answers):
        session = str(answer.get("_session_id") or "")
        item = answer.get("_input_hash")
        options = answer.get("options")
        if isinstance(options, list):
            if answer["answer"] != "accept":
                continue
            chosen = {str(c) for c in answer.get("accept") or []}
            for option in options:
                if isinstance(option, dict) and "id" in option:
                    label = str(option["id"])
                    ratings[(item, label)][session] = label in chosen
        elif _label_of(answer) is not None:
            ratings[(item, _label_of(answer))][session] = answer["answer"] == "accept"
    return dict(ratings)


def span_units(answers: Iterable[Mapping[str, Any]]) -> Ratings:
    """(input hash, start, end, label) -> {session: marked?} over every span any session
    marked on the text, for every session that accepted an annotation of it."""
    marked: dict[Any, dict[str, set[tuple[int, int, str]]]] = defaultdict(dict)
    for answer in _latest(answers):
        if answer["answer"] != "accept":
            continue
        spans = set()
        for span in answer.get("spans") or []:
            if isinstance(span, dict) and {"start", "end"} <= span.keys():
                spans.add((int(span["start"]), int(span["end"]), str(span.get("label") or "")))
        session = str(answer.get("_session_id") or "")
        mine = marked[answer.get("_input_hash")].setdefault(session, set())
        mine |= spans
    ratings: Ratings = {}
    for item, by_session in marked.items():
        every = set().union(*by_session.values())
        for start, end, label in sorted(every):
            ratings[(item, label, start, end)] = {
                session: (start, end, label) in spans for session, spans in by_session.items()
            }
    return ratings


UNITS = {"binary": binary_units, "doc": doc_units, "span": span_units}


def iaa(
    kind: str, answers: Iterable[Mapping[str, Any]], labels: list[str] | None = None
) -> dict[str, Any]:
    """`rr metric iaa KIND`: the overall figures and `per_label`, as contract section 12 says."""
    if kind not in UNITS:
        raise RecipeRunnerError(f"Unknown agreement kind '{kind}': use {', '.join(KINDS)}.")
    ratings = UNITS[kind](answers)
    if labels:
        wanted = set(labels)
        ratings = {unit: values for unit, values in ratings.items() if unit[1] in wanted}
    categories: tuple[Hashable, ...] = ("accept", "reject") if kind == "binary" else (True, False)
    by_label: dict[str, Ratings] = defaultdict(dict)
    for unit, values in ratings.items():
        by_label[unit[1]][unit] = values
    order = labels or sorted(by_label)
    overall = agreement(ratings, categories).as_dict()
    per_label = {label: agreement(by_label.get(label, {}), categories).as_dict() for label in order}
    return {"kind": kind, **overall, "per_label": per_label}


# sessions: pace and agreement with the others -------------------------------------------------
def session_pace(timestamps: list[float]) -> tuple[float | None, float | None]:
    """(answers per hour, median seconds per answer) from a session's answer timestamps.
    Answers saved together (a batch) share the time since the previous save; a gap longer than
    BREAK_SECONDS is a break, and the answers after it are not timed."""
    times = sorted(timestamps)
    per_answer: list[float] = []
    previous: float | None = None
    for time, group in _groups(times):
        if previous is not None and time - previous <= BREAK_SECONDS:
            per_answer += [(time - previous) / group] * group
        previous = time
    if not per_answer:
        return None, None
    spent = sum(per_answer)
    rate = 3600.0 * len(per_answer) / spent if spent > 0 else None
    return rate, statistics.median(per_answer)


def _groups(times: list[float]) -> list[tuple[float, int]]:
    groups: list[tuple[float, int]] = []
    for time in times:
        if groups and groups[-1][0] == time:
            groups[-1] = (time, groups[-1][1] + 1)
        else:
            groups.append((time, 1))
    return groups


def _annotation(answer: Mapping[str, Any]) -> Hashable:
    """What a session said about a text, for comparing sessions: its answer, label, choices
    and spans."""
    spans = tuple(
        sorted(
            (s.get("start"), s.get("end"), str(s.get("label")))
            for s in answer.get("spans") or []
            if isinstance(s, dict)
        )
    )
    accept = tuple(sorted(str(a) for a in answer.get("accept") or []))
    return (answer.get("answer"), _label_of(answer), accept, spans)


def session_agreement(answers: Iterable[Mapping[str, Any]]) -> dict[str, float | None]:
    """Per session, the share of its pairs with other sessions on the same task (task hash)
    where both gave the same annotation; None for a session that shares no task with another."""
    by_task: dict[Any, dict[str, Hashable]] = defaultdict(dict)
    for answer in _latest(answers):
        by_task[answer.get("_task_hash")][str(answer.get("_session_id") or "")] = _annotation(
            answer
        )
    same: dict[str, int] = defaultdict(int)
    pairs: dict[str, int] = defaultdict(int)
    sessions: set[str] = set()
    for values in by_task.values():
        sessions.update(values)
        for session, mine in values.items():
            for other, theirs in values.items():
                if other != session:
                    pairs[session] += 1
                    same[session] += mine == theirs
    return {s: (same[s] / pairs[s] if pairs[s] else None) for s in sessions}
