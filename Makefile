# The two commands of the README: `make run` and `make test`. Both install what is missing
# (Debian packages through scripts/install-deps.sh), build, and go.
SHELL := /bin/bash
JOBS ?= $(shell nproc)
BUILD ?= build
ASAN_BUILD ?= build-asan
# ccache, when the machine has it, makes rebuilds of unchanged sources free (nothing requires it).
LAUNCHER := $(if $(shell command -v ccache),-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
# -g1 (line tables, enough for backtraces, perf and ASan reports) rather than -g: full debug info
# is a fifth of every compile, and `make test` compiles ~280 translation units twice.
CMAKE_FLAGS ?= -DCMAKE_BUILD_TYPE=RelWithDebInfo '-DCMAKE_CXX_FLAGS_RELWITHDEBINFO=-O2 -g1 -DNDEBUG' \
  $(LAUNCHER)

.PHONY: all deps build run test test-fast test-asan test-fuzz fuzz bench format clean image

all: build

deps:
	./scripts/install-deps.sh build

build: deps
	cmake -S . -B $(BUILD) $(CMAKE_FLAGS) -DSWITCHYARD_TESTS=OFF -DSWITCHYARD_BENCH=ON >/dev/null
	cmake --build $(BUILD) -j$(JOBS) --target switchyard mock-llm

# Starts the gateway on :8080 with config/switchyard.yaml. Without OPENAI_API_KEY it serves
# from the bundled mock LLM, so the README's examples work offline.
run: build
	./scripts/run.sh $(BUILD)

# Every test: unit, integration and end-to-end (official openai npm SDK) with warnings as
# errors, then unit and integration again under AddressSanitizer + UBSan, then every libFuzzer
# target for a bounded time.
test: test-fast test-asan test-fuzz

test-fast:
	./scripts/install-deps.sh test
	cmake -S . -B $(BUILD) $(CMAKE_FLAGS) -DSWITCHYARD_TESTS=ON -DSWITCHYARD_WERROR=ON >/dev/null
	cmake --build $(BUILD) -j$(JOBS)
	cd $(BUILD) && ctest --output-on-failure --timeout 300 -j$(JOBS)

test-asan:
	./scripts/install-deps.sh test
	cmake -S . -B $(ASAN_BUILD) -DCMAKE_BUILD_TYPE=Debug -DCMAKE_CXX_FLAGS_DEBUG=-g1 -DSWITCHYARD_TESTS=ON $(LAUNCHER) \
	  -DSWITCHYARD_WERROR=ON -DSWITCHYARD_SANITIZE=ON >/dev/null
	cmake --build $(ASAN_BUILD) -j$(JOBS) --target unit_tests integration_tests switchyard mock-llm
	cd $(ASAN_BUILD) && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
	  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	  ctest --output-on-failure --timeout 300 -L 'unit|integration' -j$(JOBS)

# libFuzzer targets (clang, ASan + UBSan): FUZZ_SECONDS each in `make test`, as long as you
# like with `make fuzz FUZZ_SECONDS=3600`.
FUZZ_SECONDS ?= 600
test-fuzz:
	./scripts/install-deps.sh fuzz
	JOBS=$(JOBS) ./scripts/fuzz.sh 20

fuzz:
	./scripts/install-deps.sh fuzz
	JOBS=$(JOBS) ./scripts/fuzz.sh $(FUZZ_SECONDS)

# Gateway vs nginx vs the mock directly, on loopback; writes bench/RESULTS.md.
bench:
	./scripts/install-deps.sh bench
	cmake -S . -B $(BUILD) $(CMAKE_FLAGS) >/dev/null
	cmake --build $(BUILD) -j$(JOBS)
	./bench/run.sh

format:
	clang-format -i $$(git ls-files '*.cpp' '*.hpp')

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) build-fuzz

# The container image (Containerfile) with podman, else docker; IMAGE=name:tag to rename it.
# Containers cannot be built everywhere (no engine, or one that cannot run builds): then it says so.
IMAGE ?= switchyard:$(shell grep -m1 -o 'switchyard VERSION [0-9.]*' CMakeLists.txt | cut -d' ' -f3)
image:
	@engine=$$(command -v podman || command -v docker || true); \
	if [[ -z $$engine ]]; then \
	  echo "make image: neither podman nor docker is installed, cannot build $(IMAGE) here"; exit 1; fi; \
	if ! $$engine info >/dev/null 2>&1; then \
	  echo "make image: $$engine is installed but cannot build here ($$engine info fails)"; exit 1; fi; \
	echo "$$engine build -f Containerfile -t $(IMAGE) ."; \
	$$engine build -f Containerfile -t $(IMAGE) .
