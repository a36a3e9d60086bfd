"""Real data for the model-in-the-loop tests: SMS spam and WNUT 2017, as sources and gold files."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import srsly

from .conftest import DATA

SMS = DATA / "textcat" / "sms_spam" / "SMSSpamCollection"
WNUT_DEV = DATA / "ner" / "wnut17" / "emerging.dev.prodigy.jsonl"
WNUT_TRAIN = DATA / "ner" / "wnut17" / "wnut17train.conll"


def sms_messages() -> list[tuple[str, str]]:
    """(label, text) pairs; the file is `ham|spam<TAB>text`, split on the first tab."""
    out = []
    for line in SMS.read_text(encoding="utf-8").split("\n"):
        if line.strip():
            label, text = line.split("\t", 1)
            out.append((label, text))
    return out


def write_sms(folder: Path, n: int, offset: int = 0) -> tuple[Path, Path]:
    """A source of `n` unique messages and its gold file (label SPAM, accept or reject)."""
    seen: dict[str, str] = {}
    for label, text in sms_messages()[offset:]:
        seen.setdefault(text, label)
        if len(seen) >= n:
            break
    source, gold = folder / "sms.jsonl", folder / "sms_gold.jsonl"
    srsly.write_jsonl(source, [{"text": t} for t in seen])
    srsly.write_jsonl(
        gold,
        [
            {"text": t, "label": "SPAM", "answer": "accept" if lab == "spam" else "reject"}
            for t, lab in seen.items()
        ],
    )
    return source, gold


def wnut_dev(n: int) -> list[dict[str, Any]]:
    """The first `n` sentences of the WNUT 2017 dev split as ner_manual tasks."""
    return list(srsly.read_jsonl(WNUT_DEV))[:n]


# A smaller network than spaCy's default: quick to train on a CPU, good enough for the tests.
SMALL_NER = {
    "@architectures": "spacy.TransitionBasedParser.v2",
    "state_type": "ner",
    "extra_state_tokens": False,
    "hidden_width": 64,
    "maxout_pieces": 2,
    "use_upper": True,
    "tok2vec": {
        "@architectures": "spacy.HashEmbedCNN.v2",
        "pretrained_vectors": None,
        "width": 64,
        "depth": 2,
        "embed_size": 2000,
        "window_size": 1,
        "maxout_pieces": 3,
        "subword_features": True,
    },
}


def train_ner_pipeline(tasks: list[dict[str, Any]], out: Path, n_iter: int = 5) -> Path:
    """A blank English pipeline with a small entity recognizer trained on `tasks`, saved to
    `out`."""
    import spacy
    from spacy.training import Example

    from recipe_runner.train import _fit, ner_annotations, ner_doc

    nlp = spacy.blank("en")
    annotations = ner_annotations({**t, "answer": "accept", "tokens": []} for t in tasks)
    examples = [Example(nlp.make_doc(t), ner_doc(nlp, t, i)) for t, i in annotations.items()]
    pipe = nlp.add_pipe("ner", config={"model": SMALL_NER})
    for label in sorted({s[2] for i in annotations.values() for s in i["accept"]}):
        pipe.add_label(label)
    _fit(nlp, "ner", examples, False, n_iter, 0, learn_rate=0.005)
    nlp.to_disk(out)
    return out
