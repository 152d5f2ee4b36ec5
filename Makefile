# kgen: every command creates (once) and uses the virtual environment in .venv.
VENV ?= .venv
PY := $(VENV)/bin/python
BACKENDS ?= tensorflow jax torch
export KGEN_DATA_DIR ?= $(abspath ../shared/data)

.PHONY: venv demo test bench clean

$(VENV)/.installed: pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	# The CPU build of torch that lies on the development machines; a wider range pulls a multi-GB CUDA build.
	# (Installed here, not named in pyproject.toml: the package metadata pins no torch build.)
	$(PY) -m pip install -q "torch==2.13.0"
	$(PY) -m pip install -q -e ".[all]"
	touch $@

venv: $(VENV)/.installed

# Train a small PixelCNN on the binarized MNIST subset embedded in the package (about 3 minutes of training),
# evaluate it on the embedded test digits (prints nats/image and bits/dim) and write runs/demo/samples.png.
demo: venv
	rm -rf runs/demo
	KERAS_BACKEND=tensorflow $(VENV)/bin/kgen train demo --out runs/demo --verbose 2

# The whole test suite, once per Keras backend (one backend after the other, each on two pytest-xdist workers).
test: venv
	@bash tools/test_backends.sh $(PY) $(BACKENDS)

# The documentation site into build/site (mkdocs.yml; pages under zoo/), warnings as errors; the notebooks are shown
# with the outputs of a tiny run (tools/build_docs.sh). Installs the docs extra into .venv the first time.
.PHONY: docs
docs: venv
	@$(PY) -c "import material, mkdocstrings, mkdocs_jupyter" 2>/dev/null || $(PY) -m pip install -q -e ".[docs]"
	PYTHON=$(PY) bash tools/build_docs.sh build/site

bench: venv
	$(PY) tools/bench_pixelcnn.py

clean:
	rm -rf $(VENV) runs build *.egg-info
