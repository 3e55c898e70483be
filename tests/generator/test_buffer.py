"""fill_buffer writes complete chunks into the workspace buffer; read_buffer reads them back."""

from __future__ import annotations

from generator import GeneratorConfig, fill_buffer, read_buffer
from generator.text import normalize


def test_fill_buffer_writes_chunks_until_target_and_appends_without_duplicates(
    workspace, zh_spec, tiny_lm_dir, permissive
):
    workspace.save_task(zh_spec)
    cfg = GeneratorConfig(model=tiny_lm_dir, per_label=2, **permissive)
    assert read_buffer(workspace, zh_spec.name) == []
    first = fill_buffer(workspace, zh_spec.name, cfg, target=3, progress=False)
    buf = workspace.buffer_dir(zh_spec.name)
    assert first["samples"] == 3 and len(read_buffer(workspace, zh_spec.name)) == 3
    assert (buf / "generator.json").is_file()
    second = fill_buffer(workspace, zh_spec.name, cfg, target=7, progress=False)
    samples = read_buffer(workspace, zh_spec.name)
    assert second["samples"] == len(samples) == 7
    assert len(list(buf.glob("chunk-*.jsonl"))) == len(first["chunks"]) + len(second["chunks"])
    assert len({normalize(s.text) for s in samples}) == len(samples)
    assert not [p for p in buf.iterdir() if p.name.startswith(".")]  # no temp files left behind
    # a full buffer is left alone
    assert fill_buffer(workspace, zh_spec.name, cfg, target=5, progress=False)["rounds"] == 0
