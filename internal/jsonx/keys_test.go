package jsonx_test

import (
	"bytes"
	"fmt"
	"strconv"
	"testing"

	"github.com/persistkit/persist/internal/jsonx"
)

// manyKeys returns an object with n distinct top-level keys, about 19 bytes
// a member, as a request body of that many fields would be.
func manyKeys(n int) []byte {
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

// keyCounts are the sizes the growth benchmarks compare: each four times
// the previous, so linear work grows by 4 and quadratic work by 16.
var keyCounts = []int{12_500, 50_000, 200_000}

// BenchmarkCompactObjectKeys shows how the SQLite write path's duplicate
// check grows with the number of top-level keys.
func BenchmarkCompactObjectKeys(b *testing.B) {
	for _, n := range keyCounts {
		doc := manyKeys(n)
		b.Run("keys="+strconv.Itoa(n), func(b *testing.B) {
			b.SetBytes(int64(len(doc)))
			for b.Loop() {
				if _, err := jsonx.CompactObject(doc); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkMergeKeys is Update's merge of a patch with as many keys as the
// stored document, half of them new.
func BenchmarkMergeKeys(b *testing.B) {
	for _, n := range keyCounts {
		doc, patch := manyKeys(n), manyKeys(n+n/2)
		b.Run("keys="+strconv.Itoa(n), func(b *testing.B) {
			b.SetBytes(int64(len(doc) + len(patch)))
			for b.Loop() {
				if _, err := jsonx.Merge(doc, patch); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// TestCompactObjectManyKeys checks that large objects, which take the set
// rather than the pairwise comparison, resolve duplicates exactly as small
// ones do: last value, at the place the key first appears, with keys
// compared after decoding escapes.
func TestCompactObjectManyKeys(t *testing.T) {
	for _, n := range []int{16, 17, 100} {
		unique := manyKeys(n)
		got, err := jsonx.CompactObject(unique)
		if err != nil || !bytes.Equal(got, unique) {
			t.Fatalf("CompactObject(%d distinct keys) = %.80s, %v; want the input", n, got, err)
		}
		// The last member repeats the first key, spelled with an escape.
		dup := append(bytes.Clone(unique[:len(unique)-1]), `,"\u0066ield_0000000":"last"}`...)
		got, err = jsonx.CompactObject(dup)
		if err != nil {
			t.Fatal(err)
		}
		want := append([]byte(`{"field_0000000":"last"`), unique[len(`{"field_0000000":0`):]...)
		if !bytes.Equal(got, want) {
			t.Fatalf("CompactObject(%d keys, first repeated last) = %.80s..., want %.80s...", n+1, got, want)
		}
	}
}
