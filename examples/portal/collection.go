package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"iter"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/persistkit/persist"
)

const (
	defaultLimit = 100
	maxLimit     = 1000 // bounds the memory one list request can take
)

// collection serves one store's records.
type collection struct {
	name  string
	store persist.Store
	srv   *server
}

// recordJSON is a record on the wire.
type recordJSON struct {
	ID       string          `json:"id"`
	Data     json.RawMessage `json:"data"`
	Revision int64           `json:"revision"`
	Created  time.Time       `json:"created"`
	Updated  time.Time       `json:"updated"`
}

func toJSON(rec persist.Record) recordJSON {
	return recordJSON{ID: rec.ID, Data: rec.Data, Revision: rec.Revision, Created: rec.Created, Updated: rec.Updated}
}

// listJSON is one page of a listing. Next is the "after" value of the
// following page, empty on the last one.
type listJSON struct {
	Items []recordJSON `json:"items"`
	Next  string       `json:"next"`
}

// bodyJSON is what POST, PUT and PATCH accept. ID is a pointer so that an
// explicit "" is told apart from no id at all.
type bodyJSON struct {
	ID   *string         `json:"id"`
	Data json.RawMessage `json:"data"`
}

func (c *collection) list(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	limit, err := parseLimit(q)
	if err != nil {
		c.srv.writeError(w, r, err)
		return
	}
	filter, err := parseFilter(q)
	if err != nil {
		c.srv.writeError(w, r, err)
		return
	}
	if q.Has("sort") || q.Has("cursor") {
		c.find(w, r, q, filter, limit)
		return
	}
	// One extra row tells whether another page follows.
	opts := &persist.ListOptions{Limit: limit + 1, After: q.Get("after")}
	var seq iter.Seq2[persist.Record, error]
	if filter != nil {
		seq = c.store.Query(r.Context(), filter, opts)
	} else {
		seq = c.store.List(r.Context(), opts)
	}
	page := listJSON{Items: make([]recordJSON, 0, min(limit, 64))}
	for rec, err := range seq {
		if err != nil {
			if opts.After != "" && errors.Is(err, persist.ErrNotFound) {
				err = badRequest("after: no record %q in %s", opts.After, c.name)
			}
			c.srv.writeError(w, r, err)
			return
		}
		if len(page.Items) == limit {
			page.Next = page.Items[limit-1].ID
			break
		}
		page.Items = append(page.Items, toJSON(rec))
	}
	writeJSON(w, http.StatusOK, page)
}

// find serves a sorted listing: the filter's fields (paths, nested ones
// too) compared with ==, sorted by ?sort=a,-b (a minus for descending,
// @inserted for insertion order), paged by the opaque ?cursor= of the
// previous page's "next".
func (c *collection) find(w http.ResponseWriter, r *http.Request, q url.Values, filter json.RawMessage, limit int) {
	if q.Has("after") {
		c.srv.writeError(w, r, badRequest("after pages unsorted lists; a sorted list pages with cursor"))
		return
	}
	query, err := findQuery(filter, q.Get("sort"))
	if err != nil {
		c.srv.writeError(w, r, err)
		return
	}
	p, err := c.store.FindPage(r.Context(), query.Limit(limit).After(q.Get("cursor")))
	if err != nil {
		c.srv.writeError(w, r, err)
		return
	}
	page := listJSON{Items: make([]recordJSON, 0, len(p.Records)), Next: p.Next}
	for _, rec := range p.Records {
		page.Items = append(page.Items, toJSON(rec))
	}
	writeJSON(w, http.StatusOK, page)
}

// findQuery builds the query of a sorted listing; persist checks it when
// it runs.
func findQuery(filter json.RawMessage, sortParam string) (persist.Query, error) {
	var q persist.Query
	if filter != nil {
		var fields map[string]json.RawMessage
		if err := json.Unmarshal(filter, &fields); err != nil {
			return q, badRequest("filter must be a JSON object: %v", err)
		}
		keys := make([]string, 0, len(fields))
		for k := range fields {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			q = q.Where(k, "==", fields[k])
		}
	}
	if sortParam != "" {
		for _, f := range strings.Split(sortParam, ",") {
			dir := persist.Asc
			if rest, ok := strings.CutPrefix(f, "-"); ok {
				f, dir = rest, persist.Desc
			}
			q = q.OrderBy(f, dir)
		}
	}
	return q, nil
}

func (c *collection) get(w http.ResponseWriter, r *http.Request) {
	rec, err := c.store.Get(r.Context(), r.PathValue("id"))
	if err != nil {
		c.srv.writeError(w, r, err)
		return
	}
	c.writeRecord(w, http.StatusOK, rec)
}

func (c *collection) create(w http.ResponseWriter, r *http.Request) {
	body, err := c.decodeBody(w, r)
	if err != nil {
		c.srv.writeError(w, r, err)
		return
	}
	rec := persist.Record{Data: body.Data}
	if body.ID != nil {
		if *body.ID == "" {
			c.srv.writeError(w, r, badRequest(`"id" is empty; omit it to have one generated`))
			return
		}
		rec.ID = *body.ID
	}
	rec, err = c.store.Insert(r.Context(), rec)
	if err != nil {
		c.srv.writeError(w, r, err)
		return
	}
	w.Header().Set("Location", c.location(rec.ID))
	c.writeRecord(w, http.StatusCreated, rec)
}

// put replaces the record, creating it if missing (201). An If-Match
// revision makes the write conditional.
func (c *collection) put(w http.ResponseWriter, r *http.Request) {
	in, ok := c.writeInput(w, r)
	if !ok {
		return
	}
	rec, err := c.store.Put(r.Context(), in)
	if err != nil {
		c.srv.writeError(w, r, err)
		return
	}
	status := http.StatusOK
	if rec.Revision == 1 {
		status = http.StatusCreated
		w.Header().Set("Location", c.location(rec.ID))
	}
	c.writeRecord(w, status, rec)
}

// writeInput reads what PUT and PATCH share: the id from the path, an
// If-Match revision and the body, whose id, if any, must match the path.
// On failure it has written the error response.
func (c *collection) writeInput(w http.ResponseWriter, r *http.Request) (persist.Record, bool) {
	id := r.PathValue("id")
	rev, err := ifMatch(r)
	if err != nil {
		c.srv.writeError(w, r, err)
		return persist.Record{}, false
	}
	body, err := c.decodeBody(w, r)
	if err != nil {
		c.srv.writeError(w, r, err)
		return persist.Record{}, false
	}
	if body.ID != nil && *body.ID != id {
		c.srv.writeError(w, r, badRequest("body id %q does not match the path's", *body.ID))
		return persist.Record{}, false
	}
	return persist.Record{ID: id, Data: body.Data, Revision: rev}, true
}

// patch merges the body's top-level keys into the record.
func (c *collection) patch(w http.ResponseWriter, r *http.Request) {
	in, ok := c.writeInput(w, r)
	if !ok {
		return
	}
	rec, err := c.store.Update(r.Context(), in)
	if err != nil {
		c.srv.writeError(w, r, err)
		return
	}
	c.writeRecord(w, http.StatusOK, rec)
}

func (c *collection) delete(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	existed, err := c.store.Delete(r.Context(), id)
	if err == nil && !existed {
		err = &persist.Error{Op: "delete", Table: c.name, ID: id, Err: persist.ErrNotFound}
	}
	if err != nil {
		c.srv.writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (c *collection) location(id string) string {
	return "/api/v1/" + c.name + "/" + url.PathEscape(id)
}

// writeRecord sends rec with its revision as the ETag, the value a client
// echoes in If-Match.
func (c *collection) writeRecord(w http.ResponseWriter, status int, rec persist.Record) {
	w.Header().Set("ETag", strconv.Quote(strconv.FormatInt(rec.Revision, 10)))
	writeJSON(w, status, toJSON(rec))
}

// decodeBody reads {"id"?: string, "data": object}, at most maxBody bytes.
// Data is kept as raw bytes so numbers keep their exact spelling; the store
// validates it.
func (c *collection) decodeBody(w http.ResponseWriter, r *http.Request) (bodyJSON, error) {
	r.Body = http.MaxBytesReader(w, r.Body, c.srv.maxBody)
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	var body bodyJSON
	if err := dec.Decode(&body); err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return bodyJSON{}, err
		}
		if errors.Is(err, io.EOF) {
			return bodyJSON{}, badRequest(`request body is empty; send {"data": {...}}`)
		}
		return bodyJSON{}, badRequest("request body: %v", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return bodyJSON{}, err
		}
		return bodyJSON{}, badRequest("request body: unexpected data after the JSON object")
	}
	if len(body.Data) == 0 {
		return bodyJSON{}, badRequest(`request body has no "data" object`)
	}
	return body, nil
}

// ifMatch reads an If-Match revision: 3, "3" or W/"3". None means an
// unconditional write.
func ifMatch(r *http.Request) (int64, error) {
	v := strings.TrimSpace(r.Header.Get("If-Match"))
	if v == "" {
		return 0, nil
	}
	s := strings.TrimPrefix(v, "W/")
	if unq, err := strconv.Unquote(s); err == nil {
		s = unq
	}
	rev, err := strconv.ParseInt(s, 10, 64)
	if err != nil || rev < 1 {
		return 0, badRequest("If-Match %q is not a revision (a positive integer, as in the ETag)", v)
	}
	return rev, nil
}

func parseLimit(q url.Values) (int, error) {
	v := q.Get("limit")
	if v == "" {
		return defaultLimit, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > maxLimit {
		return 0, badRequest("limit %q must be an integer from 1 to %d", v, maxLimit)
	}
	return n, nil
}

// reservedParams are the query parameters that are not filter fields.
var reservedParams = map[string]bool{"limit": true, "after": true, "filter": true, "sort": true, "cursor": true}

// parseFilter returns the filter a listing asks for, or nil for none:
// either ?filter={json object} verbatim, or one field per other parameter,
// typed as JSON would read it: ?enabled=true is the boolean, ?n=10 the
// number, ?x=null null, anything else a string. To match the string "true",
// use ?filter={"x":"true"}.
func parseFilter(q url.Values) (json.RawMessage, error) {
	fields := map[string]json.RawMessage{}
	for k, vs := range q {
		if reservedParams[k] {
			continue
		}
		if len(vs) != 1 {
			return nil, badRequest("filter field %q given %d times", k, len(vs))
		}
		fields[k] = typedValue(vs[0])
	}
	if raw := q.Get("filter"); raw != "" {
		if len(fields) > 0 {
			return nil, badRequest("use either filter={...} or field=value parameters, not both")
		}
		return json.RawMessage(raw), nil
	}
	if len(fields) == 0 {
		return nil, nil
	}
	return json.Marshal(fields) // keys sorted; values already JSON
}

func typedValue(v string) json.RawMessage {
	switch v {
	case "true", "false", "null":
		return json.RawMessage(v)
	}
	if v != "" && (v[0] == '-' || v[0] >= '0' && v[0] <= '9') && json.Valid([]byte(v)) {
		return json.RawMessage(v) // a number, spelled as given so it stays exact
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v) // a string always encodes
	return bytes.TrimSpace(b.Bytes())
}
