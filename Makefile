# Two commands: `make studio` and `make test`. Both are idempotent.
# Every package comes at the version in requirements.lock (used as constraints); torch comes
# first as TORCH_SPEC, which the lock leaves free so GPU users can pick a CUDA build.
# `make lock` refreshes the lock on purpose (see README, "Updating the lock").
PYTHON ?= python3.11
VENV ?= .venv
TORCH_SPEC ?= torch==2.13.0
LOCK := requirements.lock
PIP := $(VENV)/bin/pip
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
SYS_PACKAGES := xvfb xauth libxcb-icccm4 libxcb-keysyms1 libgl1-mesa-dri libglx-mesa0 libegl-mesa0 \
	libxkbcommon-x11-0 libxcb-image0 libxcb-randr0 libxcb-render-util0 libxcb-shape0 libxcb-xinerama0 \
	libxcb-cursor0 libfontconfig1 libdbus-1-3 libxrender1 libxi6 libxtst6 libglib2.0-0

.PHONY: studio test setup sysdeps lock clean-venv

studio: setup sysdeps
	$(VENV)/bin/studio gui

test: setup sysdeps
	xvfb-run -a -s "-screen 0 1600x1000x24" $(PY) -m pytest -q

setup: $(STAMP)

$(STAMP): pyproject.toml $(LOCK)
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install -q -c $(LOCK) pip setuptools wheel
	$(PIP) install -q -c $(LOCK) "$(TORCH_SPEC)"
	$(PIP) install -q -c $(LOCK) --no-build-isolation -e ".[dev]"
	touch $(STAMP)

# Re-resolves every package to the newest versions pyproject.toml allows (Python 3.11, Linux x86-64);
# `make lock LOCK_FLAGS=` only adds what pyproject.toml gained, keeping every other pin.
LOCK_FLAGS ?= --upgrade
lock:
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install -q -c $(LOCK) pip-tools
	echo "$(TORCH_SPEC)" > $(VENV)/torch-spec.txt
	CUSTOM_COMPILE_COMMAND="make lock" $(VENV)/bin/pip-compile --quiet $(LOCK_FLAGS) --strip-extras \
		--all-extras --all-build-deps --unsafe-package torch --no-emit-index-url --no-emit-find-links \
		--constraint $(VENV)/torch-spec.txt --output-file $(LOCK) pyproject.toml

# Installs only what is missing, and only when we may (root); otherwise says what to install.
sysdeps:
	@missing=""; for p in $(SYS_PACKAGES); do \
		dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
		if [ "$$(id -u)" = "0" ]; then \
			echo "installing system packages:$$missing"; \
			apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
		else \
			echo "missing system packages:$$missing (run: sudo apt-get install$$missing)"; exit 1; \
		fi; \
	fi

clean-venv:
	rm -rf $(VENV)
