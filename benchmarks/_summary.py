"""``run_all``'s report: ``summary.md`` (the tables), ``summary.png`` (the
ratios against their targets, the memory of one fit) and ``results.json``."""

from __future__ import annotations

import json

import numpy as np

from benchmarks._report import md_table
from benchmarks.cases import N_PREDICT

# issue 6: fit <= 1.05x the hand-written loop, 1-sample predict <= 2x a raw
# forward, 10k-sample predict <= 1.5x a raw forward
TARGETS = {"fit": 1.05, "predict_1": 2.0, "predict_10k": 1.5}


def fmt_ratio(ratio, target):
    mark = "yes" if ratio <= target else "**no**"
    return f"{ratio:.2f}x ({mark})"


def seconds(t):
    if t < 1e-3:
        return f"{t * 1e6:.0f} µs"
    if t < 1:
        return f"{t * 1e3:.1f} ms"
    return f"{t:.2f} s"


def ratios(speed):
    return {
        "fit": speed["fit_est"] / speed["fit_hand"],
        "predict_1": speed["predict_1"]["est"] / speed["predict_1"]["raw"],
        "predict_10k": speed["predict_10000"]["est"] / speed["predict_10000"]["raw"],
    }


def fit_row(fam, s):
    mlp = "n/a"
    mlp_ratio = "n/a"
    if "fit_mlp" in s:
        mlp = seconds(s["fit_mlp"])
        mlp_ratio = f"{s['fit_est_vs_mlp'] / s['fit_mlp']:.2f}x"
    return [
        fam,
        s["setup"],
        seconds(s["fit_est"]),
        seconds(s["fit_hand"]),
        fmt_ratio(s["fit_est"] / s["fit_hand"], TARGETS["fit"]),
        f"{s['fit_est_min'] / s['fit_hand_min']:.2f}x",
        mlp,
        mlp_ratio,
    ]


def predict_row(fam, k, p):
    target = TARGETS["predict_1" if k == 1 else "predict_10k"]
    other = []
    if "mlp" in p:
        other.append(f"sklearn MLPClassifier {seconds(p['mlp'])}")
    if "raw_with_base" in p:
        other.append(
            f"base models' predict_proba + raw forward "
            f"{seconds(p['raw_with_base'])} "
            f"(ratio {p['est'] / p['raw_with_base']:.2f}x)"
        )
    return [
        fam,
        f"{k:,}",
        seconds(p["est"]),
        seconds(p["raw"]),
        fmt_ratio(p["est"] / p["raw"], target),
        "; ".join(other) or "-",
    ]


def markdown(results, meta):
    """The text of ``summary.md``."""
    families = list(results)
    speed = {fam: results[fam]["speed"] for fam in families}
    lines = [
        "# sklearn_nn benchmark summary",
        "",
        f"{meta['date']}, {meta['mode']} run, {meta['machine']}; torch "
        f"{meta['torch']} with torch.set_num_threads(1) and OMP_NUM_THREADS=1 in "
        "every measuring process; scikit-learn "
        f"{meta['sklearn']}. Times are medians of alternating runs "
        "(estimator, baseline, estimator, ...) after a discarded warm-up pair.",
        "",
        "## Fit time (target: <= 1.05x the hand-written torch loop)",
        "",
        *md_table(
            [
                "family",
                "setup",
                "estimator",
                "hand-written loop",
                "ratio (met?)",
                "ratio of the fastest runs",
                "sklearn MLP",
                "estimator / MLP",
            ],
            [fit_row(fam, speed[fam]) for fam in families],
            "llrrrrrr",
        ),
        "",
        "Hand-written loops: "
        + "; ".join(f"{fam}: {speed[fam]['hand_name']}" for fam in families)
        + ". The estimator's fit also validates and converts the data, encodes "
        "the target and builds the net (siamese: plus Platt calibration and the "
        "collapse check, one extra forward pass over the training pairs). "
        "The ratio (and the met? mark) compares medians; the ratio of the "
        "fastest runs compares the minima of the same runs, which other load "
        "on a shared machine disturbs least.",
        "",
        "## Predict time: predict_proba against a raw forward of net_.module_",
        "",
        "Targets: 1 sample <= 2x, 10 000 samples <= 1.5x the raw forward "
        "(ready-made input tensors, torch.inference_mode()). The estimator "
        "validates the input, converts it to tensors, runs the module and "
        "returns float64 probabilities.",
        "",
        *md_table(
            [
                "family",
                "samples",
                "predict_proba",
                "raw forward",
                "ratio (met?)",
                "other baseline",
            ],
            [
                predict_row(fam, k, speed[fam][f"predict_{k}"])
                for fam in families
                for k in N_PREDICT
            ],
            "lrrrrl",
        ),
    ]
    diffs = ", ".join(
        f"{fam} {max(speed[fam][f'predict_{k}']['max_diff'] for k in N_PREDICT):.1e}"
        for fam in families
    )
    memory = [
        (
            fam,
            f"{m['est']['peak']:.0f} MiB",
            f"{m['est']['increase']:.1f} MiB",
            f"{m['hand']['peak']:.0f} MiB",
            f"{m['hand']['increase']:.1f} MiB",
        )
        for fam, m in ((fam, results[fam]["memory"]) for fam in families)
    ]
    lines += [
        "",
        f"Largest |predict_proba - exp(raw forward)|: {diffs}.",
        "",
        "## Peak memory of one fit (resident set size, fresh process each)",
        "",
        "`ru_maxrss` of a fresh process that imports everything and builds the "
        'data ("before"), then fits once ("peak"); the increase is what the '
        "fit added to the high-water mark.",
        "",
        *md_table(
            [
                "family",
                "estimator peak",
                "estimator increase",
                "hand-written peak",
                "hand-written increase",
            ],
            memory,
            "lrrrr",
        ),
    ]
    accuracy = [
        (fam, data, model, metric, f"{mean:.3f}" + (f" ± {std:.3f}" if std > 0 else ""))
        for fam in families
        for data, model, metric, mean, std in results[fam]["accuracy"]
    ]
    lines += [
        "",
        "## Accuracy against natural baselines (mean ± std)",
        "",
        *md_table(["family", "data", "model", "metric", "score"], accuracy, "llllr"),
    ]
    met = [
        (fam, name)
        for fam in families
        for name, ratio in ratios(speed[fam]).items()
        if ratio <= TARGETS[name]
    ]
    total = len(families) * len(TARGETS)
    lines += ["", f"Targets met: {len(met)} of {total}.", ""]
    return "\n".join(lines)


def figure(results, meta, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import Patch

    families = list(results)
    met_color, missed_color, other_color = "#4C9F70", "#D1495B", "#B8B8B8"
    fig, axes = plt.subplots(2, 2, figsize=(12, 8.5))
    panels = [
        ("fit", "fit time / hand-written torch loop"),
        ("predict_1", "predict_proba(1 sample) / raw module forward"),
        ("predict_10k", "predict_proba(10 000 samples) / raw module forward"),
    ]
    for ax, (key, title) in zip(axes.flat, panels):
        target = TARGETS[key]
        names = list(families)
        values = [ratios(results[fam]["speed"])[key] for fam in families]
        colors = [met_color if v <= target else missed_color for v in values]
        if key != "fit" and "gating" in families:
            # the gate's module needs the base models' predictions as input
            p = results["gating"]["speed"][
                "predict_1" if key == "predict_1" else "predict_10000"
            ]
            names.append("gating vs\nbase models\n+ raw forward")
            values.append(p["est"] / p["raw_with_base"])
            colors.append(other_color)
        bars = ax.bar(names, values, color=colors, edgecolor="black", lw=0.6)
        ax.axhline(target, color="black", ls="--", lw=1.3)
        ax.axhline(1.0, color="grey", lw=0.8, ls=":")
        if max(values) > 4 * target:
            ax.set_yscale("log")
            ax.set_ylim(min(0.5, min(values) / 1.5), max(values) * 2)
            ticks = [t for t in (0.5, 1, 2, 5, 10, 20, 50, 100) if t < max(values) * 2]
            ax.set_yticks(ticks, [f"{t:g}x" for t in ticks])
            ax.minorticks_off()
        else:
            ax.set_ylim(0, max(max(values), target) * 1.3)
        for bar, v in zip(bars, values):
            ax.annotate(
                f"{v:.2f}x",
                (bar.get_x() + bar.get_width() / 2, v),
                ha="center",
                va="bottom",
                fontsize=10,
                fontweight="bold",
                xytext=(0, 3),
                textcoords="offset points",
            )
        ax.set_title(f"{title}\n(target <= {target:g}x, dashed line)", fontsize=11)
        ax.set_ylabel("ratio (lower is better)")
        ax.tick_params(axis="x", labelsize=10)
    ax = axes[1, 1]
    x = np.arange(len(families))
    est = [results[fam]["memory"]["est"]["increase"] for fam in families]
    hand = [results[fam]["memory"]["hand"]["increase"] for fam in families]
    ax.bar(x - 0.2, est, 0.4, label="estimator", color="#4C72B0", edgecolor="black")
    ax.bar(x + 0.2, hand, 0.4, label="hand-written loop", color=other_color)
    ax.set_xticks(x, families, fontsize=10)
    ax.set_ylabel("MiB")
    ax.set_title("peak RSS increase during one fit\n(fresh process each)", fontsize=11)
    ax.legend(fontsize=10)
    fig.legend(
        handles=[
            Patch(color=met_color, label="target met"),
            Patch(color=missed_color, label="target missed"),
            Patch(color=other_color, label="other baseline (no target)"),
        ],
        loc="upper right",
        ncol=3,
        fontsize=10,
        frameon=False,
    )
    fig.suptitle(
        f"sklearn_nn benchmarks: {meta['mode']} run, 1 torch thread, {meta['date']}",
        fontsize=12,
        x=0.01,
        ha="left",
    )
    fig.tight_layout(rect=(0, 0, 1, 0.96))
    fig.savefig(path, dpi=110)
    plt.close(fig)


def write(out, results, meta):
    """Write summary.md, results.json and summary.png to ``out``; the text."""
    out.mkdir(parents=True, exist_ok=True)
    text = markdown(results, meta)
    (out / "summary.md").write_text(text)
    (out / "results.json").write_text(
        json.dumps({"meta": meta, "results": results}, indent=1)
    )
    figure(results, meta, out / "summary.png")
    return text


def replot(out):
    """Redraw summary.md and summary.png from an earlier run's results.json."""
    saved = json.loads((out / "results.json").read_text())
    (out / "summary.md").write_text(markdown(saved["results"], saved["meta"]))
    figure(saved["results"], saved["meta"], out / "summary.png")
