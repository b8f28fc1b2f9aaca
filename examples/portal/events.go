package main

import (
	"context"
	"encoding/json"
	"sync"
	"sync/atomic"
	"time"
)

// event is one Server-Sent Event: its name, one line of JSON and, for a
// change, its id: the feed cursor a client that reconnects sends back as
// Last-Event-ID.
type event struct {
	name string
	id   string
	data []byte
}

// subscriber is one SSE client's tick box: one slot that keeps only the
// latest tick, so a stalled client never holds more than one. Changes do
// not pass through here: each client follows the change feed itself (see
// follow.go), at its own pace.
type subscriber struct {
	ticks chan event
}

// broadcaster sends ticks to every subscriber without ever blocking the
// tick loop, and ends every stream at shutdown.
type broadcaster struct {
	mu     sync.RWMutex
	subs   map[*subscriber]struct{}
	closed bool
	done   chan struct{} // closed by close: SSE handlers return

	// maxTickGap is the longest time between two ticks leaving runTicks,
	// in nanoseconds. When the stream shows a gap this one also has, the
	// whole process was not running (CPU starvation, a GC pause), not the
	// event path.
	maxTickGap atomic.Int64
}

func newBroadcaster() *broadcaster {
	return &broadcaster{subs: map[*subscriber]struct{}{}, done: make(chan struct{})}
}

// subscribe registers a client. It fails once the broadcaster is closed, so
// no client can join after shutdown began.
func (b *broadcaster) subscribe() (*subscriber, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return nil, false
	}
	s := &subscriber{ticks: make(chan event, 1)}
	b.subs[s] = struct{}{}
	return s, true
}

func (b *broadcaster) unsubscribe(s *subscriber) {
	b.mu.Lock()
	defer b.mu.Unlock()
	delete(b.subs, s)
}

// publishTick replaces each subscriber's pending tick with this one. Only
// the tick loop calls it, so the drain-then-send below cannot race with
// another sender.
func (b *broadcaster) publishTick(ev event) {
	b.mu.RLock()
	defer b.mu.RUnlock()
	for s := range b.subs {
		select {
		case s.ticks <- ev:
		default:
			select {
			case <-s.ticks:
			default:
			}
			select {
			case s.ticks <- ev:
			default:
			}
		}
	}
}

// tickJSON is the data of a "tick" event.
type tickJSON struct {
	Seq  int64     `json:"seq"`
	Time time.Time `json:"time"`
}

// runTicks publishes a tick every interval until ctx ends. Clients use
// ticks to tell a quiet stream from a dead one.
func (b *broadcaster) runTicks(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	var seq int64
	last := time.Now()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			now := time.Now() // t.C's value is when the tick was due, not when we ran
			if gap := int64(now.Sub(last)); gap > b.maxTickGap.Load() {
				b.maxTickGap.Store(gap) // the only writer apart from resets
			}
			last = now
			seq++
			data, _ := json.Marshal(tickJSON{Seq: seq, Time: now.UTC()})
			b.publishTick(event{name: "tick", data: data})
		}
	}
}

// close ends every SSE stream. http.Server.Shutdown waits for handlers to
// return, and an event stream never would on its own.
func (b *broadcaster) close() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.closed {
		b.closed = true
		close(b.done)
	}
}
