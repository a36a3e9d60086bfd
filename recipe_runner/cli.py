"""The `rr` command line: thin commands over importable functions, and the one error boundary."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Annotated, Any

import typer

from .errors import RecipeFailure, RecipeRunnerError, UsageError

app = typer.Typer(
    name="rr",
    help="recipe-runner: run annotation recipes from plugins, in a web view or headless.",
    add_completion=False,
    no_args_is_help=True,
    rich_markup_mode=None,
    pretty_exceptions_enable=False,
)

RUN_OPTIONS = ("--headless", "--answer", "-F", "--file", "--host", "--port", "--traceback")


def main() -> None:
    """Console-script entry point: an expected error is one line on stderr, never a traceback;
    a recipe's own error is one line too, unless --traceback or RR_TRACEBACK=1 asks for it."""
    import os

    try:
        app()
    except UsageError as err:
        if str(err):
            print(f"Error: {err}", file=sys.stderr)
        sys.exit(2)
    except RecipeFailure as err:
        if err.show_traceback or os.environ.get("RR_TRACEBACK", "") not in ("", "0"):
            import traceback

            traceback.print_exception(err.original, file=sys.stderr)
        print(f"Error: {err}", file=sys.stderr)
        sys.exit(1)
    except RecipeRunnerError as err:
        print(f"Error: {err}", file=sys.stderr)
        sys.exit(1)


@app.command("recipes")
def recipes_cli(
    json_output: Annotated[bool, typer.Option("--json", help="Print a JSON list.")] = False,
    file: Annotated[
        list[Path] | None,
        typer.Option("-F", "--file", help="Also load recipes from this Python file."),
    ] = None,
) -> None:
    """List every recipe found, with the plugin that provides it."""
    from .runner import load_and_report

    plugins = load_and_report(file or [])
    rows = [
        {"name": r.name, "plugin": r.plugin, "summary": r.summary} for r in plugins.registry.all()
    ]
    for name, clashing in plugins.registry.clashes().items():
        names = " and ".join(f"'{r.plugin}'" for r in clashing)
        print(
            f"Warning: recipe '{name}' is provided by {names}; 'rr run {name}' will fail.",
            file=sys.stderr,
        )
    if json_output:
        typer.echo(json.dumps(rows, indent=2))
        return
    width = max((len(r["name"]) for r in rows), default=4)
    pwidth = max((len(r["plugin"]) for r in rows), default=6)
    for row in rows:
        typer.echo(f"{row['name']:<{width}}  {row['plugin']:<{pwidth}}  {row['summary']}")


@app.command("plugins")
def plugins_cli(
    json_output: Annotated[bool, typer.Option("--json", help="Print a JSON list.")] = False,
    file: Annotated[
        list[Path] | None, typer.Option("-F", "--file", help="Also load this Python file.")
    ] = None,
) -> None:
    """List every plugin loaded: name, version and the hooks it implements."""
    from .runner import load_and_report

    plugins = load_and_report(file or [])
    rows = [
        {
            "name": p.name,
            "version": p.version,
            "hooks": list(p.hooks),
            "distribution": p.distribution,
        }
        for p in plugins.infos
    ]
    if json_output:
        typer.echo(json.dumps(rows, indent=2))
        return
    for row in rows:
        hooks = ", ".join(str(h) for h in row["hooks"] or [])
        typer.echo(f"{row['name']}  {row['version'] or '-'}  {hooks}")


@app.command(
    "run",
    context_settings={
        "allow_extra_args": True,
        "ignore_unknown_options": True,
        "allow_interspersed_args": False,
    },
)
def run_cli(
    ctx: typer.Context,
    recipe: Annotated[str, typer.Argument(help="The recipe to run; its own arguments follow it.")],
    headless: Annotated[
        bool, typer.Option("--headless", help="No web view: answer every task with --answer.")
    ] = False,
    answer: Annotated[
        str,
        typer.Option(
            "--answer",
            help="Headless answer policy: accept, reject, ignore, gold:PATH, "
            "module:function or file.py:function.",
        ),
    ] = "accept",
    file: Annotated[
        list[Path] | None,
        typer.Option("-F", "--file", help="Load recipes from this Python file (repeatable)."),
    ] = None,
    host: Annotated[
        str | None, typer.Option("--host", help="Web view host (default 127.0.0.1).")
    ] = None,
    port: Annotated[
        int | None, typer.Option("--port", help="Web view port (default 8080).")
    ] = None,
    show_traceback: Annotated[
        bool,
        typer.Option("--traceback", help="When the recipe raises, print the whole traceback."),
    ] = False,
) -> None:
    """Run RECIPE with its arguments. Run options go before the recipe name;
    'rr run RECIPE --help' shows the recipe's own arguments."""
    from .recipe_args import HelpShown, parse_recipe_args, recipe_parameters
    from .runner import check_recipe_name, find_recipe

    check_recipe_name(recipe)
    argv = list(ctx.args)
    found = find_recipe(recipe, file or [])
    own = {"--" + p.name.replace("_", "-") for p in recipe_parameters(found)[0]}
    misplaced = [a for a in argv if a.split("=")[0] in RUN_OPTIONS and a.split("=")[0] not in own]
    if misplaced:
        option = misplaced[0].split("=")[0]
        raise UsageError(
            f"'{option}' is a run option: run options go before the recipe name, "
            f"as in 'rr run {option} ... {recipe} ...'."
        )
    cli_config: dict[str, Any] = {"host": host, "port": port}
    try:
        kwargs = parse_recipe_args(found, argv)
    except HelpShown:
        return
    from .runner import recipe_failure

    try:
        if headless:
            from .headless import run_headless

            summary = run_headless(found.func, answer=answer, cli_config=cli_config, **kwargs)
            print(summary.line(), file=sys.stderr)
            if summary.interrupted:
                raise typer.Exit(130)
            if summary.failed:
                raise typer.Exit(1)
            return
        from .serve import serve

        serve(found, kwargs, cli_config=cli_config)
    except (RecipeRunnerError, typer.Exit):
        raise
    except Exception as err:  # the recipe's code (or a callback) raised: say where, in one line
        failure = recipe_failure(found, err)
        failure.show_traceback = show_traceback
        raise failure from err


@app.command("db-out")
def db_out_cli(
    dataset: Annotated[str, typer.Argument(help="The dataset to export.")],
    path: Annotated[
        Path | None, typer.Argument(help="JSONL file to write; stdout when left out.")
    ] = None,
) -> None:
    """Export a dataset's answers as JSONL."""
    from .transfer import export_answers

    count = export_answers(dataset, path)
    if path is not None:
        print(f"Exported {count} answers of '{dataset}' to '{path}'.", file=sys.stderr)


@app.command("db-in")
def db_in_cli(
    dataset: Annotated[str, typer.Argument(help="The dataset to import into (created if new).")],
    path: Annotated[Path, typer.Argument(help="A JSONL file of answers (Prodigy's format works).")],
    answer: Annotated[
        str, typer.Option("--answer", help="Answer for lines that have none.")
    ] = "accept",
) -> None:
    """Import answers from JSONL under rr's own hashes; a bad line imports nothing."""
    from .transfer import import_answers

    read, added = import_answers(dataset, path, default_answer=answer)
    print(
        f"Imported {added} new answers into '{dataset}' ({read} read from '{path}').",
        file=sys.stderr,
    )


@app.command("db-merge")
def db_merge_cli(
    inputs: Annotated[str, typer.Argument(help="Datasets to merge, comma-separated: IN1,IN2.")],
    output: Annotated[str, typer.Argument(help="The dataset to write to (created if new).")],
    rehash: Annotated[
        bool, typer.Option("--rehash", help="Compute every answer's hashes again.")
    ] = False,
) -> None:
    """Merge datasets into one, in one transaction; an answer already there is kept once."""
    from .transfer import merge_datasets

    names = _labels(inputs) or []
    read, added = merge_datasets(names, output, rehash=rehash)
    print(
        f"Merged {read} answers of {', '.join(names)} into '{output}' ({added} new).",
        file=sys.stderr,
    )


@app.command("relabel")
def relabel_cli(
    dataset: Annotated[str, typer.Argument(help="The dataset whose labels change.")],
    rename: Annotated[
        list[str] | None, typer.Option("--rename", help="OLD=NEW (repeatable).")
    ] = None,
    merge: Annotated[
        list[str] | None, typer.Option("--merge", help="A,B=C: A and B become C (repeatable).")
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Print what would change; change nothing.")
    ] = False,
    requeue: Annotated[
        bool,
        typer.Option(
            "--requeue",
            help="Move the changed answers to DATASET.requeue, for a second look.",
        ),
    ] = False,
) -> None:
    """Rename or merge labels in every answer, in one transaction; old values kept in _history."""
    from .config import load_config
    from .db import connect
    from .relabel import parse_merge, parse_rename, relabel, requeue_name

    mapping: dict[str, str] = {}
    for value in rename or []:
        mapping.update(parse_rename(value))
    for value in merge or []:
        mapping.update(parse_merge(value))
    db = connect(load_config())
    try:
        plan = relabel(db, dataset, mapping, dry_run=dry_run, requeue=requeue)
    finally:
        db.close()
    for line in plan.lines(dataset):
        typer.echo(line)
    if dry_run:
        for old, new in plan.examples:
            changed = {k: new[k] for k in ("label", "spans", "accept", "options") if k in new}
            typer.echo(f"  e.g. {old.get('text', '')[:60]!r}: {json.dumps(changed)[:200]}")
        typer.echo("Dry run: nothing changed.")
    elif requeue:
        typer.echo(
            f"Moved them to '{requeue_name(dataset)}': their tasks are served again to a recipe "
            f"saving to '{dataset}'; 'dataset:{requeue_name(dataset)}' serves them relabelled."
        )


@app.command("stats")
def stats_cli(
    dataset: Annotated[
        str | None, typer.Argument(help="One dataset; all of them when left out.")
    ] = None,
    json_output: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Datasets and their accept / reject / ignore counts, per session."""
    from .transfer import dataset_stats

    result = dataset_stats(dataset)
    if json_output:
        typer.echo(json.dumps(result, indent=2))
        return
    rows = result if isinstance(result, list) else [result]
    if not rows:
        typer.echo("No datasets yet.")
    for row in rows:
        sessions = len(row["sessions"])
        typer.echo(
            f"{row['dataset']}: {row['total']} answers ({row['accept']} accept, "
            f"{row['reject']} reject, {row['ignore']} ignore), {sessions} "
            + ("session" if sessions == 1 else "sessions")
        )
        if row.get("forecast"):
            typer.echo("  " + forecast_line(row["forecast"]))
        if dataset is not None:
            for session, counts in row["sessions"].items():
                typer.echo(
                    f"  {session or '(no session)'}: {counts['total']} ({counts['accept']} accept, "
                    f"{counts['reject']} reject, {counts['ignore']} ignore)" + _pace(counts)
                )


def forecast_line(forecast: dict[str, Any]) -> str:
    """The saved forecast of a model-in-the-loop run, as `rr stats` shows it."""
    low, high, left = forecast["low"], forecast["high"], forecast["remaining"]
    when = time.strftime("%Y-%m-%d %H:%M", time.localtime(forecast["updated"]))
    after = f"after {forecast['answers']} answers learned from, {when}"
    if high == 0:
        return f"forecast: the model has stopped learning ({after})"
    return (
        f"forecast: about {left} more answers ({low}-{high}) until the model stops learning "
        f"({after})"
    )


def _pace(counts: dict[str, Any]) -> str:
    """A session's pace and agreement, as `rr stats DATASET` prints them."""
    parts = []
    if counts.get("answers_per_hour") is not None:
        parts.append(f"{counts['answers_per_hour']:g}/hour")
    if counts.get("median_seconds") is not None:
        parts.append(f"median {counts['median_seconds']:g} s/answer")
    if counts.get("agreement") is not None:
        parts.append(f"agrees with others {counts['agreement']:.0%}")
    return "; " + ", ".join(parts) if parts else ""


metric_app = typer.Typer(
    help="Measure a dataset: agreement between annotators.", no_args_is_help=True
)
app.add_typer(metric_app, name="metric")


def _labels(value: str | None) -> list[str] | None:
    return [v.strip() for v in value.split(",") if v.strip()] if value else None


@metric_app.command("iaa")
def iaa_cli(
    kind: Annotated[str, typer.Argument(help="binary, doc or span.")],
    dataset: Annotated[str, typer.Argument(help="The dataset whose sessions to compare.")],
    labels: Annotated[
        str | None, typer.Option("--labels", help="Only these labels, comma-separated.")
    ] = None,
    json_output: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Inter-annotator agreement: percent agreement, Krippendorff's alpha, Gwet's AC2."""
    from .agreement import KINDS
    from .transfer import dataset_iaa

    if kind not in KINDS:
        raise UsageError(f"'rr metric iaa' measures {', '.join(KINDS)}, not '{kind}'.")
    result = dataset_iaa(dataset, kind, _labels(labels))
    if json_output:
        typer.echo(json.dumps(result, indent=2))
        return
    typer.echo(
        f"{dataset} ({kind}): {result['items']} items with 2 or more annotations, "
        f"{result['annotators']} annotators"
    )
    rows = [("overall", result)]
    rows += [(label or "(no label)", row) for label, row in result["per_label"].items()]
    width = max(len(name) for name, _ in rows)
    typer.echo(f"{'':<{width}}  {'items':>6}  {'agree':>6}  {'alpha':>6}  {'AC2':>6}")
    for name, row in rows:
        figures = [
            "-" if row[k] is None else f"{row[k]:.3f}"
            for k in ("percent_agreement", "krippendorff_alpha", "gwet_ac2")
        ]
        typer.echo(f"{name:<{width}}  {row['items']:>6}  " + "  ".join(f"{f:>6}" for f in figures))


@app.command("drop")
def drop_cli(dataset: Annotated[str, typer.Argument(help="The dataset to delete.")]) -> None:
    """Delete a dataset and all its answers."""
    from .config import load_config
    from .db import connect

    db = connect(load_config())
    try:
        removed = db.drop(dataset)
    finally:
        db.close()
    print(f"Dropped dataset '{dataset}' and its {removed} answers.", file=sys.stderr)


@app.command("train")
def train_cli(
    component: Annotated[str, typer.Argument(help="What to train: textcat or ner.")],
    dataset: Annotated[str, typer.Argument(help="The dataset of answers to learn from.")],
    output_dir: Annotated[Path, typer.Argument(help="Folder to save the trained pipeline to.")],
    base: Annotated[
        str,
        typer.Option(
            "--base",
            help="Pipeline to start from: blank:LANG, a package or a path. A new text "
            "classifier uses its word vectors, if it has any.",
        ),
    ] = "blank:en",
    eval_split: Annotated[
        float, typer.Option("--eval-split", help="Share of the examples held out to score.")
    ] = 0.2,
    n_iter: Annotated[int, typer.Option("--n-iter", help="Training epochs.")] = 10,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the split and training.")] = 0,
    spancat: Annotated[
        bool, typer.Option("--spancat", help="ner: also train a span categorizer for ner.teach.")
    ] = False,
) -> None:
    """Train a spaCy pipeline from a dataset (binary and manual answers), print its scores."""
    from .train import train_ner, train_textcat

    options: dict[str, Any] = {"base": base, "eval_split": eval_split, "n_iter": n_iter}
    if component == "ner":
        result = train_ner(dataset, output_dir, seed=seed, spancat=spancat, **options)
    elif component == "textcat":
        if spancat:
            raise UsageError("--spancat goes with 'rr train ner'.")
        result = train_textcat(dataset, output_dir, seed=seed, **options)
    else:
        raise UsageError(f"'rr train' trains textcat or ner, not '{component}'.")
    for line in result.lines():
        typer.echo(line)


@app.command("data-to-spacy")
def data_to_spacy_cli(
    output_dir: Annotated[Path, typer.Argument(help="Folder for train.spacy, dev.spacy, config.")],
    textcat: Annotated[
        str | None, typer.Option("--textcat", help="Dataset of text classification answers.")
    ] = None,
    ner: Annotated[str | None, typer.Option("--ner", help="Dataset of entity answers.")] = None,
    lang: Annotated[str, typer.Option("--lang", help="Language of the blank pipeline.")] = "en",
    eval_split: Annotated[
        float, typer.Option("--eval-split", help="Share of the examples for dev.spacy.")
    ] = 0.2,
) -> None:
    """Export datasets as DocBin train/dev files and a config.cfg for 'spacy train'."""
    from .train import data_to_spacy

    paths = data_to_spacy(output_dir, textcat=textcat, ner=ner, lang=lang, eval_split=eval_split)
    typer.echo(
        f"Wrote {paths['train']}, {paths['dev']} and {paths['config']}. Train with: "
        f"python -m spacy train {paths['config']} --output OUTPUT_DIR"
    )
