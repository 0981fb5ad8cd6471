"""``prodscale generate [STORY...] --provider NAME``: send ready prompts, paying each clip at most once."""

from __future__ import annotations

import sys
from typing import Any

import click

from prodscale.cli.common import echo_json, json_option, open_project, project_option


@click.command("generate")
@click.argument("stories", nargs=-1)
@click.option("--provider", "provider_name", metavar="NAME", help="A [providers.NAME] of prodscale.toml.")
@click.option("--dry-run", is_flag=True, help="Print the estimate per story and in total; send nothing.")
@click.option("--max-cost", metavar="AMOUNT", help="Spend at most AMOUNT in this run (e.g. 12.50).")
@click.option("-j", "--jobs", type=click.IntRange(1, 64), default=1, show_default=True,
              help="Clips in flight at once (capped by the provider's max_concurrency).")
@json_option
@project_option
def command(stories: tuple[str, ...], provider_name: str | None, dry_run: bool, max_cost: str | None, jobs: int,
            as_json: bool, project_dir: str | None) -> None:
    """Generate clips from the ready prompts of STORY (all stories when none) with a provider."""
    from prodscale.core.generation import format_amount, parse_amount, parse_budget, parse_providers
    from prodscale.errors import GenerationIncomplete, ProviderError, UsageError
    from prodscale.exec.generate import Generator, estimate, load_clips, open_client, resolve_keys
    from prodscale.storage.ledger import Ledger, RunToken

    project = open_project(project_dir)
    cfg = {"path": "prodscale.toml", "text": project.config_text}
    providers = parse_providers(project.settings.raw, **cfg)
    budget = parse_budget(project.settings.raw, **cfg)
    if provider_name is None and len(providers) == 1:
        provider_name = next(iter(providers))
    if provider_name not in providers:
        known = ", ".join(sorted(providers)) or "(none configured)"
        raise UsageError(f"no provider named '{provider_name}'" if provider_name else "name a provider with --provider",
                         hint=f"providers in prodscale.toml: {known}; see docs/generation.md")
    provider = providers[provider_name]

    def money(v: int) -> str:
        return format_amount(v, budget)

    ledger = Ledger.for_state_dir(project.state_dir)
    clips, notes = load_clips(project, list(stories), provider)
    clips = resolve_keys(clips, ledger, provider, adopt=not dry_run)
    for note in notes:
        click.echo(f"note: {note}", err=True)
    if dry_run:
        est = estimate(clips, ledger)
        if as_json:
            echo_json({"dry_run": True, "provider": provider.name, "model": provider.model, **est})
            return
        click.echo(f"dry run: nothing is sent (provider {provider.name}, model {provider.model})")
        for story, s in est["stories"].items():
            extra = "".join(f", {s[k]} {k.replace('_', ' ')}" for k in ("completed", "in_flight", "failed", "duplicates")
                            if s[k])
            click.echo(f"{story}: {s['to_send']} to send, estimate {money(s['estimate'])}{_seconds(s)}{extra}")
        short = "" if est["covered"] else f" (not enough: add {money(est['total'] - est['available'])})"
        click.echo(f"total: {est['to_send']} to send, estimate {money(est['total'])}{_seconds(est)}; "
                   f"available {money(est['available'])}{short}")
        return
    cap = parse_amount(max_cost, budget.decimals) if max_cost is not None else None
    if cap is not None and cap < 0:
        raise UsageError("--max-cost must not be negative")

    def show(result) -> None:  # type: ignore[no-untyped-def]
        if not as_json and result.outcome in ("failed", "in-flight", "unsent"):
            click.echo(f"{result.story} {result.clip_id}: {result.outcome}"
                       + (f": {result.message}" if result.message else ""), err=True)

    # the client keeps connections alive: closed when the run ends, however it ends
    with open_client(provider) as client, RunToken(project.state_dir) as token:
        gen = Generator(provider, client, ledger, token, build_dir=project.build_dir, jobs=jobs, max_cost=cap,
                        on_result=show, money=money)
        report = gen.run(clips)
    credits = ledger.summary()
    if as_json:
        echo_json({**report.to_json(), "credits": credits})
    else:
        if report.reconciled:
            outcomes = sorted({r.outcome for r in report.reconciled})
            click.echo(f"reconciled {len(report.reconciled)} in-flight request(s) of an earlier run: "
                       + ", ".join(f"{sum(r.outcome == o for r in report.reconciled)} {o}" for o in outcomes))
        stories_seen: dict[str, dict[str, int]] = {}
        for r in report.results:
            row = stories_seen.setdefault(r.story, {})
            row[r.outcome] = row.get(r.outcome, 0) + 1
            row["cost"] = row.get("cost", 0) + (r.cost if r.outcome in ("completed", "failed") else 0)
        first_refusal = next((r for r in report.results if r.outcome in ("refused", "over-cap")
                              and r.message != "after an earlier clip"), None)
        if first_refusal is not None:
            why = "not enough credits" if first_refusal.outcome == "refused" else "--max-cost reached"
            click.echo(f"stopped sending at {first_refusal.story} {first_refusal.clip_id}: {why} "
                       f"({first_refusal.message}); later clips were not sent", err=True)
        for story, row in stories_seen.items():
            parts = [f"{n} {o}" for o, n in sorted(row.items()) if o != "cost"]
            click.echo(f"{story}: {', '.join(parts)}; cost {money(row['cost'])} (see build/{story}/generation.json)")
        click.echo(f"credits: balance {money(credits['balance'])}, reserved {money(credits['reserved'])}, "
                   f"available {money(credits['available'])}")
    sys.stdout.flush()
    if report.error:
        raise ProviderError(report.error)
    if not report.ok:
        counts = report.counts()
        bad = ", ".join(f"{counts[o]} {o}" for o in ("refused", "failed", "in-flight", "unsent") if o in counts)
        raise GenerationIncomplete(f"not every clip was generated: {bad}",
                                   hint="refused: add credits (`prodscale credits add`); in-flight: run generate "
                                        "again to reconcile; failed: see build/<story>/generation.json")


def _seconds(est: dict[str, Any]) -> str:
    """`` (48.0 s billed for 37.2 s on screen)``: what a producer pays for beside what the cut uses."""
    if not est["billed_ms"]:
        return ""
    billed = f"{est['billed_ms'] / 1000:.1f} s billed"
    return f" ({billed} for {est['screen_ms'] / 1000:.1f} s on screen)" if est["screen_ms"] is not None else f" ({billed})"
