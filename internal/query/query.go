// Package query states the semantics of persist.Query once for every
// backend: which queries are valid (Parse), the total order of JSON values
// as an order-preserving byte key (Key), cursors (Spec.Cursor), and a plain
// reference evaluator (Eval) that the conformance suite's differential test
// compares each backend with. Backends translate a Spec to SQL; they decide
// nothing about what it means.
package query

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/persistkit/persist"
	"github.com/persistkit/persist/internal/check"
	"github.com/persistkit/persist/internal/ident"
	"github.com/persistkit/persist/internal/jsonx"
)

// The bounds of a query, each stated in persist.Query's documentation.
const (
	MaxDepth      = 16   // keys in a path
	MaxConditions = 32   // conditions in a query
	MaxIn         = 100  // values of in and not-in
	MaxSorts      = 8    // sort keys, Inserted included
	MaxValue      = 4096 // bytes of one encoded value
	DefaultPage   = 100  // FindPage's page size when Limit is 0
	MaxPage       = 1000 // FindPage's largest page
	MaxCursor     = 1 << 16
)

// Op is a condition's operator.
type Op int

// The operators, in persist.Query's order.
const (
	Eq Op = iota + 1
	Ne
	Lt
	Le
	Gt
	Ge
	In
	NotIn
	Exists
	Missing
)

var ops = map[string]Op{
	"==": Eq, "!=": Ne, "<": Lt, "<=": Le, ">": Gt, ">=": Ge,
	"in": In, "not-in": NotIn, "exists": Exists, "missing": Missing,
}

// String returns the operator as persist.Query spells it.
func (o Op) String() string {
	for s, v := range ops {
		if v == o {
			return s
		}
	}
	return fmt.Sprintf("Op(%d)", int(o))
}

// Rank is the place of a JSON type in the total order of values.
type Rank byte

// The ranks, smallest first. Booleans are two ranks so that false < true
// needs no value.
const (
	RankMissing Rank = iota + 1
	RankNull
	RankFalse
	RankTrue
	RankNumber
	RankString
	RankArray
	RankObject
)

// Value is a checked condition or cursor value.
type Value struct {
	Rank Rank
	// Num is the canonical number (jsonx.CanonicalNumber) of RankNumber.
	Num string
	// Str is the decoded string of RankString.
	Str string
	// Canon is the canonical JSON (jsonx.Canonical) of any present value;
	// arrays and objects compare by it.
	Canon string
	// Key is the value's order-preserving key (see Key).
	Key []byte
}

// Cond is one checked condition.
type Cond struct {
	Path []string
	Op   Op
	// Value is the operand of Eq, Ne, Lt, Le, Gt and Ge; Values those of In
	// and NotIn.
	Value  Value
	Values []Value
}

// SortKey is one checked sort key; a nil Path is insertion order.
type SortKey struct {
	Path []string
	Desc bool
}

// Spec is a checked query.
type Spec struct {
	Conds []Cond
	// Keys are the sort keys, always ending with insertion order.
	Keys  []SortKey
	Limit int
	// After is the decoded cursor, nil at the beginning.
	After *Cursor
	// hash binds cursors to the conditions and order.
	hash string
}

// Fields returns the field keys of s, without the final insertion order.
func (s *Spec) Fields() []SortKey { return s.Keys[:len(s.Keys)-1] }

// Parse checks q for op on table: Find and CountWhere with page false,
// FindPage with page true (whose Limit defaults to DefaultPage). A bad
// query is a *persist.Error matching persist.ErrInvalid.
func Parse(op, table string, q persist.Query, page bool) (*Spec, error) {
	p := q.Parts()
	bad := func(format string, args ...any) error { return check.Invalid(op, table, "", format, args...) }
	if p.Err != nil {
		return nil, bad("query: %v", p.Err)
	}
	if len(p.Conditions) > MaxConditions {
		return nil, bad("query has %d conditions, more than %d", len(p.Conditions), MaxConditions)
	}
	s := &Spec{Limit: p.Limit}
	h := sha256.New()
	for i, c := range p.Conditions {
		pc, err := parseCond(c)
		if err != nil {
			return nil, bad("condition %d: %v", i, err)
		}
		s.Conds = append(s.Conds, pc)
		fmt.Fprintf(h, "c%q%d", c.Path, pc.Op)
		if pc.Op < In {
			fmt.Fprintf(h, "%q", pc.Value.Canon)
		}
		for _, v := range pc.Values {
			fmt.Fprintf(h, "%q", v.Canon)
		}
	}
	if len(p.Order) > MaxSorts {
		return nil, bad("query has %d sort keys, more than %d", len(p.Order), MaxSorts)
	}
	for i, o := range p.Order {
		if o.Dir != persist.Asc && o.Dir != persist.Desc {
			return nil, bad("sort key %d: direction %d is unknown", i, int(o.Dir))
		}
		if o.Path == persist.Inserted {
			if i != len(p.Order)-1 {
				return nil, bad("sort key %d: %s must be the last key", i, persist.Inserted)
			}
			s.Keys = append(s.Keys, SortKey{Desc: o.Dir == persist.Desc})
			continue
		}
		path, err := ParsePath(o.Path)
		if err != nil {
			return nil, bad("sort key %d: %v", i, err)
		}
		s.Keys = append(s.Keys, SortKey{Path: path, Desc: o.Dir == persist.Desc})
	}
	if n := len(s.Keys); n == 0 || s.Keys[n-1].Path != nil {
		desc := n > 0 && s.Keys[n-1].Desc
		s.Keys = append(s.Keys, SortKey{Desc: desc})
	}
	for _, k := range s.Keys {
		fmt.Fprintf(h, "s%q%v", strings.Join(k.Path, "."), k.Desc)
	}
	s.hash = hex.EncodeToString(h.Sum(nil)[:8])
	switch {
	case s.Limit < 0:
		return nil, bad("limit %d is negative", s.Limit)
	case page && s.Limit > MaxPage:
		return nil, bad("limit %d is more than a page's %d", s.Limit, MaxPage)
	case page && s.Limit == 0:
		s.Limit = DefaultPage
	}
	if p.After != "" {
		c, err := s.decodeCursor(p.After)
		if err != nil {
			return nil, bad("cursor: %v", err)
		}
		s.After = c
	}
	return s, nil
}

// ParsePath splits and checks a field path.
func ParsePath(path string) ([]string, error) {
	if path == "" {
		return nil, fmt.Errorf("path is empty")
	}
	keys := strings.Split(path, ".")
	if len(keys) > MaxDepth {
		return nil, fmt.Errorf("path has %d keys, more than %d", len(keys), MaxDepth)
	}
	for _, k := range keys {
		if err := ident.FilterKey(k); err != nil {
			return nil, fmt.Errorf("path %q: %v", truncate(path), strings.Replace(err.Error(), "filter key", "key", 1))
		}
	}
	return keys, nil
}

func truncate(s string) string {
	if len(s) > 64 {
		return s[:64] + "..."
	}
	return s
}

func parseCond(c persist.Condition) (Cond, error) {
	path, err := ParsePath(c.Path)
	if err != nil {
		return Cond{}, err
	}
	op, ok := ops[c.Op]
	if !ok {
		return Cond{}, fmt.Errorf("operator %q is unknown", truncate(c.Op))
	}
	pc := Cond{Path: path, Op: op}
	if op == Exists || op == Missing {
		if c.Value != nil {
			return Cond{}, fmt.Errorf("%s takes no value", c.Op)
		}
		return pc, nil
	}
	if c.Value == nil {
		return Cond{}, fmt.Errorf("%s needs a value", c.Op)
	}
	if len(c.Value) > MaxValue {
		return Cond{}, fmt.Errorf("value is %d bytes, more than %d", len(c.Value), MaxValue)
	}
	if op == In || op == NotIn {
		var raws []json.RawMessage
		if err := jsonx.Validate(c.Value); err != nil {
			return Cond{}, fmt.Errorf("value: %v", err)
		}
		if err := json.Unmarshal(c.Value, &raws); err != nil {
			return Cond{}, fmt.Errorf("%s needs a JSON array of values", c.Op)
		}
		if len(raws) > MaxIn {
			return Cond{}, fmt.Errorf("%s has %d values, more than %d", c.Op, len(raws), MaxIn)
		}
		for _, r := range raws {
			v, err := ParseValue(r)
			if err != nil {
				return Cond{}, fmt.Errorf("value: %v", err)
			}
			pc.Values = append(pc.Values, v)
		}
		return pc, nil
	}
	v, err := ParseValue(c.Value)
	if err != nil {
		return Cond{}, fmt.Errorf("value: %v", err)
	}
	if op >= Lt && op <= Ge && v.Rank != RankNumber && v.Rank != RankString {
		return Cond{}, fmt.Errorf("%s takes a number or a string", c.Op)
	}
	pc.Value = v
	return pc, nil
}

// ParseValue checks one JSON value (as persist accepts in a document) and
// returns it with its rank, canonical forms and key.
func ParseValue(raw []byte) (Value, error) {
	canon, err := jsonx.Canonical(raw)
	if err != nil {
		return Value{}, err
	}
	v := Value{Canon: string(canon)}
	switch canon[0] {
	case 'n':
		v.Rank = RankNull
	case 'f':
		v.Rank = RankFalse
	case 't':
		v.Rank = RankTrue
	case '"':
		v.Rank = RankString
		if err := json.Unmarshal(canon, &v.Str); err != nil {
			return Value{}, err
		}
	case '[':
		v.Rank = RankArray
	case '{':
		v.Rank = RankObject
	default:
		v.Rank = RankNumber
		v.Num = string(canon)
	}
	v.Key = valueKey(v)
	return v, nil
}
