# make test is the one test command: the README names it and CI runs it.

STATICCHECK_VERSION := v0.8.2
GOBIN := $(shell go env GOPATH)/bin
FUZZTIME ?= 10s

.PHONY: test vet staticcheck unit fuzz bench

test: vet staticcheck unit

vet:
	test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); echo 'gofmt: files above need formatting'; exit 1; }
	go vet ./...

# ./... leaves out testdata/, so the deliberate SA1019 call in
# testdata/sa1019 (the proof that the deprecated wrapper is flagged, checked
# by TestSyncStoreDeprecated) is excluded explicitly by where it lives.
staticcheck:
	test -x $(GOBIN)/staticcheck || go install honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION)
	$(GOBIN)/staticcheck ./...

# Postgres is provisioned first, so the Postgres half runs too; with CI=true
# a Postgres test never skips.
unit:
	PERSIST_TEST_POSTGRES="$$(scripts/test-postgres.sh)" go test -race -count=1 -timeout 30m ./...

# Each fuzz target for FUZZTIME, after the unit tests; then the
# differential test of queries with 20 times its usual number of cases.
fuzz:
	scripts/fuzz.sh $(FUZZTIME)
	PERSIST_FIND_CASES=20000 go test -count=1 -timeout 60m -run 'TestConformance/.*/Find/Differential' ./sqlite/
	PERSIST_FIND_CASES=20000 PERSIST_TEST_POSTGRES="$$(scripts/test-postgres.sh)" go test -count=1 -timeout 60m -run 'TestConformance/Find/Differential' ./postgres/

bench:
	PERSIST_TEST_POSTGRES="$$(scripts/test-postgres.sh)" go test -run '^$$' -bench . -benchtime 2s ./sqlite/ ./postgres/
