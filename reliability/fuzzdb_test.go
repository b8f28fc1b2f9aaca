package reliability_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/persistkit/persist"
)

// sharedDB is one SQLite file that a fuzz target reuses across executions,
// opened on first use: opening a database per input would make opening, not
// the code under test, what the fuzzer measures. reset starts a new file,
// for targets that let the schema grow.
type sharedDB struct {
	name  string
	setup func(ctx context.Context, db persist.DB) (tables []string, err error)

	mu     sync.Mutex
	dir    string
	db     persist.DB
	gen    int
	tables map[string]bool // tables the current file may hold
}

var (
	identDB = &sharedDB{name: "ident", setup: setupIdentDB}
	docDB   = &sharedDB{name: "doc", setup: setupDocDB}
)

// closeFuzzDBs releases the shared DBs; TestMain calls it before the leak
// check.
func closeFuzzDBs() {
	for _, s := range []*sharedDB{identDB, docDB} {
		s.mu.Lock()
		s.closeLocked()
		if s.dir != "" {
			os.RemoveAll(s.dir)
			s.dir = ""
		}
		s.mu.Unlock()
	}
}

// get returns the open DB, opening (and setting up) a new file if needed.
func (s *sharedDB) get(tb testing.TB) persist.DB {
	tb.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.db != nil {
		return s.db
	}
	if s.dir == "" {
		dir, err := os.MkdirTemp("", "persist-fuzz-"+s.name+"-")
		if err != nil {
			tb.Fatal(err)
		}
		s.dir = dir
	}
	s.gen++
	path := filepath.Join(s.dir, fmt.Sprintf("%s-%d.db", s.name, s.gen))
	ctx := context.Background()
	db, err := persist.Open(ctx, sqliteURL(path), nil)
	if err != nil {
		tb.Fatalf("open shared fuzz DB %s: %v", path, err)
	}
	names, err := s.setup(ctx, db)
	if err != nil {
		db.Close()
		tb.Fatalf("set up shared fuzz DB %s: %v", path, err)
	}
	s.tables = map[string]bool{}
	for _, n := range names {
		s.tables[n] = true
	}
	s.db = db
	return db
}

// reset closes and deletes the current file; the next get opens a new one.
func (s *sharedDB) reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closeLocked()
}

func (s *sharedDB) closeLocked() {
	if s.db == nil {
		return
	}
	s.db.Close()
	s.db = nil
	path := filepath.Join(s.dir, fmt.Sprintf("%s-%d.db", s.name, s.gen))
	for _, suffix := range []string{"", "-wal", "-shm", "-journal"} {
		os.Remove(path + suffix)
	}
}
