"""Render every benchmark's results (benchmarks/results/*.json) into the docs: a table in the
document's figure block and a plot in docs/figures/NAME.png.

    python benchmarks/render.py           # rewrite the blocks and the plots
    python benchmarks/render.py --check   # exit 1 if a document's table is not its results'

A document holds a figure between `<!-- figure: NAME -->` and `<!-- /figure: NAME -->`; what
is between is this script's and is replaced on every run. The benchmark commands write the
JSON; only this script writes the tables and plots.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.cluster import projection  # noqa: E402
from benchmarks.cluster import saturation_table as cluster_saturation_table  # noqa: E402
from benchmarks.cluster import table as cluster_table  # noqa: E402
from benchmarks.departure_prediction import STRATEGIES as DEPARTURE_STRATEGIES  # noqa: E402
from benchmarks.departure_prediction import table as departure_prediction_table  # noqa: E402
from benchmarks.planner_scale import table as planner_scale_table  # noqa: E402
from benchmarks.smart_charging import STRATEGIES  # noqa: E402
from benchmarks.v2g import table as v2g_table  # noqa: E402
from composition.commands.ml import evaluation_table  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results"
FIGURES = ROOT / "docs" / "figures"


@dataclass(frozen=True)
class Figure:
    name: str  # results/NAME.json, figures/NAME.png, the block's name
    document: str  # under docs/
    caption: str
    table: Callable[[dict], str]
    plot: Callable[[dict, object], None] | None  # (results, matplotlib axes); None: a table
    source: str = ""  # results/SOURCE.json when it is not results/NAME.json
    # The command that made the results, when it is not their top-level `command`.
    command: Callable[[dict], str | None] | None = None

    @property
    def results_file(self) -> Path:
        return RESULTS / f"{self.source or self.name}.json"


# --- tables (pure) ----------------------------------------------------------------------


def ingress_table(r: dict) -> str:
    rows = [
        "| target | proxy | calls/s | p50 ms | p95 ms | p99 ms | errors |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for x in r["results"]:
        rows.append(
            f"| {x['target']} | {x['proxy']} | {x['calls_per_s']:.0f} | {x['p50_ms']} "
            f"| {x['p95_ms']} | {x['p99_ms']} | {x['errors']} |"
        )
    return "\n".join(rows)


def smart_charging_table(r: dict) -> str:
    rows = [
        "| charge points | sessions | strategy | energy kWh | vs offline | cost | vs offline "
        "| peak kW | slots over limit | time s |",
        "| ---: | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for size in r["results"]:
        for name in STRATEGIES:
            s = size[name]
            seconds = s.get("solve_s", s.get("total_s", ""))
            rows.append(
                f"| {size['charge_points']} | {size['sessions']} | {name} | {s['energy_kwh']} "
                f"| {s.get('energy_vs_offline', 1.0)} | {s['cost']} "
                f"| {s.get('cost_vs_offline', 1.0)} | {s['peak_kw']} "
                f"| {s['slots_over_site_limit']} | {seconds} |"
            )
    return "\n".join(rows)


def scale_table(r: dict) -> str:
    rows = [
        "| action | plain `ocpp` server calls/s | SIGEC-VE calls/s | ratio | SIGEC-VE p99 ms |",
        "| --- | ---: | ---: | ---: | ---: |",
    ]
    for action, x in r["saturation"].items():
        if isinstance(x, dict) and "ratio" in x:
            rows.append(
                f"| {action} | {x['plain_server']['calls_per_s']:,.0f} "
                f"| {x['sigecve']['calls_per_s']:,.0f} | {x['ratio']} | {x['sigecve']['p99_ms']} |"
            )
    rows += [
        "",
        "| charge points (steady) | booted | memory GiB, max | CPU cores, mean "
        "| p99 round trip ms |",
        "| ---: | ---: | ---: | ---: | ---: |",
    ]
    for run in sorted(r["steady"], key=lambda x: x["charge_points"]):
        system = run["resources"]["system"]
        rows.append(
            f"| {run['charge_points']:,} | {run['simulated']['boots']:,} "
            f"| {system['memory_gib_max']} "
            f"| {system['cpu_cores_mean']} | {run['simulated']['round_trip_all']['p99_ms']} |"
        )
    return "\n".join(rows)


def cluster_saturation(r: dict) -> str:
    return cluster_saturation_table(r["saturation"])


def failure_prediction_table(r: dict) -> str:
    return evaluation_table(r)


# --- plots ------------------------------------------------------------------------------


def ingress_plot(r: dict, ax) -> None:
    labels = [f"{x['target']}\n{x['proxy']}" for x in r["results"]]
    ax.bar(labels, [x["calls_per_s"] for x in r["results"]], color="#0f766e")
    ax.set_ylabel("Heartbeat calls/s")


def smart_charging_plot(r: dict, ax) -> None:
    names = [n for n in STRATEGIES if n != "offline"]
    width = 0.8 / len(r["results"])
    for i, size in enumerate(r["results"]):
        ax.bar(
            [j + i * width for j in range(len(names))],
            [size[n].get("cost_vs_offline", 1.0) for n in names],
            width,
            label=f"{size['charge_points']} charge points",
        )
    ax.set_xticks([j + width for j in range(len(names))], [n.replace("_", "\n") for n in names])
    ax.axhline(1.0, color="#999", linewidth=1)
    ax.set_ylabel("cost / offline optimum")
    ax.legend()


def departure_prediction_plot(r: dict, ax) -> None:
    names = DEPARTURE_STRATEGIES[1:]
    rows = r["results"]
    width = 0.8 / len(rows)
    for i, x in enumerate(rows):
        ax.bar(
            [j + i * width for j in range(len(names))],
            [x[n]["cost_vs_offline"] for n in names],
            width,
            label=f"{x['charge_points']} charge points, seed {x['seed']}",
        )
    ax.set_xticks(
        [j + width * (len(rows) - 1) / 2 for j in range(len(names))],
        [n.replace("_", " ") for n in names],
    )
    ax.axhline(1.0, color="#999", linewidth=1)
    ax.axhline(1.05, color="#c53030", linewidth=1, linestyle="--")
    ax.set_ylabel("cost / offline optimum (a week)")
    ax.legend(fontsize="small")


def planner_scale_plot(r: dict, ax) -> None:
    rows = r["results"]
    xs = [x["charge_points"] for x in rows]
    ax.loglog(xs, [x["flow"]["seconds"] for x in rows], "o-", color="#0f766e", label="schedule")
    exact = [x for x in rows if "exact" in x]
    ax.loglog(
        [x["charge_points"] for x in exact],
        [x["exact"]["seconds"] for x in exact],
        "s--",
        color="#c53030",
        label="schedule --exact (MILP)",
    )
    ax.set_xlabel("charge points (about 4.5 sessions each, a quarter with a minimum power)")
    ax.set_ylabel("whole command, s")
    memory = ax.twinx()
    memory.semilogx(xs, [x["flow"]["peak_mib"] for x in rows], "^:", color="#6b46c1")
    memory.set_ylabel("peak memory of schedule, MiB", color="#6b46c1")
    ax.legend(loc="upper left")


def v2g_plot(r: dict, ax) -> None:
    rows = r["results"]
    shares = sorted({x["share_bidirectional"] for x in rows})
    sizes = sorted({x["charge_points"] for x in rows})
    width = 0.8 / len(shares)
    for k, share in enumerate(shares):
        by_size = {x["charge_points"]: x for x in rows if x["share_bidirectional"] == share}
        ax.bar(
            [j + k * width for j in range(len(sizes))],
            [by_size[n]["cost_vs_charging_only"] if n in by_size else 0 for n in sizes],
            width,
            label=f"{share:.0%} of EVs bidirectional",
        )
    ax.set_xticks([j + width * (len(shares) - 1) / 2 for j in range(len(sizes))], sizes)
    ax.axhline(1.0, color="#999", linewidth=1)
    ax.set_ylim(0.5, 1.05)
    ax.set_xlabel("charge points")
    ax.set_ylabel("cost with V2G / charging only")
    ax.legend(fontsize="small")


def scale_plot(r: dict, ax) -> None:
    runs = sorted(r["steady"], key=lambda x: x["charge_points"])
    xs = [run["charge_points"] for run in runs]
    ax.plot(
        xs, [run["resources"]["system"]["memory_gib_max"] for run in runs], "o-", color="#0f766e"
    )
    ax.set_xlabel("charge points (steady state)")
    ax.set_ylabel("memory of the whole system, GiB", color="#0f766e")
    p99 = ax.twinx()
    p99.plot(
        xs, [run["simulated"]["round_trip_all"]["p99_ms"] for run in runs], "o-", color="#c53030"
    )
    p99.set_ylabel("p99 round trip, ms", color="#c53030")


def cluster_plot(r: dict, ax) -> None:
    for name, run in r.items():
        if name == "saturation" or not run.get("samples"):
            continue
        at = [s["at_s"] for s in run["samples"]]
        ax.plot(at, [s["connected"] for s in run["samples"]], label=name)
    ax.set_xlabel("seconds")
    ax.set_ylabel("chargers connected")
    ax.legend()


def cluster_saturation_plot(r: dict, ax) -> None:
    by_nodes = r["saturation"]["saturation"]
    nodes = list(by_nodes)
    for action in by_nodes[nodes[0]]:
        ax.plot(nodes, [by_nodes[n][action]["calls_per_s"] for n in nodes], "o-", label=action)
    ax.set_xlabel("Ray nodes (on the same two cores)")
    ax.set_ylabel("calls/s")
    ax.set_ylim(bottom=0)
    ax.legend()


def failure_prediction_plot(r: dict, ax) -> None:
    keys = ("pr_auc", "roc_auc", "precision_at_threshold", "recall_at_threshold", "event_recall")
    model, rule = r["model"], r["baseline_error_code_count"]
    xs = range(len(keys))
    ax.bar([x - 0.2 for x in xs], [model[k] for k in keys], 0.4, label="model")
    ax.bar([x + 0.2 for x in xs], [rule[k] for k in keys], 0.4, label="error-code count rule")
    ax.set_xticks(list(xs), [k.replace("_", "\n") for k in keys])
    ax.set_ylim(0, 1)
    ax.legend()


FIGURES_LIST: tuple[Figure, ...] = (
    Figure("ingress", "ingress.md", "WebSocket calls/s by ingress", ingress_table, ingress_plot),
    Figure(
        "smart_charging",
        "smart-charging.md",
        "cost of each strategy against the offline optimum",
        smart_charging_table,
        smart_charging_plot,
    ),
    Figure(
        "departure_prediction",
        "smart-charging.md",
        "online cost when drivers tell nothing, by how departures are guessed",
        departure_prediction_table,
        departure_prediction_plot,
    ),
    Figure(
        "planner_scale",
        "smart-charging.md",
        "sigecve schedule's time and memory by site size",
        planner_scale_table,
        planner_scale_plot,
    ),
    Figure(
        "v2g",
        "smart-charging.md",
        "a day's cost with vehicle-to-grid against charging only",
        v2g_table,
        v2g_plot,
    ),
    Figure(
        "scale",
        "scale.md",
        "memory and p99 against charge points",
        scale_table,
        scale_plot,
        command=lambda r: "the commands below",
    ),
    Figure(
        "cluster",
        "cluster.md",
        "chargers connected through each run",
        cluster_table,
        cluster_plot,
        command=lambda r: "the commands below",
    ),
    Figure(
        "cluster_saturation",
        "cluster.md",
        "calls/s against Ray nodes, each action",
        cluster_saturation,
        cluster_saturation_plot,
        source="cluster",
        command=lambda r: r["saturation"]["command"],
    ),
    Figure(
        "cluster_projection",
        "cluster.md",
        "what larger fleets need, scaled from the steady run",
        lambda r: projection(r["steady_10k"]),
        None,
        source="cluster",
        command=lambda r: None,  # the projection names its run itself
    ),
    Figure(
        "failure_prediction",
        "ml.md",
        "the model against the error-code count rule, test period",
        failure_prediction_table,
        failure_prediction_plot,
        command=lambda r: "the commands above",
    ),
)


def results(figure: Figure) -> dict:
    return json.loads(figure.results_file.read_text())


def block(figure: Figure, data: dict) -> str:
    """What the document's figure block holds (pure)."""
    command = figure.command(data) if figure.command else data.get("command")
    lines = [figure.table(data)]
    if figure.plot is not None:
        lines += ["", f"![{figure.caption}](figures/{figure.name}.png)"]
    if command:
        where = figure.results_file.relative_to(ROOT)
        lines += ["", f"Results: `{where}`, from `{command}`."]
        if command.startswith("the "):
            lines[-1] = f"Results: `{where}`, from {command}."
    return "\n".join(lines)


def replaced(text: str, name: str, content: str) -> str:
    """`text` with the figure block `name` holding `content` (pure); a KeyError without one."""
    start, end = f"<!-- figure: {name} -->", f"<!-- /figure: {name} -->"
    if start not in text or end not in text:
        raise KeyError(f"no {start} ... {end} block")
    head, rest = text.split(start, 1)
    _, tail = rest.split(end, 1)
    return f"{head}{start}\n{content}\n{end}{tail}"


def stale() -> list[str]:
    """The figures whose document or plot is not what their results give."""
    out = []
    for figure in FIGURES_LIST:
        doc = ROOT / "docs" / figure.document
        text = doc.read_text()
        if replaced(text, figure.name, block(figure, results(figure))) != text:
            out.append(f"docs/{figure.document}: the {figure.name} table")
        if figure.plot is not None and not (FIGURES / f"{figure.name}.png").is_file():
            out.append(f"docs/figures/{figure.name}.png is missing")
    return out


def render() -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    FIGURES.mkdir(parents=True, exist_ok=True)
    for figure in FIGURES_LIST:
        data = results(figure)
        doc = ROOT / "docs" / figure.document
        doc.write_text(replaced(doc.read_text(), figure.name, block(figure, data)))
        print(f"{figure.name}: docs/{figure.document}")
        if figure.plot is None:
            continue
        fig, ax = plt.subplots(figsize=(8, 4))
        figure.plot(data, ax)
        ax.set_title(figure.caption)
        fig.tight_layout()
        # No timestamps in the file, so that an unchanged result leaves the PNG unchanged.
        fig.savefig(FIGURES / f"{figure.name}.png", dpi=100, metadata={"Software": None})
        plt.close(fig)
        print(f"  docs/figures/{figure.name}.png")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if any figure is stale")
    if parser.parse_args().check:
        problems = stale()
        for p in problems:
            print(f"stale: {p} (python benchmarks/render.py)", file=sys.stderr)
        return 1 if problems else 0
    render()
    return 0


if __name__ == "__main__":
    sys.exit(main())
