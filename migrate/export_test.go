package migrate

import (
	"context"

	"github.com/persistkit/persist"
)

// CopyByListing is Copy verifying by listing both sides in id order after
// the copy, instead of batch by batch during it, so tests cover both ways.
func CopyByListing(ctx context.Context, src, dst persist.DB, opts *Options) (*Report, error) {
	return copyDB(ctx, src, dst, opts, hooks{noLookup: true})
}

// CopyByID is Copy looking every written batch up by id, as it does when
// the target table was not empty, instead of reading it back in order.
func CopyByID(ctx context.Context, src, dst persist.DB, opts *Options) (*Report, error) {
	return copyDB(ctx, src, dst, opts, hooks{noTail: true})
}

// CopyStarting is Copy calling started as each table's migration starts,
// on the goroutine migrating it.
func CopyStarting(ctx context.Context, src, dst persist.DB, opts *Options, started func(table string)) (*Report, error) {
	return copyDB(ctx, src, dst, opts, hooks{started: started})
}
