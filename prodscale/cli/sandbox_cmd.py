"""``prodscale sandbox-provider``: the generation protocol on 127.0.0.1, a test mode without an account."""

from __future__ import annotations

import signal
import sys

import click


@click.command("sandbox-provider")
@click.option("--port", type=click.IntRange(0, 65535), default=8765, show_default=True,
              help="Port on 127.0.0.1 (0: any free port, printed at start).")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of job ids, placeholders and faults.")
@click.option("--fail-rate", type=click.FloatRange(0, 1), default=0.0, show_default=True,
              help="Probability that a request meets one of the faults.")
@click.option("--faults", default=None, metavar="LIST",
              help="Comma-separated: timeout,500,429,drop-after-charge,duplicate,slow,safety,error (default: all).")
@click.option("--hang", type=click.FloatRange(0, 60), default=2.0, show_default=True,
              help="Seconds a 'timeout' fault holds its answer.")
@click.option("--slow", type=click.FloatRange(0, 60), default=0.2, show_default=True,
              help="Seconds a 'slow' fault delays its answer.")
@click.option("--retry-after", type=click.IntRange(0, 3600), default=1, show_default=True,
              help="Retry-After seconds of a 429.")
@click.option("--price-per-request", type=click.IntRange(0), default=None, help="Minor units (default 1).")
@click.option("--price-per-second", type=click.IntRange(0), default=None, help="Minor units (default 5).")
@click.option("-v", "--verbose", is_flag=True, help="Log each request line (never headers) on stderr.")
def command(port: int, seed: int, fail_rate: float, faults: str | None, hang: float, slow: float, retry_after: int,
            price_per_request: int | None, price_per_second: int | None, verbose: bool) -> None:
    """Serve the sandbox provider on 127.0.0.1 until interrupted (charge log: GET /charges)."""
    from prodscale.providers.sandbox import ALL_FAULTS, SandboxConfig, SandboxServer, parse_faults

    config = SandboxConfig(seed=seed, fail_rate=fail_rate, faults=parse_faults(faults) if faults else ALL_FAULTS,
                           hang_s=hang, slow_s=slow, retry_after_s=retry_after)
    for table in config.prices.values():
        if price_per_request is not None:
            table["per_request"] = price_per_request
        if price_per_second is not None:
            table["per_second"] = price_per_second
    try:
        server = SandboxServer(config, port=port, verbose=verbose)
    except OSError as exc:
        from prodscale.errors import UsageError
        raise UsageError(f"cannot listen on 127.0.0.1:{port}: {exc.strerror}",
                         hint="pick another --port, or --port 0 for any free one") from None
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    click.echo(f"sandbox provider on {server.url} (seed {seed}, fail-rate {fail_rate}"
               + (f", faults {','.join(config.faults)}" if fail_rate else "") + "); Ctrl-C stops it")
    prices = ", ".join(f"{m}: {p['per_request']} per request + {p['per_second']} per started second"
                       for m, p in config.prices.items())
    click.echo(f"prices (minor units): {prices}; charge log: {server.url}/charges")
    sys.stdout.flush()
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.httpd.server_close()
    click.echo("sandbox provider stopped", err=True)
