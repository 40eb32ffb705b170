"""Plot the store benchmark: one SVG of grouped bar charts and a Markdown table.

Usage:
    python bench/plot.py RESULTS.jsonl OUT.svg --title "..."

RESULTS.jsonl holds one JSON object a line, as the benchmark drivers print:
    {"side": "fullauth"|"raw"|"fastapi-fullauth",
     "backend": "memory"|"sqlite"|"postgres", "op": OP, "concurrency": C,
     "ops_per_sec": X, "p99_us": B, ...}
Lines sharing (side, backend, op, concurrency) are rounds of one cell: the
cell is their median ops_per_sec (and median p99_us). Missing cells are
left out of the chart and shown as "—" in the table. A fastapi-fullauth
line with "rotate_scope": "token" (only the token part of its refresh flow)
is shown as op "rotate (token)", apart from the full-flow "rotate".

Writes OUT.svg (one panel per (backend, concurrency), one bar per (op, side),
ops/s on a log scale) and, next to it, OUT.md (the same basename with .md):
per (backend, op, concurrency) the median ops/s and median p99 of each side
and the ratios fullauth/raw and fullauth/fastapi-fullauth of the median ops/s.

Needs matplotlib only (plus the standard library).
"""

import argparse
import json
import math
import statistics
import sys
from collections import defaultdict
from pathlib import Path

import matplotlib

matplotlib.use("svg")
matplotlib.rcParams["svg.fonttype"] = "none"  # text stays text: small, searchable SVG
import matplotlib.pyplot as plt  # noqa: E402

SIDES = ("fullauth", "raw", "fastapi-fullauth")
SIDE_COLORS = {"fullauth": "#1f77b4", "raw": "#7f7f7f", "fastapi-fullauth": "#ff7f0e"}
BACKENDS = ("memory", "sqlite", "postgres")
OP_ORDER = ("create_user", "get_user", "user_permissions", "revoke", "rotate", "rotate (token)")
REQUIRED = ("side", "backend", "op", "concurrency", "ops_per_sec")


def order_key(known: tuple[str, ...]):
    return lambda v: (known.index(v) if v in known else len(known), str(v))


def load(path: str) -> dict[tuple, dict[str, list[float]]]:
    """(side, backend, op, concurrency) -> {"ops": [...], "p99": [...]}."""
    cells: dict[tuple, dict[str, list[float]]] = defaultdict(lambda: {"ops": [], "p99": []})
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            line = line.strip()
            if not line:
                continue
            try:
                rec = json.loads(line)
            except json.JSONDecodeError as e:
                sys.exit(f"{path}:{n}: not JSON: {e}")
            missing = [k for k in REQUIRED if k not in rec]
            if missing:
                print(f"{path}:{n}: skipped, no {', '.join(missing)}", file=sys.stderr)
                continue
            op = rec["op"]
            if rec.get("rotate_scope") not in (None, "flow"):
                # fastapi_fullauth_bench.py --rotate-scope token: a different
                # measurement than the full refresh flow; keep it apart.
                op = f"{op} ({rec['rotate_scope']})"
            key = (rec["side"], rec["backend"], op, int(rec["concurrency"]))
            cells[key]["ops"].append(float(rec["ops_per_sec"]))
            if rec.get("p99_us") is not None:
                cells[key]["p99"].append(float(rec["p99_us"]))
    return cells


def medians(cells) -> dict[tuple, tuple[float, float | None]]:
    return {
        k: (statistics.median(v["ops"]), statistics.median(v["p99"]) if v["p99"] else None)
        for k, v in cells.items()
        if v["ops"]
    }


def compact(x: float) -> str:
    for div, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if x >= div:
            return f"{x / div:.3g}{suffix}"
    return f"{x:.3g}"


def plot(med, out_svg: Path, title: str) -> None:
    sides = sorted({k[0] for k in med}, key=order_key(SIDES))
    backends = sorted({k[1] for k in med}, key=order_key(BACKENDS))
    concs = sorted({k[3] for k in med})
    ops = sorted({k[2] for k in med}, key=order_key(OP_ORDER))

    values = [v[0] for v in med.values() if v[0] > 0]
    # Half a decade below the smallest value, so that the shortest bar shows.
    lo = 10 ** math.floor(math.log10(min(values)) - 0.5) if values else 1
    hi = 10 ** (math.log10(max(values)) + 0.9) if values else 10  # room for labels

    rows, cols = len(backends), len(concs)
    bar_h = 0.8 / max(1, len(sides))
    panel_h = 0.3 * len(ops) * len(sides) + 1.2
    fig, axes = plt.subplots(
        rows, cols, figsize=(5.2 * cols + 1.2, panel_h * rows + 1.2),
        sharex=True, squeeze=False,
    )
    for r, backend in enumerate(backends):
        for c, conc in enumerate(concs):
            ax = axes[r][c]
            ax.set_xscale("log")
            ax.set_xlim(lo, hi)
            any_bar = False
            for s, side in enumerate(sides):
                # op 0 at the top: y grows downwards after invert_yaxis.
                ys, xs = [], []
                for o, op in enumerate(ops):
                    v = med.get((side, backend, op, conc))
                    if v is None or v[0] <= 0:
                        continue
                    ys.append(o + (s - (len(sides) - 1) / 2) * bar_h)
                    xs.append(v[0])
                if not xs:
                    continue
                any_bar = True
                # On a log axis a bar cannot start at 0: draw it from lo to x.
                bars = ax.barh(ys, [x - lo for x in xs], height=bar_h * 0.92, left=lo,
                               color=SIDE_COLORS.get(side), label=side)
                for bar, x in zip(bars, xs):
                    ax.text(x * 1.08, bar.get_y() + bar.get_height() / 2, compact(x),
                            va="center", ha="left", fontsize=7)
            ax.set_yticks(range(len(ops)))
            ax.set_yticklabels(ops, fontsize=8)
            ax.set_ylim(len(ops) - 0.5, -0.5)
            ax.set_title(f"{backend}, concurrency {conc}", fontsize=10)
            ax.grid(axis="x", which="major", linewidth=0.4, alpha=0.5)
            if not any_bar:
                ax.text(0.5, 0.5, "no data", transform=ax.transAxes,
                        ha="center", va="center", color="#999999")
            if r == rows - 1:
                ax.set_xlabel("ops/s (median of rounds, log scale)", fontsize=8)
            ax.tick_params(axis="x", labelsize=7)

    handles = [plt.Rectangle((0, 0), 1, 1, color=SIDE_COLORS.get(s, "#333333")) for s in sides]
    fig.legend(handles, sides, loc="upper right", ncol=len(sides), fontsize=9, frameon=False)
    fig.suptitle(title, x=0.01, ha="left", fontsize=12)
    fig.tight_layout(rect=(0, 0, 1, 1 - 0.5 / fig.get_figheight()))
    fig.savefig(out_svg, format="svg")
    plt.close(fig)


def fmt(x: float | None) -> str:
    return "—" if x is None else f"{x:,.2f}"


def ratio(a, b) -> str:
    if a is None or b is None or b[0] == 0:
        return "—"
    return f"{a[0] / b[0]:.2f}"


def table(med, title: str) -> str:
    backends = sorted({k[1] for k in med}, key=order_key(BACKENDS))
    ops = sorted({k[2] for k in med}, key=order_key(OP_ORDER))
    concs = sorted({k[3] for k in med})
    head = (
        ["backend", "op", "concurrency"]
        + [f"{s} ops/s" for s in SIDES]
        + [f"{s} p99 µs" for s in SIDES]
        + ["fullauth/raw", "fullauth/fastapi-fullauth"]
    )
    lines = [
        f"# {title}",
        "",
        "Medians over the rounds of each cell; the ratios are of median ops/s "
        "(above 1: fullauth is faster). — : not measured.",
        "",
        "| " + " | ".join(head) + " |",
        "|" + "|".join(["---"] * 3 + ["---:"] * (len(head) - 3)) + "|",
    ]
    for backend in backends:
        for op in ops:
            for conc in concs:
                cell = {s: med.get((s, backend, op, conc)) for s in SIDES}
                if all(v is None for v in cell.values()):
                    continue
                row = [backend, op, str(conc)]
                row += [fmt(cell[s][0] if cell[s] else None) for s in SIDES]
                row += [fmt(cell[s][1] if cell[s] else None) for s in SIDES]
                row += [ratio(cell["fullauth"], cell["raw"]),
                        ratio(cell["fullauth"], cell["fastapi-fullauth"])]
                lines.append("| " + " | ".join(row) + " |")
    extra = sorted({k[0] for k in med} - set(SIDES))
    if extra:
        lines += ["", f"Sides in the data but not in this table: {', '.join(extra)}."]
    return "\n".join(lines) + "\n"


def main() -> int:
    p = argparse.ArgumentParser(description="Plot benchmark results (JSONL) to SVG + Markdown.")
    p.add_argument("results")
    p.add_argument("out_svg")
    p.add_argument("--title", default="fullauth store benchmark")
    a = p.parse_args()
    med = medians(load(a.results))
    if not med:
        sys.exit(f"{a.results}: no results")
    out_svg = Path(a.out_svg)
    out_md = out_svg.with_suffix(".md")
    plot(med, out_svg, a.title)
    out_md.write_text(table(med, a.title), encoding="utf-8")
    print(f"wrote {out_svg} and {out_md}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
