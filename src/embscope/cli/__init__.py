"""The ``embscope`` command: each subcommand parses, calls the library, renders."""

from __future__ import annotations

import click

from ..errors import EmbscopeError


class _Group(click.Group):
    """Turns every EmbscopeError into a one-line message and exit code 1, no traceback."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except EmbscopeError as error:
            raise click.ClickException(str(error)) from None


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="embscope")
def main() -> None:
    """Explore the embedding spaces of language models.

    SOURCE is a bundled name (see `embscope sources`), a Hugging Face checkpoint directory or
    hub id, a word-vector file (word2vec, GloVe, fastText), a Keras file, a .npy/.npz,
    Parquet/CSV table, or a TensorBoard projector folder.
    """


def _register() -> None:
    from . import analogy, evaluate, export, graph, info, neighbors, similarity, tour

    for module in (tour, info, neighbors, similarity, analogy, evaluate, graph, export):
        for command in module.COMMANDS:
            main.add_command(command)


_register()
