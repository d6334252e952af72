# Two commands: `make studio` and `make test`. Both are idempotent.
PYTHON ?= python3.11
VENV ?= .venv
TORCH_SPEC ?= torch==2.13.0
PIP := $(VENV)/bin/pip
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
SYS_PACKAGES := xvfb xauth libxcb-icccm4 libxcb-keysyms1 libgl1-mesa-dri libglx-mesa0 libegl-mesa0 \
	libxkbcommon-x11-0 libxcb-image0 libxcb-randr0 libxcb-render-util0 libxcb-shape0 libxcb-xinerama0 \
	libxcb-cursor0 libfontconfig1 libdbus-1-3 libxrender1 libxi6 libxtst6 libglib2.0-0

.PHONY: studio test setup sysdeps clean-venv

studio: setup sysdeps
	$(VENV)/bin/studio gui

test: setup sysdeps
	xvfb-run -a -s "-screen 0 1600x1000x24" $(PY) -m pytest -q

setup: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q "$(TORCH_SPEC)"
	$(PIP) install -q -e ".[dev]"
	touch $(STAMP)

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
