package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/persistkit/persist"
)

// changeJSON is the data of a "change" event.
type changeJSON struct {
	Collection string `json:"collection"`
	ID         string `json:"id"`
	Op         string `json:"op"` // insert, update or delete
	Revision   int64  `json:"revision"`
}

// resetJSON is the data of a "reset" event.
type resetJSON struct {
	Reason string `json:"reason"`
}

// feedRetry is how long a follower waits before it resumes after the
// database could not be reached.
const feedRetry = time.Second

// follower streams the change feed of the portal's collections to one
// client. Each client reads the feed at its own pace from where it
// stands, so a slow client delays nobody and, until the feed is pruned,
// misses nothing: writes through every replica, and the earlier portal's
// own, are in the feed, in commit order.
type follower struct {
	feed persist.ChangeFeed
	opts *persist.FeedOptions
}

// cursor is the feed's present position, where a client that brings no
// Last-Event-ID starts.
func (f follower) cursor(ctx context.Context) (string, error) {
	return f.feed.Cursor(ctx, f.opts)
}

// run sends a "change" event for every change after cursor to out until
// ctx ends or the database closes. A cursor the feed refuses (pruned, or
// not one of this database's) is replaced by the present position, and a
// "reset" event tells the client it may have missed changes and should
// list again. When the database is briefly unreachable it resumes from
// the last change it sent, so nothing is lost or sent twice.
func (f follower) run(ctx context.Context, cursor string, out chan<- event) {
	for {
		var err error
		for c, cerr := range f.feed.Changes(ctx, cursor, &persist.FeedOptions{Tables: f.opts.Tables, Follow: true}) {
			if err = cerr; err != nil {
				break
			}
			data, _ := json.Marshal(changeJSON{Collection: c.Table, ID: c.ID, Op: c.Op.String(), Revision: c.Revision})
			if !send(ctx, out, event{name: "change", id: c.Cursor, data: data}) {
				return
			}
			cursor = c.Cursor
		}
		switch {
		case ctx.Err() != nil, errors.Is(err, persist.ErrClosed):
			return
		case errors.Is(err, persist.ErrCursorExpired), errors.Is(err, persist.ErrInvalid):
			fresh, cerr := f.cursor(ctx)
			if cerr != nil {
				return // the client reconnects with the cursor it has
			}
			reason := "the changes after Last-Event-ID are no longer kept"
			if errors.Is(err, persist.ErrInvalid) {
				reason = "Last-Event-ID is not a cursor of this portal"
			}
			data, _ := json.Marshal(resetJSON{Reason: reason})
			if !send(ctx, out, event{name: "reset", id: fresh, data: data}) {
				return
			}
			cursor = fresh
		default: // unreachable for now: wait and resume from cursor
			t := time.NewTimer(feedRetry)
			select {
			case <-ctx.Done():
				t.Stop()
				return
			case <-t.C:
			}
		}
	}
}

// send delivers ev unless ctx ends first.
func send(ctx context.Context, out chan<- event, ev event) bool {
	select {
	case out <- ev:
		return true
	case <-ctx.Done():
		return false
	}
}

// pruneFeed deletes what the feed no longer needs to keep, every interval,
// until ctx ends. Every replica may run it: deleting what another has
// deleted already is harmless.
func pruneFeed(ctx context.Context, feed persist.ChangeFeed, keep persist.Retention, interval time.Duration, log *slog.Logger) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if _, err := feed.Prune(ctx, keep); err != nil && ctx.Err() == nil {
				log.Warn("prune change feed", "err", err)
			}
		}
	}
}

// errNoFeed is returned when the database offers no change feed.
var errNoFeed = errors.New("the database has no change feed")

// newFollower turns the feed on for the collections and returns what
// follows it for each client.
func newFollower(ctx context.Context, db persist.DB) (follower, error) {
	feed, ok := db.(persist.ChangeFeed)
	if !ok {
		return follower{}, errNoFeed
	}
	if err := feed.EnableFeed(ctx, collections...); err != nil {
		return follower{}, fmt.Errorf("enable the change feed: %w", err)
	}
	return follower{feed: feed, opts: &persist.FeedOptions{Tables: collections}}, nil
}
