"""A pattern matcher in the loop: patterns from JSONL suggest spans (or labels), and each
pattern's score is the share of its matches accepted so far, starting from prior counts."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import SourceError
from .hashing import INPUT_HASH, TASK_HASH, set_hashes
from .models import tokens_of
from .spacy_model import SCORE_BATCH, batches

if TYPE_CHECKING:
    from spacy.language import Language

Task = dict[str, Any]
Scored = tuple[float, Task]
# Token attributes that the pipeline's components set: patterns using them need the whole
# pipeline run; others are matched on the tokenizer's output alone.
PIPELINE_ATTRS = {"POS", "TAG", "MORPH", "DEP", "LEMMA", "ENT_TYPE", "ENT_IOB", "ENT_ID"}


class PatternMatcher:
    """Suggest what patterns match. A pattern is `{"label": L, "pattern": P}` where P is a list
    of spaCy token dicts (`[{"lower": "new"}, {"lower": "york"}]`) or a phrase (`"New York"`,
    matched on the exact text of its tokens).

    `label_span` puts the label on each matched span (`ner`); `label_task` puts it on the task
    (`classification`, the span only highlighted). By default each match is one question;
    `combine_matches` asks about all the matches of a text at once, and `all_examples` also
    yields texts without a match (score 0). A pattern's score is
    `(accepted + prior_correct) / (answered + prior_correct + prior_incorrect)`, so it learns
    from answers through `update`."""

    def __init__(
        self,
        nlp: Language,
        label_span: bool = True,
        label_task: bool = False,
        combine_matches: bool = False,
        all_examples: bool = False,
        prior_correct: float = 2.0,
        prior_incorrect: float = 2.0,
        filter_labels: list[str] | None = None,
    ) -> None:
        from spacy.matcher import Matcher, PhraseMatcher

        self.nlp = nlp
        self.label_span = label_span
        self.label_task = label_task
        self.combine_matches = combine_matches
        self.all_examples = all_examples
        self.prior_correct = prior_correct
        self.prior_incorrect = prior_incorrect
        self.filter_labels = set(filter_labels) if filter_labels else None
        self.matcher = Matcher(nlp.vocab)
        self.phrase_matcher = PhraseMatcher(nlp.vocab)
        self.patterns: dict[str, dict[str, Any]] = {}  # pattern id -> the pattern
        self.needs_pipeline = False
        self.correct: dict[str, int] = {}
        self.incorrect: dict[str, int] = {}

    @property
    def labels(self) -> list[str]:
        return sorted({p["label"] for p in self.patterns.values()})

    def add_patterns(self, patterns: Iterable[dict[str, Any]], where: str = "patterns") -> None:
        """Add patterns (dicts with `label` and `pattern`)."""
        for i, entry in enumerate(patterns, 1):
            label, pattern = _check_pattern(entry, where, i)
            if self.filter_labels is not None and label not in self.filter_labels:
                continue
            key = f"{len(self.patterns)}"
            self.patterns[key] = {"label": label, "pattern": pattern}
            try:
                if isinstance(pattern, str):
                    self.phrase_matcher.add(key, [self.nlp.make_doc(pattern)])
                else:
                    self.matcher.add(key, [pattern])
                    keys = {k.upper() for token in pattern for k in token}
                    self.needs_pipeline = self.needs_pipeline or bool(keys & PIPELINE_ATTRS)
            except (ValueError, KeyError) as err:
                first = str(err).strip().splitlines()[0]
                raise SourceError(
                    f"{where} pattern {i} is not a valid spaCy pattern: {first}"
                ) from None
            self.correct.setdefault(key, 0)
            self.incorrect.setdefault(key, 0)

    def from_disk(self, path: str | Path) -> PatternMatcher:
        """Add the patterns of a JSONL file (one pattern per line); returns the matcher."""
        where = f"'{path}'"
        try:
            lines = Path(path).read_text(encoding="utf8").splitlines()
        except OSError as err:
            raise SourceError(f"Can't read the patterns file {where}: {err.strerror}.") from None
        entries = []
        for n, line in enumerate(lines, 1):
            if not line.strip():
                continue
            try:
                entries.append(json.loads(line))
            except json.JSONDecodeError as err:
                raise SourceError(f"{where} line {n} is not valid JSON: {err.msg}.") from None
        self.add_patterns(entries, where)
        return self

    def score(self, key: str) -> float:
        """The share of this pattern's matches accepted so far, with the prior counts."""
        good = self.correct.get(key, 0) + self.prior_correct
        total = good + self.incorrect.get(key, 0) + self.prior_incorrect
        return good / total if total else 0.5

    def __call__(self, stream: Iterable[Task]) -> Iterator[Scored]:
        """`(score, task)` for each match (or each text, with `combine_matches`)."""
        for group in batches(stream, SCORE_BATCH):
            texts = [task.get("text", "") for task in group]
            docs = self.nlp.pipe(texts) if self.needs_pipeline else map(self.nlp.make_doc, texts)
            for task, doc in zip(group, docs, strict=True):
                matches = self._matches(doc)
                if self.combine_matches:
                    if matches or self.all_examples:
                        score = max((self.score(k) for k, _, _ in matches), default=0.0)
                        yield score, self._task(task, doc, matches, score)
                    continue
                if not matches and self.all_examples:
                    yield 0.0, self._task(task, doc, [], 0.0)
                for match in matches:
                    score = self.score(match[0])
                    yield score, self._task(task, doc, [match], score)

    def _matches(self, doc: Any) -> list[tuple[str, int, int]]:
        found = self.matcher(doc) + self.phrase_matcher(doc)
        vocab = self.nlp.vocab.strings
        out = {(vocab[match_id], start, end) for match_id, start, end in found}
        return sorted(out, key=lambda m: (m[1], m[2], int(m[0])))

    def _task(
        self, task: Task, doc: Any, matches: list[tuple[str, int, int]], score: float
    ) -> Task:
        out = {k: v for k, v in task.items() if k not in (INPUT_HASH, TASK_HASH)}
        spans = []
        for key, start, end in matches:
            span = doc[start:end]
            item: dict[str, Any] = {
                "start": span.start_char,
                "end": span.end_char,
                "token_start": start,
                "token_end": end - 1,
                "text": span.text,
                "pattern": key,
            }
            if self.label_span:
                item["label"] = self.patterns[key]["label"]
            spans.append(item)
        out["spans"] = spans
        out["tokens"] = tokens_of(doc)
        if self.label_task and matches:
            out["label"] = self.patterns[matches[0][0]]["label"]
        out["score"] = score
        meta = dict(task.get("meta") or {})
        meta["score"] = round(score, 3)
        if matches:
            meta["pattern"] = ", ".join(key for key, _, _ in matches)
        out["meta"] = meta
        return set_hashes(out)

    def update(self, answers: list[Task]) -> float | None:
        """Count accepted and rejected matches per pattern; the loss is how far the scores
        were from the answers (mean of 1 - score for accepts, score for rejects)."""
        errors = []
        for answer in answers:
            verdict = answer.get("answer")
            if verdict not in ("accept", "reject"):
                continue
            for key in {s.get("pattern") for s in answer.get("spans") or []}:
                if key not in self.patterns:
                    continue
                score = self.score(key)
                if verdict == "accept":
                    self.correct[key] += 1
                    errors.append(1.0 - score)
                else:
                    self.incorrect[key] += 1
                    errors.append(score)
        return sum(errors) / len(errors) if errors else None


def _check_pattern(entry: Any, where: str, n: int) -> tuple[str, Any]:
    if not isinstance(entry, dict) or "label" not in entry or "pattern" not in entry:
        raise SourceError(
            f"{where} pattern {n} must be an object with 'label' and 'pattern', "
            f'e.g. {{"label": "CITY", "pattern": "New York"}}.'
        )
    label, pattern = entry["label"], entry["pattern"]
    if not isinstance(label, str) or not label:
        raise SourceError(f"{where} pattern {n}: 'label' must be a non-empty string.")
    ok = (isinstance(pattern, str) and bool(pattern.strip())) or (
        isinstance(pattern, list) and bool(pattern) and all(isinstance(t, dict) for t in pattern)
    )
    if not ok:
        raise SourceError(
            f"{where} pattern {n}: 'pattern' must be a phrase or a list of token dicts."
        )
    return label, pattern
