"""``prodscale credits [add AMOUNT --note TEXT | history]``: the ledger's balance, holds and spending."""

from __future__ import annotations

from typing import Any

import click

from prodscale.cli.common import echo_json, json_option, open_project, project_option


def _open(project_dir: str | None) -> tuple[Any, Any]:
    from prodscale.core.generation import parse_budget
    from prodscale.storage.ledger import Ledger

    project = open_project(project_dir)
    budget = parse_budget(project.settings.raw, path="prodscale.toml", text=project.config_text)
    return Ledger.for_state_dir(project.state_dir), budget


@click.group("credits", invoke_without_command=True)
@json_option
@project_option
@click.pass_context
def group(ctx: click.Context, as_json: bool, project_dir: str | None) -> None:
    """Show balance, reserved, available and spent, with costs by story and by provider."""
    if ctx.invoked_subcommand is not None:
        ctx.obj = {**(ctx.obj or {}), "credits_project": project_dir}
        return
    from prodscale.core.generation import format_amount
    ledger, budget = _open(project_dir)
    s = ledger.summary()
    if as_json:
        echo_json({**s, "currency": budget.currency, "decimals": budget.decimals})
        return

    def money(v: int) -> str:
        return format_amount(v, budget)

    click.echo(f"balance    {money(s['balance'])}")
    click.echo(f"reserved   {money(s['reserved'])}")
    click.echo(f"available  {money(s['available'])}")
    click.echo(f"spent      {money(s['spent'])}")
    for title, table in (("by story", s["by_story"]), ("by provider", s["by_provider"])):
        if table:
            click.echo(f"spent {title}:")
            for name, amount in table.items():
                click.echo(f"  {name}: {money(amount)}")


@group.command("add")
@click.argument("amount")
@click.option("--note", default="", help="Why (an invoice number, a budget line).")
@json_option
@project_option
@click.pass_context
def add(ctx: click.Context, amount: str, note: str, as_json: bool, project_dir: str | None) -> None:
    """Top up the credits by AMOUNT (e.g. 50 or 12.50)."""
    from prodscale.core.generation import format_amount, parse_amount
    ledger, budget = _open(project_dir or (ctx.obj or {}).get("credits_project"))
    value = parse_amount(amount, budget.decimals)
    balance = ledger.top_up(value, note)
    if as_json:
        echo_json({"added": value, "balance": balance, "note": note})
    else:
        click.echo(f"added {format_amount(value, budget)}; balance {format_amount(balance, budget)}")


@group.command("history")
@click.option("--limit", type=click.IntRange(1, None), default=None, help="Only the last N entries.")
@json_option
@project_option
@click.pass_context
def history(ctx: click.Context, limit: int | None, as_json: bool, project_dir: str | None) -> None:
    """Every top-up, reservation, capture, release and refund, oldest first."""
    from prodscale.core.generation import format_amount
    ledger, budget = _open(project_dir or (ctx.obj or {}).get("credits_project"))
    rows = ledger.history(limit)
    if as_json:
        echo_json({"transactions": rows})
        return
    for r in rows:
        what = f" {r['story']} {r['clip']} ({r['provider']})" if r["request_key"] else ""
        note = f"  {r['note']}" if r["note"] else ""
        click.echo(f"{r['at']}  {r['kind']:<8} {format_amount(r['amount'], budget):>14}{what}  "
                   f"balance {format_amount(r['balance_after'], budget)}{note}")
