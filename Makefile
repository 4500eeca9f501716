# Two commands on a fresh machine: `make demo` and `make test`. Both install into .venv first.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
DEMO_OUT ?= demo-output

.PHONY: install demo test lint bench clean browser fuzz

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 10))' || \
		{ echo "layeredit needs Python 3.10 or newer (found $$($(PYTHON) --version))"; exit 1; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	# llama-cpp-python builds from source for minutes; a prebuilt wheel beside the checkout is used first.
	if ls ../shared/wheels/llama_cpp_python-*.whl >/dev/null 2>&1; then \
		$(BIN)/python -m pip install --quiet ../shared/wheels/llama_cpp_python-*.whl; fi
	$(BIN)/python -m pip install --quiet -e '.[dev,agent,server,layers,original,ray,segment,llm-local]'
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	mkdir -p $(DEMO_OUT)
	$(BIN)/layeredit edit layeredit/samples/soccer/image.jpg \
		"move the boy to the left and make it bigger" \
		--mask boy=layeredit/samples/soccer/boy.jpg \
		-o $(DEMO_OUT)/soccer.png --save-layers $(DEMO_OUT)/soccer-layers --overwrite
	$(BIN)/layeredit edit layeredit/samples/pikachu/image.jpg \
		"remove the sunglasses and the apple" \
		--mask sunglasses=layeredit/samples/pikachu/sunglasses.jpg \
		--mask apple=layeredit/samples/pikachu/apple.jpg \
		-o $(DEMO_OUT)/pikachu.png --overwrite
	@echo "Results: $(DEMO_OUT)/soccer.png, $(DEMO_OUT)/pikachu.png (layers in $(DEMO_OUT)/soccer-layers/)"

lint: $(STAMP)
	$(BIN)/ruff check layeredit tests bench

# The browser test drives Debian's chromium; install it when we can (root with apt-get), else it skips.
browser:
	@test -x /usr/bin/chromium || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null && \
		apt-get update -qq && apt-get install -y -qq chromium; } || \
		echo "chromium not installed (needs root and apt-get): the browser test will skip"

test: $(STAMP) lint browser
	$(BIN)/lint-imports
	$(BIN)/python -m pytest -q

# The property tests and Schemathesis at 20 times their example counts (about 4 minutes on 2 cores).
fuzz: $(STAMP)
	LAYEREDIT_FUZZ_SCALE=20 $(BIN)/python -m pytest -q --hypothesis-show-statistics \
		tests/test_admission_fuzz.py tests/test_admission_fuzz_files.py tests/test_server_schemathesis.py

bench: $(STAMP)
	$(BIN)/python bench/engine.py

clean:
	rm -rf $(VENV) $(DEMO_OUT) .pytest_cache
