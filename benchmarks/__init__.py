"""sklearn_nn's benchmarks (not part of the library).

Run them from the repository root as modules: ``python -m benchmarks.run_all``
for the whole suite, ``python -m benchmarks.bench_<name>`` for one script;
``benchmarks/README.md`` lists the modules.
"""
