package postgres

import "testing"

func TestNextPage(t *testing.T) {
	for _, tt := range []struct{ rows, bytes, want int }{
		{500, 500 * 274, maxPage}, // small documents: the most rows
		{500, 500 * 1000, 2097},   // 1 kB: about pageBytes
		{500, 500 << 20, minPage}, // 1 MiB: the fewest rows
		{10, 10 * 100_000, 20},    // 100 kB
		{1000, 1000, maxPage},     // one-byte documents
		{0, 0, maxPage},           // nothing read yet
		{500, 0, maxPage},         // empty documents cannot occur, but must not divide by zero
	} {
		if got := nextPage(tt.rows, tt.bytes); got != tt.want {
			t.Errorf("nextPage(%d, %d) = %d, want %d", tt.rows, tt.bytes, got, tt.want)
		}
	}
}
