"""The weak-to-strong research problem: tasks, weak and strong models, methods, the runner.

Typical use from Python (the command line ``aar experiment`` does the same):

    from aar.w2s import ExperimentSpec, run_experiment
    record = run_experiment(ExperimentSpec(task="toy", methods=("vanilla",), seeds=(0, 1, 2)))
    print(record.methods[0].pgr)
"""
