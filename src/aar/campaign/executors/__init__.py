"""Where researchers run: local child processes (default) or Ray actors on a cluster.

executor = make_executor("local")             # or make_executor("ray", address="auto")
executor.start(job)                          # a ResearcherJob: argv, env, log file
executor.poll()                              # {name: None while running, else exit code}
executor.stop("r01", grace=10)               # SIGTERM, then SIGKILL after the grace
"""

from aar.campaign.executors.base import EXECUTORS, Executor, ResearcherJob, make_executor

__all__ = ["EXECUTORS", "Executor", "ResearcherJob", "make_executor"]
