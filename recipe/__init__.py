"""The recipe: the one sequence of library steps that turns a task into a published model.

The Prefect flows call its steps one task each; ``factory bench`` runs it whole
(:func:`run_recipe`), so every benchmark row describes what users run.
"""

from recipe.config import RecipeConfig, check_stages
from recipe.run import run_recipe
from recipe.steps import seeded_cap

__all__ = ["RecipeConfig", "check_stages", "run_recipe", "seeded_cap"]
