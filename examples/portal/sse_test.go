package main

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"
)

// sseEvent is one message of an event stream as a client sees it. Open is
// the stream's opening message, which has no name.
type sseEvent struct {
	id, name, data string
	at             time.Time // when the client read it
}

// sseStream is a test's client of /api/v1/events.
type sseStream struct {
	events <-chan sseEvent
	stop   context.CancelFunc
	done   chan struct{}
}

// openStream connects to url, sending lastID as Last-Event-ID when it is
// not empty, and reads messages until close. It fails tb unless the
// answer is a 200 event stream.
func openStream(tb testing.TB, client *http.Client, url, lastID string) *sseStream {
	tb.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, err := http.NewRequestWithContext(ctx, "GET", url, nil)
	if err != nil {
		cancel()
		tb.Fatal(err)
	}
	if lastID != "" {
		req.Header.Set("Last-Event-ID", lastID)
	}
	resp, err := client.Do(req)
	if err != nil {
		cancel()
		tb.Fatalf("GET %s: %v", url, err)
	}
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "text/event-stream" {
		resp.Body.Close()
		cancel()
		tb.Fatalf("GET %s: %s, Content-Type %q, want a 200 event stream", url, resp.Status, resp.Header.Get("Content-Type"))
	}
	events := make(chan sseEvent, 1024)
	s := &sseStream{events: events, stop: cancel, done: make(chan struct{})}
	go func() {
		defer close(s.done)
		defer close(events)
		defer resp.Body.Close()
		sc := bufio.NewScanner(resp.Body)
		var ev sseEvent
		seen := false
		for sc.Scan() {
			line := sc.Text()
			switch {
			case line == "":
				if seen {
					ev.at = time.Now()
					select {
					case events <- ev:
					case <-ctx.Done():
						return
					}
				}
				ev, seen = sseEvent{}, false
			case strings.HasPrefix(line, ":"):
				seen = true
			case strings.HasPrefix(line, "id: "):
				ev.id, seen = line[4:], true
			case strings.HasPrefix(line, "event: "):
				ev.name, seen = line[7:], true
			case strings.HasPrefix(line, "data: "):
				ev.data, seen = line[6:], true
			}
		}
	}()
	return s
}

// close disconnects, as a client that goes away mid-stream does.
func (s *sseStream) close() {
	s.stop()
	<-s.done
}

// next returns the next message named name (the empty name is the
// opening message), skipping others, or fails tb after timeout.
func (s *sseStream) next(tb testing.TB, name string, timeout time.Duration) sseEvent {
	tb.Helper()
	t := time.NewTimer(timeout)
	defer t.Stop()
	for {
		select {
		case ev, ok := <-s.events:
			if !ok {
				tb.Fatalf("stream ended before a %q event", name)
			}
			if ev.name == name {
				return ev
			}
		case <-t.C:
			tb.Fatalf("no %q event within %v", name, timeout)
		}
	}
}

// change decodes a "change" event's data.
func (ev sseEvent) change(tb testing.TB) changeJSON {
	tb.Helper()
	var c changeJSON
	if err := json.Unmarshal([]byte(ev.data), &c); err != nil {
		tb.Fatalf("change data %q: %v", ev.data, err)
	}
	return c
}
