package reliability_test

import (
	"os"
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the run when any test leaves a goroutine behind. The DBs
// the fuzz targets share for the whole process are closed first, since they
// are meant to outlive every single test.
func TestMain(m *testing.M) {
	if os.Getenv(envCrashChild) != "" {
		// The crash child is killed mid-write; a leak check would never run.
		os.Exit(m.Run())
	}
	goleak.VerifyTestMain(cleanupM{m})
}

// cleanupM runs the tests, then releases what the fuzz targets shared.
type cleanupM struct{ m *testing.M }

func (c cleanupM) Run() int {
	code := c.m.Run()
	closeFuzzDBs()
	return code
}
