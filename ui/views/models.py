"""Models page: every published version with metrics, plots, comparison, download and a try-it box."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from ui.artifacts import ModelVersion, list_versions, misclassified, read_predictions, version_deltas
from ui.common import fmt_pct, task_picker, workspace
from ui.predict import predict_rows, predict_upload
from ui.upload import human_size


def _metrics_row(v: ModelVersion, prev: ModelVersion | None) -> None:
    m = v.metrics

    def delta(key: str):
        if prev is None or m.get(key) is None or prev.metrics.get(key) is None:
            return None
        return f"{100 * (m[key] - prev.metrics[key]):+.1f} pts vs {prev.name}"

    on = f"on {v.test_size}" if v.test_size else "on the test texts (their number was not recorded)"
    cols = st.columns(5)
    cols[0].metric("Accuracy", fmt_pct(m.get("accuracy")), delta("accuracy"), border=True, help=on)
    cols[1].metric("Macro-F1", fmt_pct(m.get("macro_f1")), delta("macro_f1"), border=True, help=on)
    cols[2].metric("Parameters", f"{v.params / 1e6:.1f}M" if v.params else "–", border=True)
    tps = m.get("texts_per_second")
    cols[3].metric(
        "Throughput",
        f"{tps:,.0f} texts/s" if tps else "–",
        border=True,
        help="batched inference on the machine that evaluated it",
    )
    lat = m.get("latency_ms_per_text")
    cols[4].metric("Latency", f"{lat:.0f} ms" if lat else "–", border=True, help="median time for a single text")
    # The n beside the score says how far to trust it: 90 % on 40 texts and on 4,000 are different claims.
    st.caption(f"Accuracy and macro-F1 {on}.")


def _per_class(v: ModelVersion) -> None:
    """Precision, recall, F1 and support of every label: where the average hides a weak label."""
    st.markdown("**Per label**")
    rows = v.per_class_rows()
    if not rows:
        st.caption("No per-label figures in this version.")
        return
    df = pd.DataFrame(rows)
    if (df["label"] == df["id"]).all():
        df = df.drop(columns="id")  # the names are the ids: one column says it
    pct = {c: st.column_config.NumberColumn(c, format="percent") for c in ("precision", "recall", "F1")}
    st.dataframe(df, hide_index=True, width="stretch", column_config=pct)


MAX_MISTAKES_SHOWN = 1000


def _mistakes(v: ModelVersion) -> None:
    """The test texts the student got wrong, most confident first, filterable by gold and predicted label and text."""
    st.markdown("**Misclassified test texts**")
    rows = read_predictions(v)
    if rows is None:
        st.caption(
            "This version has no saved test predictions (versions published before they were recorded have none); "
            "the next published version will list its mistakes here."
        )
        return
    wrong = misclassified(rows)
    if not wrong:
        st.caption(f"No mistakes on the {len(rows):,} test texts.")
        return
    ids = list(v.label_names) + sorted({r[k] for r in rows for k in ("gold", "predicted")} - set(v.label_names))
    scope = f"{v.task}-{v.name}"

    def name(lab: str | None) -> str:
        return "all" if lab is None else v.label_name(lab)

    left, mid, right = st.columns(3)
    gold = left.selectbox("Gold label", [None, *ids], format_func=name, key=f"wrong-gold-{scope}")
    predicted = mid.selectbox("Predicted label", [None, *ids], format_func=name, key=f"wrong-pred-{scope}")
    search = right.text_input("Text contains", key=f"wrong-search-{scope}")
    shown = misclassified(rows, gold, predicted, search)
    st.caption(
        f"{len(shown):,} of the {len(wrong):,} mistakes on {len(rows):,} test texts, the most confident first"
        + (f" (the first {MAX_MISTAKES_SHOWN:,} listed)" if len(shown) > MAX_MISTAKES_SHOWN else "")
    )
    if not shown:
        return
    df = pd.DataFrame(
        [
            {
                "text": r["text"],
                "gold": v.label_name(r["gold"]),
                "predicted": v.label_name(r["predicted"]),
                "confidence": r.get("confidence"),
                "p(gold)": r["probs"].get(r["gold"]) if isinstance(r.get("probs"), dict) else None,
            }
            for r in shown[:MAX_MISTAKES_SHOWN]
        ]
    )
    bar = {"min_value": 0.0, "max_value": 1.0, "format": "percent"}
    config = {
        "confidence": st.column_config.ProgressColumn("confidence", **bar),
        "p(gold)": st.column_config.ProgressColumn(
            "p(gold)", help="the probability the student gave the true label", **bar
        ),
    }
    st.dataframe(df, hide_index=True, width="stretch", column_config=config)


def _plots(v: ModelVersion) -> None:
    left, right = st.columns(2)
    with left:
        st.markdown("**Confusion matrix**")
        if v.confusion_png:
            st.image(str(v.confusion_png), caption="rows: true label · columns: predicted", width="stretch")
        else:
            st.caption("No confusion matrix in this version.")
    with right:
        st.markdown("**Learning curve**")
        if v.learning_curve_png:
            st.image(str(v.learning_curve_png), caption="training loss / dev accuracy by epoch", width="stretch")
        else:
            st.caption("No learning curve in this version.")


def _ladder(v: ModelVersion) -> None:
    """Accuracy against speed of every student kind the run trained (the published one marked)."""
    ladder = v.metrics.get("ladder") or {}
    kinds = ladder.get("kinds") or []
    if len(kinds) < 2:
        return
    st.markdown(f"**Student kinds trained** (budget `{ladder.get('budget')}`; published: `{ladder.get('published')}`)")
    df = pd.DataFrame(
        [
            {
                "kind": r["kind"] + (" (published)" if r["kind"] == ladder.get("published") else ""),
                "dev accuracy": r.get("dev_accuracy"),
                "texts/s": r.get("texts_per_second"),
                "ms a text": r.get("latency_ms_per_text"),
                "params": r.get("params"),
            }
            for r in kinds
        ]
    )
    left, right = st.columns(2)
    left.scatter_chart(df, x="texts/s", y="dev accuracy", color="kind", size="params")
    right.dataframe(df.set_index("kind"), width="stretch")


def _comparison(v: ModelVersion) -> None:
    st.markdown("**Teacher vs student**")
    df = pd.DataFrame(v.comparison_rows()).set_index("system").dropna(axis=1, how="all")
    if not v.teacher:
        st.caption("No teacher metrics were recorded for this version.")
    numeric = [c for c in df.columns if c not in ("model", "test figures on")]
    df[numeric] = df[numeric].apply(pd.to_numeric, errors="coerce")
    formats = {
        "test accuracy": "percent",
        "test macro-F1": "percent",
        "dev accuracy": "percent",
        "params": "compact",
        "ECE": "%.3f",
        "texts/s": "%.0f",
    }
    config = {c: st.column_config.NumberColumn(c, format=formats.get(c)) for c in numeric}
    st.dataframe(df, column_config=config, width="stretch")


def _download(v: ModelVersion) -> None:
    if v.zip_path is None:
        st.warning("This version has no zip artifact to download.", icon=":material/warning:")
        return
    st.download_button(
        f"Download {v.zip_path.name} ({human_size(v.zip_path.stat().st_size)})",
        # A callable is read only when the user clicks: a render never holds a model-sized zip in memory.
        data=v.zip_path.read_bytes,
        file_name=v.download_name,
        mime="application/zip",
        type="primary",
        icon=":material/download:",
        key=f"download-{v.task}-{v.name}",
        on_click="ignore",
    )


def _try_it(v: ModelVersion) -> None:
    st.markdown("**Try it**")
    if v.zip_path is None:
        st.caption("Nothing to run: this version has no artifact zip.")
        return
    with st.form(key=f"try-{v.task}-{v.name}", border=True):
        text = st.text_area("Texts to classify (one per line)", key=f"try-text-{v.name}", height=100)
        go = st.form_submit_button("Classify", icon=":material/play_arrow:")
    if go:
        texts = [t.strip() for t in text.split("\n") if t.strip()]
        if not texts:
            st.info("Type at least one text first.")
            return
        try:
            with st.spinner("Running the student…"):
                rows = predict_rows(str(v.zip_path), texts)
        except Exception as e:  # the artifact is user-visible; show why it failed instead of a traceback
            st.error(f"The student could not run on this artifact: {e}")
            return
        names = dict(zip(v.student.get("label_ids") or [], v.student.get("label_names") or []))
        df = pd.DataFrame(rows)
        if names and "label" in df:
            df.insert(df.columns.get_loc("label") + 1, "name", df["label"].map(names))
        config = (
            {"score": st.column_config.ProgressColumn("confidence", min_value=0.0, max_value=1.0, format="percent")}
            if "score" in df
            else None
        )
        st.dataframe(df, width="stretch", hide_index=True, column_config=config)


def _classify_file(v: ModelVersion, versions: list[ModelVersion] | None = None) -> None:
    """Upload a CSV / JSONL / text file, classify every row with this version, download the results;
    optionally compare with another version on the same file (agreement and the rows they disagree on)."""
    from factory.errors import FactoryError

    if v.zip_path is None:
        return
    with st.expander("Classify a file"):
        up = st.file_uploader(
            "CSV, JSONL or text (one text a line)",
            type=["csv", "tsv", "jsonl", "json", "txt"],
            key=f"file-{v.task}-{v.name}",
        )
        column = st.text_input(
            "Column / field with the text (CSV, JSONL)", value="text", key=f"file-col-{v.task}-{v.name}"
        )
        if up is None:
            return
        try:
            with st.spinner(f"Classifying {up.name}…"):
                data, report = predict_upload(str(v.zip_path), up.name, up.getvalue(), column)
        except FactoryError as e:
            st.error(str(e))
            return
        st.success(f"{report['predicted']} rows classified, {report['skipped']} skipped.", icon=":material/check:")
        for p in report["problems"][:5]:
            st.caption(f"skipped {p}")
        others = [o for o in versions or [] if o.name != v.name and o.zip_path is not None]
        other_name = st.selectbox("Compare with", ["—"] + [o.name for o in others], key=f"file-cmp-{v.task}-{v.name}")
        other = next((o for o in others if o.name == other_name), None)
        if other is not None:
            _compare_on_file(v, other, up.name, up.getvalue(), column, data)
        st.download_button(
            f"Download {report['file_name']}",
            data=data,
            file_name=f"{v.task}-{v.name}-{report['file_name']}",
            key=f"file-dl-{v.task}-{v.name}",
            on_click="ignore",
        )


def _rows_of(data: bytes, name: str) -> pd.DataFrame:
    import io

    return pd.read_csv(io.BytesIO(data)) if name.endswith(".csv") else pd.read_json(io.BytesIO(data), lines=True)


def _compare_on_file(v: ModelVersion, other: ModelVersion, name: str, raw: bytes, column: str, mine: bytes) -> None:
    """Agreement of two versions on the uploaded file, and the rows where their labels differ."""
    from factory.errors import FactoryError

    try:
        theirs, report = predict_upload(str(other.zip_path), name, raw, column)
    except FactoryError as e:
        st.error(str(e))
        return
    a, b = _rows_of(mine, report["file_name"]), _rows_of(theirs, report["file_name"])
    both = a[["line", "text", "label"]].merge(
        b[["line", "label"]], on="line", suffixes=(f" {v.name}", f" {other.name}")
    )
    differ = both[both[f"label {v.name}"] != both[f"label {other.name}"]]
    agree = 1 - len(differ) / max(len(both), 1)
    st.metric(f"{v.name} and {other.name} agree on", f"{100 * agree:.1f}%", help=f"{len(both)} rows of {name}")
    if len(differ):
        st.dataframe(differ, width="stretch", hide_index=True)


def _versions_table(versions: list[ModelVersion]) -> None:
    """Every version with its test scores and the change from the version before it (in points)."""
    d_acc, d_f1 = version_deltas(versions, "accuracy"), version_deltas(versions, "macro_f1")
    rows = [
        {
            "version": v.name,
            "kind": v.manifest.get("kind"),
            "human answers": v.manifest.get("human_answers"),
            "accuracy": v.metrics.get("accuracy"),
            "Δ accuracy": d_acc[i],
            "macro-F1": v.metrics.get("macro_f1"),
            "Δ macro-F1": d_f1[i],
            "test texts": v.test_n,
            "params": v.params,
            "zip": v.zip_path.name if v.zip_path else None,
        }
        for i, v in enumerate(versions)
    ]
    points = "%+.1f pts"
    st.dataframe(
        pd.DataFrame(rows),
        hide_index=True,
        width="stretch",
        column_config={
            "accuracy": st.column_config.NumberColumn("accuracy", format="percent"),
            "Δ accuracy": st.column_config.NumberColumn("Δ accuracy", format=points, help="vs the version below"),
            "macro-F1": st.column_config.NumberColumn("macro-F1", format="percent"),
            "Δ macro-F1": st.column_config.NumberColumn("Δ macro-F1", format=points, help="vs the version below"),
            "params": st.column_config.NumberColumn("params", format="compact"),
        },
    )
    st.caption(
        "Δ: change from the previous version in percentage points. Scores on different test sets do not compare."
    )


def render() -> None:
    st.title("Models")
    ws = workspace()
    task = task_picker(ws)
    if task is None:
        return
    versions = list_versions(ws, task)
    if not versions:
        st.info(
            f"Task **{task}** has no published model yet. Start a production run on the **Runs** page; its student appears here as `v1`.",
            icon=":material/hourglass_empty:",
        )
        return
    names = [v.name for v in versions]
    st.caption(f"{len(versions)} version{'s' if len(versions) != 1 else ''} of **{task}** (newest first)")
    if len(versions) > 1:
        with st.expander("All versions"):
            _versions_table(versions)
    name = st.segmented_control("Version", names, default=names[0], key=f"version-{task}") or names[0]
    v = versions[names.index(name)]
    prev = versions[names.index(name) + 1] if names.index(name) + 1 < len(versions) else None
    st.subheader(f"{task} · {v.name}")
    info = [v.manifest.get("kind"), f"run {v.manifest['run']}" if v.manifest.get("run") else None]
    if v.manifest.get("human_answers"):
        info.append(f"{v.manifest['human_answers']} human answers")
    st.caption(" · ".join(x for x in info if x) or "published version")
    _metrics_row(v, prev)
    for flag in v.metrics.get("flags") or []:  # reasons not to trust the figures above, from the evaluation
        st.warning(f"**Check these numbers:** {flag}", icon=":material/warning:")
    _download(v)
    _plots(v)
    _per_class(v)
    _mistakes(v)
    _ladder(v)
    _comparison(v)
    _try_it(v)
    _classify_file(v, versions)
    if v.card:
        with st.expander("Model card"):
            st.markdown(v.card)


render()
