"""``clarion models``: the category model versions under the data folder, and the one in use."""

from __future__ import annotations

import json

import typer

from .common import console, fail

app = typer.Typer(help="Category models: versions, the one in use, a first model.",
                  no_args_is_help=True)


def _registry():  # type: ignore[no-untyped-def]
    from ..intelligence.registry import ModelRegistry
    from ..settings import get_settings
    return ModelRegistry.for_data_dir(get_settings().data_dir)


@app.command("list")
def list_(as_json: bool = typer.Option(False, "--json", help="print JSON")) -> None:
    """Every model version with its held-out scores; the one in use is marked."""
    registry = _registry()
    versions = registry.versions()
    if as_json:
        print(json.dumps([{"version": v.name, "in_use": v.in_use, **v.metrics} for v in versions],
                         ensure_ascii=False))
        return
    if not versions:
        console.print(f"no models in {registry.root} (`clarion models bootstrap` trains the first)")
        return
    for v in versions:
        scores = v.metrics.get("scores") or {}
        figures = (f"macro-F1 {scores['macro_f1']:.3f} on {v.metrics.get('held_out')} held out"
                   if "macro_f1" in scores else v.metrics.get("source", ""))
        verdict = "" if v.metrics.get("promoted", True) else f"refused: {v.metrics.get('reason')}"
        mark = "*" if v.in_use else " "
        console.print(f"{mark} {v.name}  {v.metrics.get('created_at', '')}  trained on "
                      f"{v.metrics.get('trained_on', '?')}  {figures}  {verdict}", highlight=False)


@app.command("bootstrap")
def bootstrap() -> None:
    """Train a model on the shipped corpus (about a minute); it is put in use if none is."""
    from ..intelligence.retrain import bootstrap as train_first
    version = train_first(_registry())
    state = "in use" if _registry().current_name() == version.name else "stored, not in use"
    console.print(f"{version.name} trained on {version.metrics['trained_on']} notices: {state}")


@app.command("suggest")
def suggest(title: str = typer.Option("", help="the notice's title"),
            body: str = typer.Option("", help="the notice's body"),
            sent_as: str = typer.Option("", help="the category it would be sent as")) -> None:
    """Suggest a category for a text (and flag it if it reads more critical than --sent-as)."""
    from ..intelligence.suggest import check_category, suggest as suggest_category
    result = suggest_category(title, body)
    if result.category is None and result.reason.startswith("no category model"):
        fail(result.reason)
    console.print(f"{result.category or '-'} ({result.confidence:.2f}): {result.reason}",
                  highlight=False)
    flag = check_category(sent_as, title, body) if sent_as else None
    if flag:
        console.print(f"[bold yellow]flag:[/] {flag.message}", highlight=False)
