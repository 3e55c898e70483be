"""Generator: label-conditioned synthesis of training samples, filtered (optionally by the teacher).

from generator import GeneratorConfig, generate
out = generate(spec, GeneratorConfig(per_label=20, seed=0), teacher=teacher)
out.samples   # Sample(text, label, probs) that passed every filter
out.report    # removals and acceptance after each filter, samples/s, diversity per label
"""

from generator import filters
from generator.buffer import fill_buffer, read_buffer
from generator.config import GeneratorConfig
from generator.dedup import dedup
from generator.diversity import diversity
from generator.generate import GenerationResult, Sample, generate, generate_with

__all__ = [
    "GeneratorConfig",
    "generate",
    "generate_with",
    "GenerationResult",
    "Sample",
    "fill_buffer",
    "read_buffer",
    "filters",
    "dedup",
    "diversity",
]
