package migrate

import (
	"context"

	"github.com/persistkit/persist"
)

// CopyListingSourceAgain is Copy with the source listed again after the
// copy for verification instead of spooled during it, so tests cover both
// paths.
func CopyListingSourceAgain(ctx context.Context, src, dst persist.DB, opts *Options) (*Report, error) {
	return copyDB(ctx, src, dst, opts, hooks{noSpool: true})
}

// CopyInSmallRuns is Copy with the spool sorted in runs of a few records,
// so that verification merges many runs.
func CopyInSmallRuns(ctx context.Context, src, dst persist.DB, opts *Options) (*Report, error) {
	return copyDB(ctx, src, dst, opts, hooks{runEntries: 97})
}
