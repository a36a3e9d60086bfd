"""Stream steps recipe authors chain: tokens, sentences, one span per task, labels and options."""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Any

from .hashing import INPUT_HASH, TASK_HASH, set_hashes
from .loaders import Stream
from .models import add_tokens as _add_tokens
from .models import tokens_of

if TYPE_CHECKING:
    from spacy.language import Language

Task = dict[str, Any]
Step = Callable[[Iterator[Task]], Iterator[Task]]
SENTENCE_COMPONENTS = ("parser", "senter", "sentencizer")


def _chain(stream: Iterable[Task], step: Step, same_length: bool) -> Iterable[Task]:
    """`step` over the stream; a `Stream` stays one (with its length when `step` keeps it)."""
    if isinstance(stream, Stream):
        if same_length:
            return stream.derive(step)  # the caller's stream stays as it was
        return Stream(lambda: step(iter(stream)), parent=stream)
    return step(iter(stream))


def add_tokens(
    nlp: Language,
    stream: Iterable[Task],
    skip: bool = False,
    use_chars: bool = False,
    batch_size: int = 64,
) -> Iterable[Task]:
    """Add `tokens` to each task, and `token_start` / `token_end` to its spans.

    A span that does not fall on token boundaries is snapped outward to the tokens it touches;
    with `skip=True`, such a task is left out instead. With `use_chars=True`, every character
    that is not whitespace is a token, so spans can be marked character by character."""
    if use_chars:
        return _chain(stream, _char_tokens, same_length=True)
    if not skip:
        return _chain(stream, lambda tasks: _add_tokens(nlp, tasks, batch_size), True)

    def aligned(tasks: Iterator[Task]) -> Iterator[Task]:
        pairs = ((task.get("text", ""), task) for task in tasks)
        for doc, task in nlp.pipe(pairs, as_tuples=True, batch_size=batch_size):
            spans = task.get("spans") or []
            found = [doc.char_span(span["start"], span["end"]) for span in spans]
            if any(f is None for f in found):
                continue
            task.setdefault("tokens", tokens_of(doc))
            for span, f in zip(spans, found, strict=True):
                assert f is not None  # checked above
                span.setdefault("token_start", f.start)
                span.setdefault("token_end", f.end - 1)
            yield task

    return _chain(stream, aligned, same_length=False)


def _char_tokens(tasks: Iterator[Task]) -> Iterator[Task]:
    for task in tasks:
        text = task.get("text", "")
        tokens: list[dict[str, Any]] = []
        index: dict[int, int] = {}
        for i, char in enumerate(text):
            if char.isspace():
                continue
            index[i] = len(tokens)
            ws = i + 1 < len(text) and text[i + 1].isspace()
            tokens.append({"text": char, "start": i, "end": i + 1, "id": len(tokens), "ws": ws})
        task["tokens"] = tokens
        for span in task.get("spans") or []:
            inside = [index[i] for i in range(span["start"], span["end"]) if i in index]
            if inside:
                span["token_start"], span["token_end"] = inside[0], inside[-1]
        yield task


def split_sentences(
    nlp: Language,
    stream: Iterable[Task],
    min_length: int | None = None,
    batch_size: int = 64,
) -> Iterable[Task]:
    """One task per sentence of each task's text, with the spans that fall inside it.

    A pipeline that can't split sentences (no parser, senter or sentencizer) gets a copy with a
    sentencizer. Sentences shorter than `min_length` characters are merged into the next one.
    Each sentence task keeps the original's keys and has fresh hashes."""
    if not any(name in SENTENCE_COMPONENTS for name in nlp.pipe_names):
        import spacy

        splitter = spacy.blank(nlp.lang or "xx", vocab=nlp.vocab)
        splitter.tokenizer = nlp.tokenizer
        splitter.add_pipe("sentencizer")
        nlp = splitter

    def split(tasks: Iterator[Task]) -> Iterator[Task]:
        pairs = ((task.get("text", ""), task) for task in tasks)
        for doc, task in nlp.pipe(pairs, as_tuples=True, batch_size=batch_size):
            bounds = [(sent.start_char, sent.end_char) for sent in doc.sents]
            for start, end in _merge_short(bounds, min_length):
                yield _sentence_task(task, doc.text, start, end)

    return _chain(stream, split, same_length=False)


def _merge_short(bounds: list[tuple[int, int]], min_length: int | None) -> list[tuple[int, int]]:
    if not min_length or min_length <= 0:
        return bounds
    out: list[tuple[int, int]] = []
    start: int | None = None
    for sent_start, sent_end in bounds:
        start = sent_start if start is None else start
        if sent_end - start >= min_length:
            out.append((start, sent_end))
            start = None
    if start is not None:
        if out:
            out[-1] = (out[-1][0], bounds[-1][1])
        else:
            out.append((start, bounds[-1][1]))
    return out


def _sentence_task(task: Task, text: str, start: int, end: int) -> Task:
    out = {k: copy.deepcopy(v) for k, v in task.items() if k not in (INPUT_HASH, TASK_HASH)}
    out["text"] = text[start:end]
    out.pop("tokens", None)
    if "spans" in task:
        out["spans"] = [
            {**s, "start": s["start"] - start, "end": s["end"] - start}
            for s in task["spans"]
            if s["start"] >= start and s["end"] <= end
        ]
        for span in out["spans"]:
            span.pop("token_start", None)
            span.pop("token_end", None)
    return set_hashes(out)


def split_spans(stream: Iterable[Task]) -> Iterable[Task]:
    """One task per span of each task (a task without spans is passed over), with fresh hashes:
    what a binary "is this span right?" view asks about."""

    def split(tasks: Iterator[Task]) -> Iterator[Task]:
        for task in tasks:
            for span in task.get("spans") or []:
                out = {k: v for k, v in task.items() if k not in (INPUT_HASH, TASK_HASH)}
                out["spans"] = [dict(span)]
                yield set_hashes(out)

    return _chain(stream, split, same_length=False)


# `Stream.apply` drops the length it knew for these: they make more or fewer tasks.
split_sentences.changes_length = True  # type: ignore[attr-defined]
split_spans.changes_length = True  # type: ignore[attr-defined]


def add_labels_to_stream(stream: Iterable[Task], labels: list[str]) -> Iterable[Task]:
    """A binary question per task: the first label as its `label` (what `classification` shows)."""
    label = labels[0] if labels else None

    def add(task: Task) -> Task:
        if label is not None:
            task["label"] = label
        return task

    return _chain(stream, lambda tasks: (add(t) for t in tasks), same_length=True)


def add_label_options(stream: Iterable[Task], labels: list[str]) -> Iterable[Task]:
    """The labels as the `options` of each task (what `choice` shows)."""
    options = [{"id": label, "text": label} for label in labels]

    def add(task: Task) -> Task:
        task["options"] = [dict(o) for o in options]
        return task

    return _chain(stream, lambda tasks: (add(t) for t in tasks), same_length=True)


def doc_tokens(doc: Any) -> list[dict[str, Any]]:
    """A spaCy Doc's tokens as task `tokens` (`text`, `start`, `end`, `id`, `ws`)."""
    return tokens_of(doc)
