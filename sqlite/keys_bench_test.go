package sqlite_test

import (
	"bytes"
	"context"
	"fmt"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/persistkit/persist"
	"github.com/persistkit/persist/sqlite"
)

// wideDoc returns an object with n top-level keys, about 19 bytes a member.
func wideDoc(n int) []byte {
	var b bytes.Buffer
	b.WriteByte('{')
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `"field_%07d":%d`, i, i)
	}
	b.WriteByte('}')
	return b.Bytes()
}

// BenchmarkPutKeys and BenchmarkUpdateKeys show how a write grows with the
// number of top-level keys: each size is four times the previous, so
// linear work grows by 4 per step and quadratic work by 16.
func BenchmarkPutKeys(b *testing.B) {
	for _, n := range []int{12_500, 50_000, 200_000} {
		doc := wideDoc(n)
		b.Run("keys="+strconv.Itoa(n), func(b *testing.B) {
			s := keysStore(b)
			b.SetBytes(int64(len(doc)))
			for b.Loop() {
				if _, err := s.Put(context.Background(), persist.Record{ID: "wide", Data: doc}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkUpdateKeys(b *testing.B) {
	for _, n := range []int{12_500, 50_000, 200_000} {
		patch := wideDoc(n)
		b.Run("keys="+strconv.Itoa(n), func(b *testing.B) {
			s := keysStore(b)
			if _, err := s.Put(context.Background(), persist.Record{ID: "wide", Data: []byte(`{"a":1}`)}); err != nil {
				b.Fatal(err)
			}
			b.SetBytes(int64(len(patch)))
			for b.Loop() {
				if _, err := s.Update(context.Background(), persist.Record{ID: "wide", Data: patch}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func keysStore(b *testing.B) persist.Store {
	b.Helper()
	db, err := sqlite.Open(context.Background(), filepath.Join(b.TempDir(), "keys.db"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() })
	s, err := db.Store("wide")
	if err != nil {
		b.Fatal(err)
	}
	return s
}
