"""The flows' config is the recipe's: :class:`recipe.config.RecipeConfig` under its pipeline name."""

from recipe.config import RecipeConfig as PipelineConfig

__all__ = ["PipelineConfig"]
