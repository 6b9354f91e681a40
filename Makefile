# Each target is one go command; see README.md.
GO ?= go
BIN := bin
# Release build: static (without cgo there is no dynamic loader or libc to
# start on every run, and the binary runs on any Linux), no local paths, no
# symbol table or DWARF.
# The version -version prints is the one go build records from git (the
# tag, or a pseudo-version with the revision), as go install's is.
RELEASE_BUILD := CGO_ENABLED=0 $(GO) build -trimpath -ldflags='-s -w'

.PHONY: build test lint fuzz demo bench e2e mutate clean

build:
	$(RELEASE_BUILD) -o $(BIN)/ ./cmd/...

test: lint
	$(GO) test -race -count=1 ./...

# lint also builds, vets and checks the code for macOS (darwin), where Run
# works too; staticcheck itself is built for this machine (go tool -n).
# Functions that only tests call, which deadcode (without -test) reports:
# helpers that exist for the tests of other packages, and packages that
# only tests import.
DEADCODE_ALLOWED := ^(internal/poll/poll.go:.*: Until|locate/locatetest/locatetest.go:.*: (Start|Server.Requests|Server.Inject)|internal/(docblock|metrics/metricstest)/[a-z]+\.go:.*)$$

lint:
	bash .ci/check-tracked
	test -z "$$(gofmt -l .)" || { gofmt -l .; exit 1; }
	$(GO) mod tidy -diff
	$(GO) -C e2e mod tidy -diff
	$(GO) vet ./...
	$(GO) tool staticcheck ./...
	@dead=$$($(GO) tool deadcode ./... | grep -v -E "$(DEADCODE_ALLOWED)"); test -z "$$dead" || { echo "unreachable code (deadcode):"; echo "$$dead"; exit 1; }
	$(GO) -C e2e vet ./...
	$(GO) -C e2e tool staticcheck ./...
	GOOS=darwin GOARCH=arm64 $(GO) build ./...
	GOOS=darwin GOARCH=amd64 $(GO) vet ./...
	GOOS=darwin GOARCH=arm64 $$($(GO) tool -n staticcheck) ./...

# The emulator makes a throwaway key, hands LOCATE_URL and
# MONITORING_SIGNER_KEY to monitoring-token, and stops when it exits.
demo: build
	$(BIN)/locate-emulator -- $(BIN)/monitoring-token -logx.debug -machine=mlab1-lga01.mlab-oti.measurement-lab.org -- sh -c 'echo "the command got MONITORING_URL=$${MONITORING_URL%%access_token=*}access_token=(locate'"'"'s token, not shown)"'

fuzz:
	$(GO) test -run='^$$' -fuzz=FuzzNewSigner -fuzztime=30s -fuzzminimizetime=5s ./token/
	$(GO) test -run='^$$' -fuzz=FuzzParseAnswer -fuzztime=30s -fuzzminimizetime=5s ./locate/

# Cost figures (see bench/README.md); informational, never part of test.
bench:
	$(RELEASE_BUILD) -o $(BIN)/ ./cmd/... ./bench/floor
	$(GO) test -run='^$$' -bench=. -benchmem ./token/ ./locate/ ./exec/ ./internal/cache/ ./internal/metrics/
	$(GO) run ./bench/wholerun -n 200 -monitoring-token $(BIN)/monitoring-token -floor $(BIN)/floor

# End to end with the real ndt7-client, ndt-server and node_exporter on
# loopback (e2e/ is a module of its own), and the docs' alerting rules
# checked by Prometheus's own packages (e2e/alerts, another module).
# ndt-server needs cgo: the first step says what is missing (gcc, the C
# library's and Linux's headers) and how to install it, and installs
# nothing. -count=1: the tests build the binaries themselves, which go
# test's cache cannot see.
e2e:
	$(GO) -C e2e run ./prerequisites
	$(GO) -C e2e test -count=1 -timeout=30m ./...
	$(GO) -C e2e/alerts vet ./...
	$(GO) -C e2e/alerts test -count=1 -timeout=30m ./...

# Mutation testing with go-gremlins, run from the module proxy so that it
# stays out of go.mod; slow, never part of test. One package per run, so a
# mutant is tested by its own package's tests. Coverage is counted in the
# test process only: code that runs only in a re-executed test binary (exec
# Die) shows as NOT COVERED. One worker and a generous timeout (a multiple
# of the coverage run, build included) on a shared 2-core machine; -count=1
# keeps that coverage run out of the test cache, whose ~0.1 s would time out
# every mutant.
GREMLINS := GOFLAGS=-count=1 $(GO) run github.com/go-gremlins/gremlins/cmd/gremlins@v0.6.0 unleash --workers 1 --timeout-coefficient 10
mutate:
	$(GREMLINS) ./token
	$(GREMLINS) ./locate
	$(GREMLINS) ./exec

clean:
	rm -rf $(BIN)
