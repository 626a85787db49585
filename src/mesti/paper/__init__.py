"""The paper (arXiv 2509.00056) as data and as runnable studies: its figures, one study per table,
and a report that puts the paper's numbers beside ours (docs/paper.md)."""

from mesti.paper.results import load_paper_results
from mesti.paper.studies import ROOT_FLAGS, Reduction, list_studies, load_study, run_study

__all__ = ["ROOT_FLAGS", "Reduction", "list_studies", "load_paper_results", "load_study", "run_study"]
