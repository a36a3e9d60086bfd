"""What Prodigy's recipes (explosion/prodigy-recipes) use beyond the names already mapped:
`get_labels`, `msg`, `Stream.apply` with arguments and in place, `Probability`,
`ControllerComponentsDict`, `get_stream(is_binary=)`, and recipes that return None."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import spacy
import srsly

from recipe_runner import get_stream as rr_get_stream
from recipe_runner import recipe, run_headless
from recipe_runner.compat.prodigy.components.preprocess import add_tokens, split_sentences
from recipe_runner.compat.prodigy.components.sorters import Probability
from recipe_runner.compat.prodigy.components.stream import get_stream
from recipe_runner.compat.prodigy.protocols import ControllerComponentsDict
from recipe_runner.compat.prodigy.util import get_labels

from .rr_process import rr_env, run_rr

Task = dict[str, Any]


def source(tmp_path: Path, texts: list[str]) -> Path:
    path = tmp_path / "src.jsonl"
    srsly.write_jsonl(path, [{"text": t} for t in texts])
    return path


def test_get_labels_reads_commas_or_a_file_of_labels(tmp_path: Path) -> None:
    assert get_labels("PERSON, ORG,,GPE") == ["PERSON", "ORG", "GPE"]
    labels = tmp_path / "labels.txt"
    labels.write_text("PERSON\n\n  ORG \nWITH,COMMA\n", encoding="utf8")
    assert get_labels(str(labels)) == ["PERSON", "ORG", "WITH,COMMA"]
    assert get_labels(None) is None


@recipe("with.labels", label=("Labels, or a file of them", "option", "l", get_labels))
def with_labels(dataset: str, label: list[str] | None = None) -> None:
    return None


def test_get_labels_converts_a_recipe_option(tmp_path: Path) -> None:
    from recipe_runner.recipe_args import parse_recipe_args
    from recipe_runner.runner import find_recipe

    labels = tmp_path / "labels.txt"
    labels.write_text("A\nB\n", encoding="utf8")
    found = find_recipe(with_labels)
    assert parse_recipe_args(found, ["d", "--label", str(labels)])["label"] == ["A", "B"]
    assert parse_recipe_args(found, ["d", "-l", "C,D"])["label"] == ["C", "D"]


def test_msg_is_a_wasabi_printer() -> None:
    from wasabi import Printer

    from recipe_runner.compat.prodigy.components import preprocess
    from recipe_runner.compat.prodigy.util import msg

    assert isinstance(msg, Printer)
    assert preprocess.msg is msg


def test_apply_changes_the_stream_in_place_and_keeps_the_length(tmp_path: Path) -> None:
    def add_options(stream: Iterable[Task]) -> Iterator[Task]:
        for task in stream:
            yield {**task, "options": [{"id": "a", "text": "A"}]}

    stream = get_stream(source(tmp_path, ["one", "two", "three"]))
    stream.apply(add_options)  # not assigned: as in Prodigy, the stream itself changes
    assert [t["options"][0]["id"] for t in stream] == ["a", "a", "a"]
    assert len(stream) == 3
    assert [t["text"] for t in stream] == ["one", "two", "three"]  # read again from the top


def test_apply_passes_the_tasks_where_the_arguments_name_the_stream(tmp_path: Path) -> None:
    def keep(stream: Iterable[Task], labels: list[str]) -> Iterator[Task]:
        return (t for t in stream if t["text"] in labels)

    nlp = spacy.blank("en")
    stream = get_stream(source(tmp_path, ["a b", "c", "d e f"]))
    stream.apply(keep, labels=["a b", "d e f"])  # the stream goes first
    stream.apply(add_tokens, nlp=nlp, stream=stream)  # the stream named as an argument
    assert [len(t["tokens"]) for t in stream] == [2, 3]


def test_apply_of_split_sentences_forgets_the_length(tmp_path: Path) -> None:
    nlp = spacy.blank("en")
    nlp.add_pipe("sentencizer")
    stream = get_stream(source(tmp_path, ["One. Two.", "Three."]))
    assert len(stream) == 2
    stream.apply(split_sentences, nlp=nlp, stream=stream)
    assert [t["text"] for t in stream] == ["One.", "Two.", "Three."]
    try:
        len(stream)
    except TypeError:
        pass
    else:
        raise AssertionError("the length of the source is not the length of the sentences")


def test_preprocess_steps_leave_the_callers_stream_as_it_was(tmp_path: Path) -> None:
    stream = rr_get_stream(source(tmp_path, ["a b"]))
    tokenized = add_tokens(spacy.blank("en"), stream)
    assert "tokens" in next(iter(tokenized))
    assert "tokens" not in next(iter(stream))


def test_probability_serves_by_score(tmp_path: Path) -> None:
    pairs = [(0.0, {"text": f"no {i}"}) for i in range(20)] + [(1.0, {"text": "yes"})]
    served = [t["text"] for t in Probability(iter(pairs), seed=0)]
    assert served[0] == "yes"  # a score of 1 is served at once, 0 never before the end
    assert sorted(served[1:]) == sorted(f"no {i}" for i in range(20))


def test_controller_components_dict_annotates_a_recipe() -> None:
    def r() -> ControllerComponentsDict:
        return {"dataset": "d", "stream": [], "view_id": "text"}

    assert r()["view_id"] == "text"


def test_get_stream_accepts_is_binary(tmp_path: Path) -> None:
    stream = get_stream(source(tmp_path, ["a"]), rehash=True, dedup=True, is_binary=False)
    assert [t["text"] for t in stream] == ["a"]


@recipe("does.its.work")
def does_its_work(out: str) -> None:
    Path(out).write_text("done", encoding="utf8")


def test_a_recipe_that_returns_none_runs_and_serves_nothing(tmp_path: Path) -> None:
    summary = run_headless(does_its_work, str(tmp_path / "out.txt"), show_progress=False)
    assert summary.nothing_to_serve and summary.saved == 0
    assert (tmp_path / "out.txt").read_text(encoding="utf8") == "done"


def test_rr_run_exits_cleanly_after_a_recipe_that_returns_none(tmp_path: Path) -> None:
    recipe_file = tmp_path / "recipe.py"
    recipe_file.write_text(
        "from pathlib import Path\n"
        "from recipe_runner.compat import prodigy\n\n"
        "@prodigy.recipe('write.it', out=('File', 'positional', None, str))\n"
        "def write_it(out):\n"
        "    Path(out).write_text('done')\n",
        encoding="utf8",
    )
    out = tmp_path / "out.txt"
    env = rr_env(tmp_path / "home")
    for extra in (["--headless"], []):  # headless, and the web view (which then serves nothing)
        out.unlink(missing_ok=True)
        result = run_rr(
            "run", *extra, "-F", str(recipe_file), "write.it", str(out), env=env, cwd=tmp_path
        )
        assert result.returncode == 0, result.stderr
        assert "nothing to serve" in result.stderr
        assert out.read_text(encoding="utf8") == "done"
