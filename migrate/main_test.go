package migrate_test

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package if a test leaves a goroutine running: Copy
// starts a reader and a checker per table (or two scanners), and every
// one must end, also when the copy fails or is cancelled.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
