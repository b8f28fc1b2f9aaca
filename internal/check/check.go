// Package check validates the input of every persist operation, once for
// both backends and in one order: a closed DB (or finished transaction)
// first, then the caller's context, then the input, field by field in a
// fixed order. So the same bad call fails with the same sentinel and the
// same message on every backend, and a refused call names only what the
// caller gave: an id is generated only after the input has passed.
//
// Every error is a *persist.Error; input errors match persist.ErrInvalid.
// What an id, a table name or a filter key is, ident decides; what a
// document is, jsonx decides. This package decides which of them each
// operation applies, and in which order.
package check

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/persistkit/persist"
	"github.com/persistkit/persist/internal/ident"
	"github.com/persistkit/persist/internal/jsonx"
)

// Enter is the first check of every operation: ErrClosed if closed, else
// the context's error if it is done. Input is checked only after it, so a
// call on a closed DB is ErrClosed whatever it was given.
func Enter(ctx context.Context, closed bool, op, table, id string) error {
	if closed {
		return &persist.Error{Op: op, Table: table, ID: id, Err: persist.ErrClosed}
	}
	if err := ctx.Err(); err != nil {
		return &persist.Error{Op: op, Table: table, ID: id, Err: err}
	}
	return nil
}

// Invalid returns the error of rejected input: a *persist.Error naming op,
// table and id that matches persist.ErrInvalid.
func Invalid(op, table, id, format string, args ...any) error {
	return &persist.Error{Op: op, Table: table, ID: id,
		Err: fmt.Errorf("%w: %s", persist.ErrInvalid, fmt.Sprintf(format, args...))}
}

// Table checks the input of the operations on one table. Compact says how
// the backend keeps a document that passed: compacted, with top-level
// duplicate keys resolved last-wins as jsonb does (SQLite, which stores
// the text), or as given (PostgreSQL, whose jsonb does both itself).
//
// IDField, when set, names the top-level document field that holds the
// record's id, for tables shared with writers that read the id from the
// document: every document written gets it, and one whose field holds
// anything else is refused.
type Table struct {
	Name    string
	Compact bool
	IDField string
}

// withID puts rec's id into its document when t has an IDField.
func (t Table) withID(op string, i int, rec persist.Record) (persist.Record, error) {
	if t.IDField == "" {
		return rec, nil
	}
	data, err := jsonx.IDField(rec.Data, t.IDField, rec.ID)
	if err != nil {
		if i >= 0 {
			return rec, Invalid(op, t.Name, rec.ID, "record %d: data: %v", i, err)
		}
		return rec, Invalid(op, t.Name, rec.ID, "data: %v", err)
	}
	rec.Data = data
	return rec, nil
}

// ID checks an id that addresses a record.
func (t Table) ID(op, id string) error {
	if err := ident.ID(id); err != nil {
		return Invalid(op, t.Name, id, "%v", err)
	}
	return nil
}

// IDs checks ids that address records, in order; the first bad one is
// named.
func (t Table) IDs(op string, ids []string) error {
	for _, id := range ids {
		if err := t.ID(op, id); err != nil {
			return err
		}
	}
	return nil
}

// doc checks a document and returns it in the form the backend keeps.
func (t Table) doc(b []byte) ([]byte, error) {
	if t.Compact {
		return jsonx.CompactObject(b)
	}
	return b, jsonx.ValidateObject(b)
}

// record checks one record, id then revision then data, and returns it
// with its data in the backend's form. An empty id passes when gen is set.
// i is its index in a slice, or -1 for a single record.
func (t Table) record(op string, i int, rec persist.Record, gen bool) (persist.Record, error) {
	bad := func(format string, args ...any) error {
		if i >= 0 {
			format, args = "record %d: "+format, append([]any{i}, args...)
		}
		return Invalid(op, t.Name, rec.ID, format, args...)
	}
	if rec.ID != "" || !gen {
		if err := ident.ID(rec.ID); err != nil {
			return rec, bad("%v", err)
		}
	}
	if rec.Revision < 0 {
		return rec, bad("revision %d is negative", rec.Revision)
	}
	data, err := t.doc(rec.Data)
	if err != nil {
		return rec, bad("data: %v", err)
	}
	rec.Data = data
	return rec, nil
}

// New checks the record of a Put or an Insert and returns it as it is to
// be written: its data in the backend's form and, when its ID is empty, a
// new time-ordered id, generated only once everything else has passed.
func (t Table) New(op string, rec persist.Record) (persist.Record, error) {
	rec, err := t.record(op, -1, rec, true)
	if err != nil {
		return rec, err
	}
	if rec.ID == "" {
		rec.ID = ident.NewID()
	}
	return t.withID(op, -1, rec)
}

// Patch checks the record of an Update, which must name an existing
// record, so its ID is checked as an address.
func (t Table) Patch(op string, rec persist.Record) (persist.Record, error) {
	rec, err := t.record(op, -1, rec, false)
	if err != nil {
		return rec, err
	}
	return t.withID(op, -1, rec)
}

// Func checks the arguments of an UpdateFunc: the id, then fn.
func (t Table) Func(op, id string, fn persist.UpdateFunc) error {
	if err := t.ID(op, id); err != nil {
		return err
	}
	if fn == nil {
		return Invalid(op, t.Name, id, "fn is nil")
	}
	return nil
}

// Returned checks the document an UpdateFunc's fn returned and gives it in
// the backend's form.
func (t Table) Returned(op, id string, data []byte) ([]byte, error) {
	out, err := t.doc(data)
	if err != nil {
		return nil, Invalid(op, t.Name, id, "data returned by fn: %v", err)
	}
	if t.IDField != "" {
		if out, err = jsonx.IDField(out, t.IDField, id); err != nil {
			return nil, Invalid(op, t.Name, id, "data returned by fn: %v", err)
		}
	}
	return out, nil
}

// Stored is the error of an Update whose stored document is not one
// persist accepts (a row an earlier writer left, such as one holding
// U+0000 in SQLite): the merge would write it again, so it is refused
// like input, and nothing is written. Put replaces such a record.
func (t Table) Stored(op, id string, err error) error {
	return Invalid(op, t.Name, id, "stored data cannot be merged, replace the record with Put: %v", err)
}

// Many says how a slice of records is checked.
type Many uint8

const (
	// Unique is PutMany's and ReplaceAll's: empty ids are generated and an
	// id may appear once.
	Unique Many = iota
	// Keep is InsertMany's: every record names its id, and a repeated id
	// is left to the backend, which skips it as it skips existing ids.
	Keep
)

// Records checks recs in order, each as [Table.New] does, and returns them
// as they are to be written, without modifying recs: a copy when a
// document is compacted or an id generated, else recs itself, which the
// caller must then not modify either. The first bad record is named by
// its index and given id; ids are generated only once all have passed.
func (t Table) Records(op string, recs []persist.Record, how Many) ([]persist.Record, error) {
	out := recs
	copied := false
	set := func(i int, r persist.Record) {
		if !copied {
			out, copied = slices.Clone(recs), true
		}
		out[i] = r
	}
	var seen map[string]int
	if how == Unique {
		seen = make(map[string]int, len(recs))
	}
	for i, r := range recs {
		r, err := t.record(op, i, r, how == Unique)
		if err != nil {
			return nil, err
		}
		if how == Keep {
			if err := keptTimes(r); err != nil {
				return nil, Invalid(op, t.Name, r.ID, "record %d: %v", i, err)
			}
		}
		if how == Unique && r.ID != "" {
			if j, dup := seen[r.ID]; dup {
				return nil, Invalid(op, t.Name, r.ID, "record %d: id %q is also record %d's", i, r.ID, j)
			}
			seen[r.ID] = i
		}
		if t.Compact {
			set(i, r)
		}
	}
	if how == Unique {
		for i := range out {
			if out[i].ID == "" {
				r := out[i]
				r.ID = ident.NewID()
				set(i, r)
			}
		}
	}
	if t.IDField != "" {
		for i := range out {
			r, err := t.withID(op, i, out[i])
			if err != nil {
				return nil, err
			}
			set(i, r)
		}
	}
	return out, nil
}

// List checks the options of a List or Query and returns them (the zero
// value for nil): Limit not negative, a known Order, After a valid id when
// set.
func (t Table) List(op string, opts *persist.ListOptions) (persist.ListOptions, error) {
	var o persist.ListOptions
	if opts != nil {
		o = *opts
	}
	if o.Limit < 0 {
		return o, Invalid(op, t.Name, "", "limit %d is negative", o.Limit)
	}
	if o.Order != persist.ByInsertion && o.Order != persist.ByID {
		return o, Invalid(op, t.Name, "", "order %d is unknown", int(o.Order))
	}
	if o.After != "" {
		if err := ident.ID(o.After); err != nil {
			return o, Invalid(op, t.Name, o.After, "after: %v", err)
		}
	}
	return o, nil
}

// Filter parses a Query's filter, an object of scalars whose keys
// [ident.FilterKey] accepts, and returns its fields sorted by key. {}
// gives none.
func (t Table) Filter(op string, filter json.RawMessage) ([]jsonx.Field, error) {
	fields, err := jsonx.ParseFilter(filter)
	if err != nil {
		return nil, Invalid(op, t.Name, "", "filter: %v", err)
	}
	for _, f := range fields {
		if err := ident.FilterKey(f.Key); err != nil {
			return nil, Invalid(op, t.Name, "", "filter: %v", err)
		}
	}
	return fields, nil
}

// Writes checks what Applier.Apply takes, before anything is written, and
// names the first write it must refuse: a bad table name, op, id, revision
// or data, or an id that appears twice in one table. It returns ws as they
// are to be written: with idField set, a copy whose inserts and puts hold
// their id in that document field (see [Table]).
func Writes(ws []persist.Write, idField string) ([]persist.Write, error) {
	type key struct{ table, id string }
	seen := make(map[key]bool, len(ws))
	copied := false
	for i, w := range ws {
		bad := func(format string, args ...any) error {
			return Invalid("apply", w.Table, w.Record.ID, "write %d: %s", i, fmt.Sprintf(format, args...))
		}
		if err := ident.Table(w.Table); err != nil {
			return nil, bad("%v", err)
		}
		switch w.Op {
		case persist.WriteInsert, persist.WritePut, persist.WriteDelete, persist.WriteCheck:
		default:
			return nil, bad("op %d is unknown", w.Op)
		}
		if w.Record.ID == "" {
			// Apply names every record it writes and generates none.
			return nil, bad("id is empty")
		}
		if err := ident.ID(w.Record.ID); err != nil {
			return nil, bad("%v", err)
		}
		if w.Record.Revision < 0 {
			return nil, bad("revision %d is negative", w.Record.Revision)
		}
		if w.Op == persist.WriteInsert || w.Op == persist.WritePut {
			if err := jsonx.ValidateObject(w.Record.Data); err != nil {
				return nil, bad("data: %v", err)
			}
			if idField != "" {
				data, err := jsonx.IDField(w.Record.Data, idField, w.Record.ID)
				if err != nil {
					return nil, bad("data: %v", err)
				}
				if !copied {
					ws, copied = slices.Clone(ws), true
				}
				ws[i].Record.Data = data
			}
		}
		k := key{w.Table, w.Record.ID}
		if seen[k] {
			return nil, bad("id %q is written twice in table %s", w.Record.ID, w.Table)
		}
		seen[k] = true
	}
	return ws, nil
}

// IDField checks the name of the document field that holds a record's id
// (persist.Options.IDField): a plain key, as a filter key is, so it means
// the same on every backend.
func IDField(name string) error {
	if err := ident.FilterKey(name); err != nil {
		return fmt.Errorf("id field: %w", err)
	}
	return nil
}

// MinTime and MaxTime bound the Created and Updated times InsertMany keeps:
// the years 1 to 9999, which both backends store exactly (SQLite's
// microseconds since 1970 overflow past the year 294247, PostgreSQL's
// timestamptz ends at 294276) and which time.Time's JSON and RFC 3339
// forms can write.
var (
	MinTime = time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC)
	MaxTime = time.Date(9999, 12, 31, 23, 59, 59, 999999000, time.UTC)
)

// keptTimes checks the times InsertMany keeps; zero means unset.
func keptTimes(r persist.Record) error {
	for _, f := range []struct {
		name string
		t    time.Time
	}{{"created", r.Created}, {"updated", r.Updated}} {
		if !f.t.IsZero() && (f.t.Before(MinTime) || f.t.After(MaxTime)) {
			return fmt.Errorf("%s time %s is outside the years 1 to 9999", f.name, f.t.UTC().Format(time.RFC3339Nano))
		}
	}
	return nil
}
