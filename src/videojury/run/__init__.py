"""Running jobs: planning, executors (local, Ray), the results store."""

from .executor import Executor, LocalExecutor, Plan, RunStats, get_executor, plan
from .results import results_table
from .store import Result, ResultKey, Store, export_frame

__all__ = [
    "Executor", "LocalExecutor", "Plan", "Result", "ResultKey", "RunStats", "Store",
    "export_frame", "get_executor", "plan", "results_table",
]
