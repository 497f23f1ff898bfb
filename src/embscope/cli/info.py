"""``embscope info`` and ``embscope sources``: what a space is, and what can be loaded."""

from __future__ import annotations

import click
import pandas as pd

from .common import echo_json, echo_json_records, echo_table, json_option, load_options, load_space


@click.command()
@click.argument("source")
@load_options
@json_option
def info(source: str, as_json: bool) -> None:
    """Shape, storage, tokenizer and norm spread of SOURCE."""
    summary = load_space(source).summary()
    if as_json:
        echo_json(summary)
        return
    frame = pd.DataFrame({"property": list(summary), "value": [_cell(v) for v in summary.values()]})
    echo_table(frame, title=source)


def _cell(value: object) -> str:
    if value is None:
        return "-"
    if isinstance(value, list | tuple):
        return ", ".join(map(str, value))
    return str(value)


@click.command()
@json_option
def sources(as_json: bool) -> None:
    """Bundled spaces, the GGUF models Ollama and LM Studio keep on this machine, and the kinds
    of file and checkpoint embscope reads."""
    from ..sources import KINDS, bundled_sources
    from ..sources.stores import lmstudio_roots, ollama_root, stored_models
    from ..sources.vocabulary import human_bytes

    frame = bundled_sources()
    models = pd.DataFrame(
        [
            {"name": m.name, "store": m.store, "size": m.size, "path": str(m.path)}
            for m in stored_models()
        ],
        columns=["name", "store", "size", "path"],
    )
    if as_json:
        echo_json_records(frame)
        echo_json_records(models)
        return
    echo_table(frame, title="Bundled spaces (embscope.load(name))")
    click.echo()
    if len(models):
        shown = models.drop(columns="store").assign(size=models["size"].map(human_bytes))
        echo_table(shown, title="GGUF models in Ollama's and LM Studio's stores (load by name)")
    else:
        folders = ", ".join(str(p) for p in [ollama_root(), *lmstudio_roots()])
        click.echo(f"No GGUF models in Ollama's or LM Studio's stores ({folders}).")
    click.echo("\nAlso readable: " + ", ".join(k for k in KINDS if k != "bundled"))
    click.echo(
        "(a path is recognised by its suffix or contents; ollama:NAME[:TAG] and "
        "lmstudio:PUBLISHER/REPO name a model in those stores; a hub id like org/name is "
        "downloaded from the Hugging Face hub)"
    )


COMMANDS = [info, sources]
