"""The eval set and its runner: `python -m evals` answers every question and reports how well the system does."""
