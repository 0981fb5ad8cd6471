"""``prodscale stats [STORY...]``: page length, runtime and who speaks how much.

The figures are ``build/<story>/stats.json`` (engine 2.0.0 and later), brought up to date first:
``stats`` builds the named stories (every story without a name) the way ``build`` does, then prints,
per story, its length in pages and eighths, the two runtime estimates, the INT/EXT and D/N counts,
the characters by dialogue share and the scenes with their lengths. ``--json`` prints the files.
"""

from __future__ import annotations

from typing import Any

import click

from prodscale.cli.common import echo_json, json_option, open_project, project_option


def _clock(seconds: int) -> str:
    h, rest = divmod(int(seconds), 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}"


def render(stats: dict[str, Any], scenes: bool) -> str:
    from prodscale.core.v2_0.paginate import show_eighths

    paper = "US Letter" if stats["paper"] == "letter" else "A4"
    out = [f"{stats['story']}: {stats['length']} pages ({paper}, {stats['pages']} printed), "
           f"{len([s for s in stats['scenes'] if s['heading']])} scenes",
           f"  runtime: {_clock(stats['runtime']['by_pages_s'])} at a page a minute, "
           f"{_clock(stats['runtime']['by_words_s'])} at word rates; the shot list runs "
           f"{_clock(stats['runtime'].get('shots_s', 0))}"]
    counts = stats["counts"]
    out.append("  " + ", ".join(f"{k} {v}" for k, v in counts["int_ext"].items()) + "; "
               + ", ".join(f"{k} {v}" for k, v in counts["day_night"].items()))
    out.append(f"  {'character':28} {'speeches':>8} {'words':>6} {'speaking':>8} {'scenes':>6} {'share':>6}")
    for c in stats["characters"][:25]:
        out.append(f"  {c['name'][:28]:28} {c['speeches']:>8} {c['words']:>6} {_clock(c['speaking_s'])[2:]:>8} "
                   f"{c['scene_count']:>6} {c['dialogue_share']:>6}")
    if len(stats["characters"]) > 25:
        out.append(f"  ... and {len(stats['characters']) - 25} more (--json lists them all)")
    out.append(f"  {'location':40} {'scenes':>6}  lights")
    for loc in stats["locations"][:15]:
        lights = ", ".join(f"{k} {v}" for k, v in sorted(loc["lights"].items()))
        where = f"{loc.get('int_ext') or '?'}. {loc['set']}"
        out.append(f"  {where[:40]:40} {len(loc['scenes']):>6}  {lights}")
    if scenes:
        out.append(f"  {'scene':>6}  {'length':>7}  {'time':>7}  heading")
        for s in stats["scenes"]:
            out.append(f"  {s['scene']:>6}  {show_eighths(s['eighths']):>7}  {_clock(s['runtime_s'])[2:]:>7}  "
                       f"{s['heading'] or '(before the first scene)'}")
    return "\n".join(out)


@click.command("stats")
@click.argument("stories", nargs=-1)
@click.option("--scenes", "show_scenes", is_flag=True, help="List every scene with its length and time.")
@json_option
@project_option
def command(stories: tuple[str, ...], show_scenes: bool, as_json: bool, project_dir: str | None) -> None:
    """Print the length, runtime and speaking figures of STORY (every story by default)."""
    import orjson

    from prodscale.errors import BuildFailed, UsageError
    from prodscale.exec.builder import Builder

    project = open_project(project_dir)
    builder = Builder(project)
    files, _ = project.story_files()
    names = list(stories) or [sf.name for sf in files]
    unknown = sorted(set(names) - {sf.name for sf in files})
    if unknown:
        raise UsageError(f"no story named '{unknown[0]}'", hint="`prodscale status` lists the stories")
    report = builder.build(names, keep_going=True)
    if report.errors and not report.stories:
        raise report.errors[0]
    found: dict[str, Any] = {}
    for name in names:
        path = project.build_dir / name / "stats.json"
        if not path.is_file():
            engine = builder.engine_for(name)
            raise UsageError(f"story '{name}' compiles on engine {engine}, which writes no stats.json",
                             hint=f"statistics come with engine 2.0.0: prodscale reanalyze {name} --engine 2.0.0")
        found[name] = orjson.loads(path.read_bytes())
    if as_json:
        echo_json({"stories": found})
    else:
        click.echo("\n\n".join(render(found[n], show_scenes) for n in names))
    if report.failed:
        raise BuildFailed(f"{len(report.failed)} target(s) failed while bringing the statistics up to date")
