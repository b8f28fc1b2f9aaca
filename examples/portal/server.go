package main

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"

	"github.com/persistkit/persist"
)

// collections are the portal's tables, each served at /api/v1/{name}.
var collections = []string{
	"sources",
	"pipelines",
	"pipeline_runs",
	"access_requests",
	"marketplace_products",
	"marketplace_quality",
}

// server is the HTTP layer. Everything a handler needs is a field, handed in
// by newServer, so tests can build as many independent servers as they like.
type server struct {
	db      persist.DB
	stores  map[string]persist.Store // by collection name
	events  *broadcaster
	feed    follower
	log     *slog.Logger
	maxBody int64 // bytes accepted in a request body
}

// newServer opens one store per collection from db and turns the change
// feed on for them. The DB stays the caller's to close.
func newServer(ctx context.Context, db persist.DB, events *broadcaster, log *slog.Logger, maxBody int64) (*server, error) {
	feed, err := newFollower(ctx, db)
	if err != nil {
		return nil, err
	}
	s := &server{db: db, stores: make(map[string]persist.Store, len(collections)), events: events, feed: feed, log: log, maxBody: maxBody}
	for _, name := range collections {
		st, err := db.Store(name)
		if err != nil {
			return nil, fmt.Errorf("open store %s: %w", name, err)
		}
		s.stores[name] = st
	}
	return s, nil
}

// handler routes the API. Method-less patterns are less specific than the
// method ones, so they catch only the other methods and answer 405 in JSON;
// "/" answers 404 for everything else.
func (s *server) handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/v1/events", s.handleEvents)
	mux.HandleFunc("/api/v1/events", methodNotAllowed("GET, HEAD"))
	for _, name := range collections {
		c := &collection{name: name, store: s.stores[name], srv: s}
		base := "/api/v1/" + name
		mux.HandleFunc("GET "+base, c.list)
		mux.HandleFunc("POST "+base, c.create)
		mux.HandleFunc(base, methodNotAllowed("GET, HEAD, POST"))
		mux.HandleFunc("GET "+base+"/{id}", c.get)
		mux.HandleFunc("PUT "+base+"/{id}", c.put)
		mux.HandleFunc("PATCH "+base+"/{id}", c.patch)
		mux.HandleFunc("DELETE "+base+"/{id}", c.delete)
		mux.HandleFunc(base+"/{id}", methodNotAllowed("GET, HEAD, PUT, PATCH, DELETE"))
	}
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeJSONError(w, http.StatusNotFound, "no such endpoint: "+r.URL.Path)
	})
	return mux
}

func methodNotAllowed(allow string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Allow", allow)
		writeJSONError(w, http.StatusMethodNotAllowed, "method "+r.Method+" not allowed; use "+allow)
	}
}
