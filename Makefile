# xbuf's front door.  `make test` on a fresh machine sets everything up
# (scripts/bootstrap.sh), builds, and runs every test; re-running it only
# rebuilds what changed.
#
#   make          build the library, examples, tests and benchmarks
#   make demo     build and run the example exporters' demo, and hand one C
#                 buffer to NumPy, PyTorch and pyarrow (examples/interop.py)
#   make test     C tests, Python tests, exported-symbol check, install
#                 checks (meson install, pip install .), then the whole C
#                 suite again under ASan + UBSan, and the whole Python suite
#                 against an ASan + UBSan build of the extension
#   make bench    run the benchmark programs: protocol; format vs NumPy and
#                 struct; copy engine vs memcpy; copy and compare vs NumPy
#                 and memoryview (ctypes); xbuf.View vs memoryview and NumPy
#   make fuzz     libFuzzer + ASan + UBSan on each fuzz target for
#                 FUZZ_SECONDS (default 60) each; installs clang if missing
#   make tsan     ThreadSanitizer build of the threaded tests (not in CI)
#   make valgrind the C suite under valgrind memcheck: no errors, no leaks
#                 (8-13 minutes on two cores; not part of make test)
#   make clean    remove build directories; `make distclean` also .venv

VENV      := .venv
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)
MESON     := $(VENV)/bin/meson
PYTHON    := $(VENV)/bin/python
BUILD     := build
ASAN      := build-asan
TSAN      := build-tsan
BOOTSTRAP := $(VENV)/.requirements-installed

.PHONY: all build demo test test-c test-python test-install test-asan bench tsan \
        setup clean distclean fuzz fuzz-build fuzz-setup

all: build

setup: $(BOOTSTRAP)

# Runs every time: it checks the Debian packages (cheap) and reinstalls the
# venv only when requirements-dev.txt changed.
$(BOOTSTRAP): requirements-dev.txt scripts/bootstrap.sh FORCE
	@scripts/bootstrap.sh
FORCE:

$(BUILD)/build.ninja: | $(BOOTSTRAP)
	$(MESON) setup $(BUILD) --buildtype=debugoptimized

build: $(BOOTSTRAP) $(BUILD)/build.ninja
	$(MESON) compile -C $(BUILD)
	@scripts/link_python.sh $(BUILD)

demo: build
	$(BUILD)/examples/xbuf-demo
	PYTHONPATH=$(BUILD)/examples $(PYTHON) examples/interop.py

test: test-c test-python test-install test-asan test-asan-python
	@echo "make test: all suites passed"

test-c: build
	$(MESON) test -C $(BUILD) --print-errorlogs

# pytest exits 5 when it collected nothing; that is not a failure here.
test-python: build
	XBUF_LIB=$(CURDIR)/$(BUILD)/src/libxbuf.so $(PYTHON) -m pytest tests/python -q \
	    || { rc=$$?; [ $$rc -eq 5 ] && echo "no Python tests collected" || exit $$rc; }

test-install: build
	tests/install_check.sh $(BUILD)
	tests/pip_install_check.sh

$(ASAN)/build.ninja: | $(BOOTSTRAP)
	$(MESON) setup $(ASAN) --buildtype=debug -Db_sanitize=address,undefined \
	    -Db_lundef=false -Dbench=false -Dpython=disabled -Dc_args=-fno-sanitize-recover=all

test-asan: $(BOOTSTRAP) $(ASAN)/build.ninja
	$(MESON) compile -C $(ASAN)
	$(MESON) test -C $(ASAN) --print-errorlogs --wrapper $(CURDIR)/tests/sanitizer_wrapper.sh

bench: build
	$(BUILD)/bench/bench-protocol
	$(PYTHON) bench/bench_format.py $(BUILD)/bench/bench-format
	$(BUILD)/bench/bench-copy
	XBUF_LIB=$(CURDIR)/$(BUILD)/src/libxbuf.so $(PYTHON) bench/bench_copy.py
	$(PYTHON) bench/bench_view.py

$(TSAN)/build.ninja: | $(BOOTSTRAP)
	$(MESON) setup $(TSAN) --buildtype=debug -Db_sanitize=thread -Db_lundef=false \
	    -Dbench=false -Dpython=disabled

# setarch -R: TSan's memory layout needs ASLR off on recent kernels.
# halt_on_error: the first race report ends the run with TSan's exit code.
TSAN_RUN := setarch "$$(uname -m)" -R env TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1"

tsan: $(BOOTSTRAP) $(TSAN)/build.ninja
	$(MESON) compile -C $(TSAN) --ninja-args=tests/c/thread_exports,tests/c/thread_views
	$(TSAN_RUN) $(TSAN)/tests/c/thread_exports
	$(TSAN_RUN) $(TSAN)/tests/c/thread_views

# ---- sanitizers over Python, valgrind -----------------------------------
# test-asan-python: the extension, libxbuf and the example module built
# with ASan + UBSan, and the whole Python suite run against them
# (scripts/asan_python.sh preloads the sanitizer runtimes into the
# uninstrumented interpreter; leak checking is off, since CPython, NumPy and
# torch keep memory until exit).  Every test file runs; the one exception
# in effect is the interop example test's subprocess, which sets its own
# PYTHONPATH and so imports xbuf from $(BUILD) (hence the dependency on
# build) -- its sample module and libxbuf are still the instrumented ones.
ASAN_PY  := build-asan-py
VALGRIND := build-valgrind
.PHONY: test-asan-python valgrind

$(ASAN_PY)/build.ninja: | $(BOOTSTRAP)
	$(MESON) setup $(ASAN_PY) --buildtype=debug -Db_sanitize=address,undefined \
	    -Db_lundef=false -Dtests=false -Dbench=false -Dtools=false -Dexamples=true \
	    -Dpython=enabled -Dc_args=-fno-sanitize-recover=all

test-asan-python: build $(ASAN_PY)/build.ninja
	$(MESON) compile -C $(ASAN_PY)
	scripts/asan_python.sh $(ASAN_PY) tests/python -q

# valgrind: the C suite (Criterion programs, thread tests, the CLI and
# fuzz-corpus tests) built without sanitizers and run under memcheck, two
# at a time; scripts/valgrind_wrapper.sh fails a test on any error or any
# block definitely or indirectly lost, in any of its processes.
$(VALGRIND)/build.ninja: | $(BOOTSTRAP)
	$(MESON) setup $(VALGRIND) --buildtype=debug -Dbench=false -Dpython=disabled

valgrind: $(BOOTSTRAP) $(VALGRIND)/build.ninja
	@command -v valgrind >/dev/null || scripts/install_valgrind.sh
	$(MESON) compile -C $(VALGRIND)
	rm -rf $(VALGRIND)/valgrind-logs
	VALGRIND_LOGS=$(CURDIR)/$(VALGRIND)/valgrind-logs VALGRIND_BUILD=$(CURDIR)/$(VALGRIND) \
	    THREAD_VIEWS_ITERATIONS=200 \
	    $(MESON) test -C $(VALGRIND) --print-errorlogs --num-processes 2 \
	    --timeout-multiplier 20 --wrapper $(CURDIR)/scripts/valgrind_wrapper.sh
	@scripts/valgrind_summary.sh $(VALGRIND)/valgrind-logs $(CURDIR)/$(VALGRIND)

# ---- fuzzing ------------------------------------------------------------
# clang compiles the library's sources straight into each target, all of
# them instrumented.  New corpus entries go to $(FUZZ)/corpus/NAME (the
# committed seeds in fuzz/corpus/NAME are only read), crashes to
# $(FUZZ)/artifacts/.  A finding stops the run with libFuzzer's report.
FUZZ         := build-fuzz
FUZZ_SECONDS ?= 60
FUZZ_TARGETS := format mview dlpack arrow
FUZZ_CC      ?= clang
FUZZ_CFLAGS  := -std=c11 -g -O1 -fno-omit-frame-pointer \
                -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
                -Wall -Wextra -Wpedantic -Wconversion -Wshadow -Wno-sign-conversion \
                -D_POSIX_C_SOURCE=200809L -DXBUF_BUILDING -DXBUF_DEBUG -Iinclude -Isrc
FUZZ_DEPS    := $(wildcard src/*.c src/*.h include/*.h include/xbuf/*.h) fuzz/fuzz_common.h

fuzz-setup:
	@fuzz/bootstrap.sh

$(FUZZ)/fuzz_%: fuzz/fuzz_%.c $(FUZZ_DEPS) | fuzz-setup
	@mkdir -p $(FUZZ)
	$(FUZZ_CC) $(FUZZ_CFLAGS) $< $(wildcard src/*.c) -o $@

fuzz-build: $(FUZZ_TARGETS:%=$(FUZZ)/fuzz_%)

fuzz: fuzz-build
	@for t in $(FUZZ_TARGETS); do fuzz/run.sh $$t $(FUZZ_SECONDS) $(FUZZ) || exit 1; done

clean:
	rm -rf $(BUILD) $(ASAN) $(TSAN) $(FUZZ) $(ASAN_PY) $(VALGRIND)

distclean: clean
	rm -rf $(VENV)
