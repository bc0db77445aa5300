# gantry: `make demo` shows it working, `make test` sets up and runs every test.
GO      ?= go
# Static: one file to install, and no dynamic loader at every start (each
# container start runs the binary twice, as runtime and as init).
TAGS    := seccomp netgo osusergo
BIN     := bin/gantry
VERSION := $(shell git describe --always --dirty 2>/dev/null || echo dev)
# Code and read-only data start on 2 MB boundaries (max-page-size), so that
# all of them can be mapped with huge page entries (see build).
LDFLAGS := -s -w -X github.com/gantry-dev/gantry/internal/cli.Version=$(VERSION) -linkmode external -extldflags '-static -Wl,-z,max-page-size=0x200000'

.PHONY: build deps demo test unit bench clean

# The linked binary is then written again in one write: the page cache keeps
# it in 2 MB folios, which the kernel maps with huge page entries, so each
# start (a command, a shim, a container's init) faults its code in a few
# times instead of hundreds (the linker's writes leave 4 KB pages). It lasts
# while the file stays cached; a cold read brings small pages back.
build:
	CGO_ENABLED=1 $(GO) build -tags '$(TAGS)' -trimpath -ldflags "$(LDFLAGS)" -o $(BIN).link ./cmd/gantry
	dd if=$(BIN).link of=$(BIN).new bs=64M iflag=fullblock status=none
	chmod 755 $(BIN).new && mv -f $(BIN).new $(BIN) && rm -f $(BIN).link

# Debian packages the build, the tests and the demo need, installed when missing.
deps:
	@scripts/install-deps.sh

demo: deps build
	@scripts/demo.sh

test: deps build
	$(GO) vet -tags '$(TAGS)' ./...
	GANTRY_BIN=$(CURDIR)/$(BIN) $(GO) test -tags '$(TAGS)' -count=1 -timeout 20m ./...

bench: deps build
	@bench/runtime.sh
	@if docker -H unix:///var/run/docker.sock version >/dev/null 2>&1; then \
		bench/engine.sh -w run -w detach -w exec -w ps50 -w publish && bench/build.sh && bench/ops.sh && bench/housekeeping.sh && bench/images.sh; \
	else echo "the engine, build, ops and image benchmarks compare with Docker and Podman: run ../shared/bench/peers.sh first"; fi

clean:
	rm -rf bin
