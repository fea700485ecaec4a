# The two commands of the README's quick start.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
# The dashboard's browser tests drive Debian's Chromium (no browser download).
CHROMIUM := /usr/bin/chromium
# `sigecve lab` (and its test) cuts links with nftables rules; iptables brings the kernel
# modules' userland Debian leaves out of a minimal image.
NFT := /usr/sbin/nft
SUDO   := $(if $(filter 0,$(shell id -u)),,sudo)

.PHONY: run test bench-ingress bench-smart-charging clean

$(BIN)/sigecve: pyproject.toml
	$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11) and "Python 3.11+ is required")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[dev]"
	touch $@

run: $(BIN)/sigecve
	$(BIN)/sigecve up

$(CHROMIUM):
	$(SUDO) apt-get update -q
	$(SUDO) apt-get install -y -q chromium

$(NFT):
	$(SUDO) apt-get update -q
	$(SUDO) apt-get install -y -q nftables iptables iproute2

test: $(BIN)/sigecve $(CHROMIUM) $(NFT)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/pytest

bench-ingress: $(BIN)/sigecve
	$(BIN)/python benchmarks/ingress_proxy.py --clients 50 --seconds 15

bench-smart-charging: $(BIN)/sigecve
	$(BIN)/python benchmarks/smart_charging.py --sizes 10 100 1000 --online-up-to 1000
	$(BIN)/python benchmarks/planner_scale.py --sizes 10 100 1000 3000 10000 --exact-up-to 1000
	$(BIN)/python benchmarks/departure_prediction.py --sizes 100 1000 --seeds 1 2
	$(BIN)/python benchmarks/v2g.py --sizes 10 100 1000 --shares 0.25 0.5
	$(BIN)/python benchmarks/render.py

clean:
	rm -rf $(VENV) build *.egg-info
