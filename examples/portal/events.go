package main

import (
	"context"
	"encoding/json"
	"sync"
	"sync/atomic"
	"time"
)

// event is one Server-Sent Event: its name and one line of JSON.
type event struct {
	name string
	data []byte
}

// changeJSON is the data of a "change" event. Revision is omitted on
// delete.
type changeJSON struct {
	Collection string `json:"collection"`
	ID         string `json:"id"`
	Op         string `json:"op"` // create, put, update, delete
	Revision   int64  `json:"revision,omitempty"`
}

// subscriber is one SSE client's mailbox. Changes queue in a bounded
// buffer; ticks have their own one-slot box that keeps only the latest, so
// a backlog of changes never delays a tick and a stalled client never holds
// more than one.
type subscriber struct {
	changes chan event
	ticks   chan event
	dropped atomic.Int64 // changes lost to a full buffer, reported to the client
}

// broadcaster fans events out to subscribers without ever blocking the
// sender: an API write must not wait for the slowest SSE client, so a full
// buffer drops the event for that client and counts it.
type broadcaster struct {
	mu     sync.RWMutex
	subs   map[*subscriber]struct{}
	buf    int
	closed bool
	done   chan struct{} // closed by close: SSE handlers return

	// maxTickGap is the longest time between two ticks leaving runTicks,
	// in nanoseconds. When the stream shows a gap this one also has, the
	// whole process was not running (CPU starvation, a GC pause), not the
	// event path.
	maxTickGap atomic.Int64
}

func newBroadcaster(buf int) *broadcaster {
	return &broadcaster{subs: map[*subscriber]struct{}{}, buf: buf, done: make(chan struct{})}
}

// subscribe registers a client. It fails once the broadcaster is closed, so
// no client can join after shutdown began.
func (b *broadcaster) subscribe() (*subscriber, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return nil, false
	}
	s := &subscriber{changes: make(chan event, b.buf), ticks: make(chan event, 1)}
	b.subs[s] = struct{}{}
	return s, true
}

func (b *broadcaster) unsubscribe(s *subscriber) {
	b.mu.Lock()
	defer b.mu.Unlock()
	delete(b.subs, s)
}

// publishChange tells every subscriber about a write made through the API.
func (b *broadcaster) publishChange(collection, id, op string, revision int64) {
	data, err := json.Marshal(changeJSON{Collection: collection, ID: id, Op: op, Revision: revision})
	if err != nil {
		return // strings and ints always encode
	}
	ev := event{name: "change", data: data}
	b.mu.RLock()
	defer b.mu.RUnlock()
	for s := range b.subs {
		select {
		case s.changes <- ev:
		default:
			s.dropped.Add(1)
		}
	}
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
