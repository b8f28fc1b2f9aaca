package main

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"time"
)

// sseWriteTimeout cuts off a client that stops reading: the server's
// WriteTimeout would end every stream, so each event gets its own deadline.
const sseWriteTimeout = 10 * time.Second

// handleEvents streams "tick" events, and a "change" event for every write
// to the collections through any replica, until the client disconnects or
// the server shuts down. Each change's SSE id is its feed cursor: a client
// that reconnects with Last-Event-ID (browsers' EventSource does so on its
// own) receives exactly the changes it missed. A new stream's first
// message carries the present cursor as its id, so even a client that
// saw no change yet resumes where it was.
func (s *server) handleEvents(w http.ResponseWriter, r *http.Request) {
	sub, ok := s.events.subscribe()
	if !ok {
		writeJSONError(w, http.StatusServiceUnavailable, "service is shutting down")
		return
	}
	defer s.events.unsubscribe(sub)

	cursor := r.Header.Get("Last-Event-ID")
	open := event{}
	if cursor == "" {
		cur, err := s.feed.cursor(r.Context())
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		cursor, open.id = cur, cur
	}

	rc := http.NewResponseController(w)
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no") // proxies must not hold events back
	w.WriteHeader(http.StatusOK)
	if !s.writeEvent(w, rc, open) {
		return
	}

	ctx, cancel := context.WithCancel(r.Context())
	changes := make(chan event)
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel()
	wg.Go(func() { s.feed.run(ctx, cursor, changes) })
	for {
		var ev event
		select {
		case ev = <-sub.ticks: // a due tick goes first, whatever the backlog
		default:
			select {
			case <-ctx.Done():
				return
			case <-s.events.done:
				return
			case ev = <-sub.ticks:
			case ev = <-changes:
			}
		}
		if !s.writeEvent(w, rc, ev) {
			return
		}
	}
}

// writeEvent writes and flushes one event. An event without a name is the
// comment that opens the stream, with the id, if any, that a client
// resumes from. It reports false when the client is gone.
func (s *server) writeEvent(w http.ResponseWriter, rc *http.ResponseController, ev event) bool {
	_ = rc.SetWriteDeadline(time.Now().Add(sseWriteTimeout)) // unsupported in tests' recorders
	var err error
	switch {
	case ev.name == "" && ev.id == "":
		_, err = fmt.Fprint(w, ": stream open\n\n")
	case ev.name == "":
		_, err = fmt.Fprintf(w, ": stream open\nid: %s\n\n", ev.id)
	case ev.id != "":
		_, err = fmt.Fprintf(w, "id: %s\nevent: %s\ndata: %s\n\n", ev.id, ev.name, ev.data)
	default:
		_, err = fmt.Fprintf(w, "event: %s\ndata: %s\n\n", ev.name, ev.data)
	}
	if err == nil {
		err = rc.Flush()
	}
	return err == nil
}
