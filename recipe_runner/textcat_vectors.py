"""The text classifier rr adds to a pipeline: a bag of words, plus the pipeline's word vectors
when it has them.

A bag of words learns nothing about a text whose words no answer held; on short texts (titles,
one-line messages) that is most texts for a long while. Word vectors carry what was learned to
words that mean alike: the mean vector of a text (`doc.vector`), scaled to length 1, goes
through a linear layer whose output is added to the bag of words' before the sigmoid. The
vectors stay fixed, so the layer learns as fast online as the bag of words does.

The architecture is registered with spaCy under `rr.TextCatVectorsBOW.v1` (and found through
the `spacy_architectures` entry point), so a pipeline trained with it loads wherever
recipe_runner is installed."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from spacy.language import Language

ARCHITECTURE = "rr.TextCatVectorsBOW.v1"
BOW: dict[str, Any] = {
    "@architectures": "spacy.TextCatBOW.v3",
    "exclusive_classes": False,
    "ngram_size": 1,
    "no_output_layer": False,
    "length": 262144,
}


def textcat_config(nlp: Language) -> dict[str, Any]:
    """The model of a new `textcat_multilabel` for `nlp`: with its word vectors if it has any."""
    width = int(nlp.vocab.vectors_length)
    if not width or not nlp.vocab.vectors.n_keys:
        return dict(BOW)
    return {
        "@architectures": ARCHITECTURE,
        "width": width,
        "length": BOW["length"],
    }


def textcat_vectors_bow(width: int, length: int = BOW["length"], nO: int | None = None) -> Any:
    """spaCy architecture (`textcat_multilabel`): a bag of words plus a linear layer over the
    unit-length mean word vector, each label's sigmoid over the sum."""
    from spacy.ml.models.textcat import build_bow_text_classifier_v3
    from thinc.api import Linear, Logistic, add, chain, zero_init

    bow = build_bow_text_classifier_v3(False, 1, True, length=length, nO=nO)
    # Zeros, as the bag of words starts: every text scores 0.5 until answers arrive, and runs
    # with the same seed learn the same (no draw from a global random state).
    vectors: Any = chain(_doc_vectors(width), Linear(nO=nO, nI=width, init_W=zero_init))
    model: Any = chain(add(bow, vectors), Logistic())
    model.attrs["multi_label"] = True
    return model


def _doc_vectors(width: int) -> Any:
    """Docs to their unit-length mean word vectors (zeros where no word has one); no weights."""
    import numpy
    from thinc.api import Model

    def forward(model: Any, docs: list[Any], is_train: bool) -> tuple[Any, Any]:
        rows = numpy.zeros((len(docs), width), dtype="float32")
        for i, doc in enumerate(docs):
            vector = doc.vector
            norm = float(numpy.linalg.norm(vector)) if vector.size == width else 0.0
            if norm > 0:
                rows[i] = vector / norm
        return model.ops.asarray2f(rows), lambda d_rows: []

    return Model("doc_vectors", forward, dims={"nO": width})
