"""Users' scoring scripts with Azure ML's contract (`init()`, `run(mini_batch)`), each run in
a child process per worker process and deployment version (docs/scoring-scripts.md):
child.py is the child's side, processes.py starts, reuses and kills children, runner.py
turns a mini-batch into a run() call and its return value into rows."""
