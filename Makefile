# flashpipe — see README.md. Every target installs what it needs.
GO      ?= go
BIN     := bin/flashpipe
PKGS    := ./...

.PHONY: all build test lint deps demo bench e2e validate-examples fuzz package package-check clean

all: build

# The version is git describe of the tree (the last v* tag, commits since it and the
# commit; "-dirty" with uncommitted changes); flashpipe version prints it.
VERSION ?= $(shell git describe --tags --match 'v[0-9]*' --always --dirty 2>/dev/null || echo devel)
COMMIT  ?= $(shell git rev-parse HEAD 2>/dev/null || echo unknown)
LDFLAGS := -X main.version=$(VERSION) -X main.commit=$(COMMIT)

build:
	$(GO) build -ldflags "$(LDFLAGS)" -o $(BIN) ./cmd/flashpipe

# The README's test command: installs the oracles (fsck.fat, fsck.exfat,
# mtools, sgdisk, ...), then runs every test, lint and the examples check.
test: deps lint validate-examples
	$(GO) test -count=1 -timeout 30m $(PKGS)

deps:
	@bash scripts/deps.sh

# Every fuzz target in the tree (found by scripts/fuzz.sh, not listed
# here), each for FUZZTIME. CI runs a short pass: make fuzz FUZZTIME=5s.
FUZZTIME ?= 30s
fuzz:
	@GO=$(GO) FUZZTIME=$(FUZZTIME) bash scripts/fuzz.sh

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) vet $(PKGS)

validate-examples: build
	$(BIN) validate examples/*.hcl
	$(BIN) fmt -check examples/

# The README's run command for a newcomer: three virtual sticks, no root.
demo:
	$(GO) run ./cmd/flashpipe demo

bench: deps
	bash bench/run.sh

e2e:
	bash e2e/run.sh

# Debian packages for amd64 and arm64 in dist/ (scripts/package.sh), and
# CI's checks of them (scripts/package-check.sh: lintian, dpkg -i, the
# unit, the arm64 binary under qemu); package-check installs the package.
package:
	@GO=$(GO) bash scripts/package.sh

package-check:
	bash scripts/package-check.sh

clean:
	rm -rf bin dist
