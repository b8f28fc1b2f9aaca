package persist

import (
	"encoding/json"
	"fmt"
	"slices"
)

// Direction is the direction of one sort key of a [Query].
type Direction int

const (
	// Asc sorts from the smallest value up. It is the default.
	Asc Direction = iota
	// Desc sorts from the largest value down.
	Desc
)

// Inserted names insertion order as a sort key: OrderBy(Inserted, Desc)
// lists the newest records first. It may only be the last key. Every sort
// order ends with it: when a query's last key is a field, ties are broken
// by insertion order in that key's direction.
const Inserted = "@inserted"

// Query selects, orders and pages the records of a [Store] for
// [Store.Find], [Store.FindPage] and [Store.CountWhere]. It is an immutable
// value: each method returns a new Query and leaves the receiver alone, so
// a base query can be shared and refined. The zero Query matches every
// record in insertion order. A Query is checked when it runs, so a bad
// path, operator, value or cursor is [ErrInvalid] from the call that uses
// it.
//
// # Fields
//
// A path names a field of the document: one or more keys joined by dots
// ("status", "config.format"), each key matching
// ^[A-Za-z_][A-Za-z0-9_-]{0,127}$, at most 16 keys. A path never indexes
// into an array. A path that passes through a value that is not an object
// names a missing field.
//
// # Conditions
//
// Conditions are ANDed. Each compares the field at a path with a value,
// which is encoded with encoding/json when Where is called:
//
//	==       the field equals the value: same JSON type and equal value;
//	         arrays and objects compare as whole values, never by containment
//	!=       not ==: it matches a missing field and a field of another type
//	<, <=, >, >=  the field has the value's type (number or string, the only
//	         types these take) and compares so with it
//	in       == one of the values, a JSON array (at most 100 values)
//	not-in   not in
//	exists   the field is present, null included; the value must be nil
//	missing  the field is absent; the value must be nil
//
// Numbers compare by exact decimal value, never through float64: 1 == 1.0,
// 12345678901234567890 < 12345678901234567891. Strings compare by the bytes
// of their UTF-8 encoding, that is by code point, whatever the database's
// collation. A Query has at most 32 conditions; a value (an in or not-in
// list as a whole) encodes to at most 4096 bytes.
//
// # Order
//
// Values of different types sort in one fixed order, the same on every
// backend:
//
//	missing < null < false < true < numbers < strings < arrays < objects
//
// Numbers sort by value and strings by code point; all arrays sort as
// equal, and so do all objects, so their ties fall to insertion order. A
// Query has at most 8 sort keys.
//
// # Paging
//
// [Store.FindPage] returns a page and an opaque cursor that After takes to
// resume exactly after the page's last record. The cursor holds that
// record's sort key and insertion position, never an offset, so records
// inserted or deleted between pages neither shift the pages nor repeat
// records: a record that stays and that the query matches is seen exactly
// once. A record updated between pages is placed by its new sort key: if
// the update moves it from ahead of the cursor to behind it, it is not
// seen; if from behind to ahead, it is seen again. A cursor is bound to
// the query's conditions and order (not its limit), so one from another
// query is [ErrInvalid].
type Query struct {
	conds []Condition
	order []Sort
	limit int
	after string
	err   error
}

// Condition is one condition of a [Query]: the field at Path compared by
// Op with Value, the value as JSON (nil for exists and missing).
type Condition struct {
	Path  string
	Op    string
	Value json.RawMessage
}

// Sort is one sort key of a [Query].
type Sort struct {
	Path string
	Dir  Direction
}

// QueryParts is what a [Query] holds, for backends and tools that run or
// describe it.
type QueryParts struct {
	Conditions []Condition
	Order      []Sort
	Limit      int
	After      string
	// Err is the first value a Where call could not encode.
	Err error
}

// Where returns the zero Query with one condition: Query{}.Where(path, op,
// value).
func Where(path, op string, value any) Query { return Query{}.Where(path, op, value) }

// OrderBy returns the zero Query ordered by one key: Query{}.OrderBy(path,
// dir).
func OrderBy(path string, dir Direction) Query { return Query{}.OrderBy(path, dir) }

// Where returns q with one more condition. value is encoded with
// encoding/json now, so later changes to it do not affect q; a value that
// does not encode makes the query [ErrInvalid] when it runs. nil is JSON
// null (Where("n", "==", nil) matches a null field), except for exists
// and missing, which take no value.
func (q Query) Where(path, op string, value any) Query {
	c := Condition{Path: path, Op: op}
	if value != nil || op != "exists" && op != "missing" {
		b, err := json.Marshal(value)
		if err != nil && q.err == nil {
			q.err = fmt.Errorf("value for %s %s: %v", path, op, err)
		}
		c.Value = b
	}
	q.conds = append(slices.Clip(q.conds), c)
	return q
}

// OrderBy returns q with one more sort key, after those it has.
func (q Query) OrderBy(path string, dir Direction) Query {
	q.order = append(slices.Clip(q.order), Sort{Path: path, Dir: dir})
	return q
}

// Limit returns q yielding at most n records; 0 means no limit for
// [Store.Find] and 100 for [Store.FindPage], whose pages hold at most
// 1000. Negative is [ErrInvalid].
func (q Query) Limit(n int) Query {
	q.limit = n
	return q
}

// After returns q resuming after the position a cursor from
// [Store.FindPage] (the Next of a [Page]) names; "" starts at the
// beginning.
func (q Query) After(cursor string) Query {
	q.after = cursor
	return q
}

// Parts returns what q holds. The slices are q's own and must not be
// modified.
func (q Query) Parts() QueryParts {
	return QueryParts{Conditions: q.conds, Order: q.order, Limit: q.limit, After: q.after, Err: q.err}
}

// Page is one page of a [Store.FindPage] result.
type Page struct {
	// Records are the page's records, in the query's order.
	Records []Record
	// Next resumes after the last record, through [Query.After]; it is
	// empty when no record follows.
	Next string
}
