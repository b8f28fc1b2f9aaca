// Package doccheck holds no code, only a test: it parses every package of
// the module and fails when an exported identifier lacks a doc comment
// starting with its name, or when a package lacks a package comment. The
// rules live in a test so that `go test ./...` enforces them without a
// separate linter.
package doccheck
