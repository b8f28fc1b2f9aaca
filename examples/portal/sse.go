package main

import (
	"fmt"
	"net/http"
	"time"
)

// sseWriteTimeout cuts off a client that stops reading: the server's
// WriteTimeout would end every stream, so each event gets its own deadline.
const sseWriteTimeout = 10 * time.Second

// handleEvents streams "tick" and "change" events until the client
// disconnects or the server shuts down. A client too slow for the change
// rate gets a "dropped" event saying how many changes it missed, so it knows
// to re-list.
func (s *server) handleEvents(w http.ResponseWriter, r *http.Request) {
	sub, ok := s.events.subscribe()
	if !ok {
		writeJSONError(w, http.StatusServiceUnavailable, "service is shutting down")
		return
	}
	defer s.events.unsubscribe(sub)

	rc := http.NewResponseController(w)
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no") // proxies must not hold events back
	w.WriteHeader(http.StatusOK)
	if !s.writeEvent(w, rc, event{}) {
		return
	}
	for {
		var ev event
		select {
		case ev = <-sub.ticks: // a due tick goes first, whatever the backlog
		default:
			select {
			case <-r.Context().Done():
				return
			case <-s.events.done:
				return
			case ev = <-sub.ticks:
			case ev = <-sub.changes:
			}
		}
		if n := sub.dropped.Swap(0); n > 0 {
			if !s.writeEvent(w, rc, event{name: "dropped", data: fmt.Appendf(nil, `{"count":%d}`, n)}) {
				return
			}
		}
		if !s.writeEvent(w, rc, ev) {
			return
		}
	}
}

// writeEvent writes and flushes one event; the zero event is a comment that
// opens the stream. It reports false when the client is gone.
func (s *server) writeEvent(w http.ResponseWriter, rc *http.ResponseController, ev event) bool {
	_ = rc.SetWriteDeadline(time.Now().Add(sseWriteTimeout)) // unsupported in tests' recorders
	var err error
	if ev.name == "" {
		_, err = fmt.Fprint(w, ": stream open\n\n")
	} else {
		_, err = fmt.Fprintf(w, "event: %s\ndata: %s\n\n", ev.name, ev.data)
	}
	if err == nil {
		err = rc.Flush()
	}
	return err == nil
}
