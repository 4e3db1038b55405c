# Backprop, Derived: build the book and run every check.
#   make book   set up .venv, build the HTML book into _build/html
#   make test   set up .venv, lint, unit tests, nbval on every notebook, strict build, browser check
#   make bench  speed and memory benchmarks of backprop_utils (prints a markdown table)
#   make bench-notebooks  how long each chapter takes to execute (the limit is 15 s)

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
JOBS   ?= 2
BUILD_FLAGS := -W -n --keep-going --builder html
export PATH := $(CURDIR)/$(BIN):$(PATH)

NOTEBOOKS = $(shell $(BIN)/python tests/tocfiles.py)

.PHONY: setup book build test lint unit nbval browser bench bench-notebooks page clean

setup: $(STAMP)

$(STAMP): requirements.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet -r requirements.txt
	$(BIN)/python -c "import matplotlib.pyplot"  # builds the font cache before any notebook runs
	touch $(STAMP)

book: setup build
	@echo "The book is at $(CURDIR)/_build/html/index.html"

build:
	rm -rf _build/html _build/.doctrees
	$(BIN)/jupyter-book build . $(BUILD_FLAGS)

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

unit: setup
	$(BIN)/pytest tests -m "not browser" -n $(JOBS) -q

nbval: setup
	$(BIN)/pytest --nbval --nbval-current-env --nbval-sanitize-with tests/nbval_sanitize.cfg \
		-p no:cacheprovider -n $(JOBS) --dist loadfile -q $(NOTEBOOKS)

browser: setup
	$(BIN)/pytest tests -m browser -q

test: lint unit nbval book browser

bench: setup
	$(BIN)/python benchmarks/bench.py

bench-notebooks: setup
	$(BIN)/python benchmarks/notebooks.py

# One page with the real configuration, for writing a chapter: make page NB=chapters/04_quotient_rule.ipynb
page: setup
	@test -n "$(NB)" || (echo "usage: make page NB=chapters/XX.ipynb" && exit 2)
	$(BIN)/python tests/build_page.py $(NB)

clean:
	rm -rf _build .pytest_cache .hypothesis
