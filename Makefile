# Backprop, Derived: build the book and run every check.
#   make book   set up .venv, build the HTML book into _build/html
#   make test   set up .venv, lint, unit tests, nbval on every notebook, the PDF and its check,
#               strict build, browser check
#   make pdf    the whole book as one PDF, _build/latex/backprop-derived.pdf (needs Debian's TeX)
#   make bench  speed and memory benchmarks of backprop_utils (prints a markdown table)
#   make bench-notebooks  how long each chapter takes to execute (the limit is 15 s)
#   make lab    JupyterLab (with MyST) on chapters/, from .venv
#   make execute [NB=chapters/X.ipynb]  run chapters in place and save them as JupyterLab does

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
JOBS   ?= 2
BUILD_FLAGS := -W -n --keep-going --builder html
export PATH := $(CURDIR)/$(BIN):$(PATH)

NOTEBOOKS = $(shell $(BIN)/python tests/tocfiles.py)

.PHONY: setup book build test lint unit nbval pdf pdf-check browser jupyterlab lab execute reading bench \
	bench-notebooks page clean

setup: $(STAMP)

$(STAMP): requirements.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet -r requirements.txt
	$(BIN)/python -c "import matplotlib.pyplot"  # builds the font cache before any notebook runs
	# no "Jupyter news?" pop-up in this environment's JupyterLab (the reader's own settings untouched)
	$(BIN)/jupyter labextension disable --level=sys_prefix "@jupyterlab/apputils-extension:announcements"
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
	$(BIN)/pytest tests -m "not browser and not jupyterlab and not pdf" -n $(JOBS) -q

nbval: setup
	$(BIN)/pytest --nbval --nbval-current-env --nbval-sanitize-with tests/nbval_sanitize.cfg \
		-p no:cacheprovider -n $(JOBS) --dist loadfile -q $(NOTEBOOKS)

# The PDF: Jupyter Book's LaTeX builder, XeLaTeX through sphinx-jupyterbook-latex, as strict as
# the HTML build (a Sphinx warning fails it, no LaTeX-only warning is exempt; XeLaTeX stops at its
# first error, printed from the log). _latex/ holds the PDF's own LaTeX (backpropderived.sty)
# and a stand-in for bbm.sty, which jupyterBook.cls loads but Debian ships only in the 500 MB
# texlive-fonts-extra.
TEX_PACKAGES := texlive-xetex texlive-latex-extra texlive-fonts-recommended latexmk xindy \
	fonts-freefont-otf fonts-dejavu-core
PDF_FLAGS := -W -n --keep-going --builder pdflatex

pdf: setup
	@command -v xelatex >/dev/null && command -v latexmk >/dev/null && command -v xindy >/dev/null \
		&& fc-list -q FreeSerif && fc-list -q "DejaVu Sans Mono" || { \
		echo "make pdf needs TeX and fonts from Debian's packages; install them with:"; \
		echo "  sudo apt-get install -y --no-install-recommends $(TEX_PACKAGES)"; exit 1; }
	rm -rf _build/latex _build/.doctrees
	LATEXMKOPTS=-silent LATEXOPTS=-halt-on-error $(BIN)/jupyter-book build . $(PDF_FLAGS) || { \
		grep -s -A6 '^!' _build/latex/backprop-derived.log; exit 1; }
	test -s _build/latex/backprop-derived.pdf
	@echo "The PDF is at $(CURDIR)/_build/latex/backprop-derived.pdf"

# Checks of the built PDF with poppler-utils (after make pdf)
pdf-check: setup
	$(BIN)/pytest tests -m pdf -q

browser: setup
	$(BIN)/pytest tests -m browser -q

# Every chapter opened in JupyterLab in headless Chromium (after the book build: it compares figures)
jupyterlab: setup
	$(BIN)/pytest tests -m jupyterlab -q

lab: setup
	$(BIN)/jupyter lab --ServerApp.root_dir=chapters \
		--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate

reading: setup
	cd tests && ../$(BIN)/python reading_stats.py

execute: setup
	$(BIN)/python tests/run_notebooks.py $(NB)

# The PDF before the HTML book: the welcome page links the PDF, which the build copies into the site.
test: lint unit nbval pdf pdf-check book browser jupyterlab

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
