"""Studies: a spec (dataset, modality, model, protocol, training) run over its folds into a
run directory, grids of such cells, the executors that run them (in process, Ray), and the
leaky oracle reported beside honest figures."""
