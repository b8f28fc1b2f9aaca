package sqlite

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// createFile creates the database file and its directory with owner-only
// permissions before SQLite sees them, because SQLite would create the file
// with 0644 less the umask. It reports whether the file is new.
func createFile(path string) (bool, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return false, err
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if err := f.Close(); err != nil {
		return true, err
	}
	// The umask may have removed bits from 0600; set them exactly.
	return true, os.Chmod(path, 0o600)
}

// chmodFiles gives a new database's WAL and shared-memory files the
// database's own 0600, whatever the umask.
func chmodFiles(path string) error {
	for _, p := range []string{path, path + "-wal", path + "-shm"} {
		if err := os.Chmod(p, 0o600); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
	}
	return nil
}

// escapePath makes a file path safe inside a file: URI, where '?' starts
// the query, '#' the fragment and '%' an escape.
var pathEscaper = strings.NewReplacer("%", "%25", "?", "%3f", "#", "%23")

func escapePath(path string) string {
	if strings.HasPrefix(path, "//") {
		// "file://x" would read x as a host.
		path = "/" + strings.TrimLeft(path, "/")
	}
	return pathEscaper.Replace(path)
}
