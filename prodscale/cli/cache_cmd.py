"""``prodscale cache stats|ls|show|verify|gc|clear``: look after the action cache and content store."""

from __future__ import annotations

import click

from prodscale.cli.common import echo_json, json_option, open_project, project_option


def _open(project_dir: str | None):  # type: ignore[no-untyped-def]
    from prodscale.storage.cache import Cache
    from prodscale.storage.lock import ProjectLock, print_waiting

    project = open_project(project_dir)
    lock = ProjectLock(project.state_dir, "prodscale cache").acquire(on_wait=print_waiting)
    try:
        return project, Cache(project.state_dir / "cache"), lock
    except BaseException:
        lock.release()  # a cache that cannot be opened must not leave the project locked
        raise


@click.group("cache")
def group() -> None:
    """Inspect and maintain .prodscale/cache (action cache + content store)."""


@group.command("stats")
@json_option
@project_option
def stats(as_json: bool, project_dir: str | None) -> None:
    """Entry counts and size on disk."""
    from prodscale.storage.cache import AC_PREFIX, CAS_PREFIX
    _, cache, lock = _open(project_dir)
    with lock:
        keys = cache.keys()
        data = {"actions": sum(k.startswith(AC_PREFIX) for k in keys),
                "blobs": sum(k.startswith(CAS_PREFIX) for k in keys), "bytes": cache.volume()}
        cache.close()
    if as_json:
        echo_json(data)
    else:
        click.echo(f"{data['actions']} action(s), {data['blobs']} blob(s), {data['bytes']} bytes on disk")


@group.command("ls")
@json_option
@project_option
def ls(as_json: bool, project_dir: str | None) -> None:
    """List action entries: key, target that first computed it, run."""
    from prodscale.storage.cache import AC_PREFIX
    _, cache, lock = _open(project_dir)
    with lock:
        rows = []
        for k in cache.keys():
            if k.startswith(AC_PREFIX):
                rec = cache.get_action(k[len(AC_PREFIX):]) or {}
                rows.append({"key": k[len(AC_PREFIX):], "target": rec.get("target"), "run": rec.get("run"),
                             "out": rec.get("out")})
        cache.close()
    if as_json:
        echo_json({"actions": rows})
    else:
        for r in rows:
            click.echo(f"{r['key'][:16]}  {r['target']}  run {r['run']}  -> {str(r['out'])[:16]}")


@group.command("show")
@click.argument("key")
@project_option
def show(key: str, project_dir: str | None) -> None:
    """Show an action entry (by key or unique key prefix) and its output."""
    from prodscale.errors import UsageError
    from prodscale.storage.cache import AC_PREFIX, CAS_PREFIX
    _, cache, lock = _open(project_dir)
    with lock:
        matches = [k for k in cache.keys() if k.startswith((AC_PREFIX + key, CAS_PREFIX + key))]
        if len(matches) != 1:
            cache.close()
            raise UsageError(f"{len(matches)} cache entries match '{key}'", hint="give a longer key prefix")
        k = matches[0]
        if k.startswith(AC_PREFIX):
            got = cache.get_result(k[len(AC_PREFIX):])
            rec, blob = got if got is not None else (None, None)
            echo_json({"key": k[len(AC_PREFIX):], "record": rec,
                       "output": blob.decode("utf-8", "replace") if blob else None})
        else:
            blob = cache.get_blob(k[len(CAS_PREFIX):])
            click.echo(blob.decode("utf-8", "replace") if blob is not None else "(corrupt: removed)")
        cache.close()


@group.command("verify")
@json_option
@project_option
def verify(as_json: bool, project_dir: str | None) -> None:
    """Re-hash every entry; remove and report the corrupt ones (a later build recomputes them)."""
    _, cache, lock = _open(project_dir)
    with lock:
        checked, bad = cache.verify()
        problems = list(cache.problems)
        cache.close()
    if as_json:
        echo_json({"checked": checked, "corrupt": bad, "problems": problems})
    else:
        for p in problems:
            click.echo(f"corrupt: {p}")
        click.echo(f"{checked} entries checked, {len(bad)} corrupt (removed)")
    if bad:
        raise click.exceptions.Exit(3)


@group.command("gc")
@json_option
@project_option
def gc(as_json: bool, project_dir: str | None) -> None:
    """Delete entries no current story's last build refers to (run records of pinned compilations stay)."""
    from prodscale.storage.gc import collect_garbage, live_set
    from prodscale.storage.lockfile import LockFile
    from prodscale.storage.state import BuildLog, BuildState
    project, cache, lock = _open(project_dir)
    with lock:
        pinned = [e.get("compilation_hash", "") for e in LockFile.load(project.root).stories.values()]
        live = live_set(cache, BuildState(project.state_dir).load(), BuildLog(project.state_dir), pinned)
        removed = collect_garbage(cache, live).removed
        cache.close()
    if as_json:
        echo_json({"removed": removed})
    else:
        click.echo(f"removed {removed} unreferenced entr{'y' if removed == 1 else 'ies'}")


@group.command("clear")
@project_option
def clear(project_dir: str | None) -> None:
    """Delete everything in the cache (the next build recomputes it)."""
    _, cache, lock = _open(project_dir)
    with lock:
        n = cache.clear()
        cache.close()
    click.echo(f"cleared {n} entr{'y' if n == 1 else 'ies'}")
