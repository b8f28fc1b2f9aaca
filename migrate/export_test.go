package migrate

import (
	"context"

	"github.com/persistkit/persist"
)

// CopyByListing is Copy verifying as for a target that cannot look records
// up by id (not a persist.Batcher): by listing both sides in id order after
// the copy, so tests cover both ways.
func CopyByListing(ctx context.Context, src, dst persist.DB, opts *Options) (*Report, error) {
	return copyDB(ctx, src, dst, opts, hooks{noLookup: true})
}

// CopyByID is Copy looking every written batch up by id, as it does when
// the target table was not empty, instead of reading it back in order.
func CopyByID(ctx context.Context, src, dst persist.DB, opts *Options) (*Report, error) {
	return copyDB(ctx, src, dst, opts, hooks{noTail: true})
}
