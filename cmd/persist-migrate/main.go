// Command persist-migrate copies the tables of one persist database into
// another, SQLite to PostgreSQL or back, verifies every record by digest and
// prints a JSON report. Run it with --help for the flags and exit codes.
package main

import (
	"os"

	_ "github.com/persistkit/persist/postgres"
	_ "github.com/persistkit/persist/sqlite"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}
