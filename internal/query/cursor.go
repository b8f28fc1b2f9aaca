package query

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
)

// Cursor is a position in a query's order: the sort-key values of the
// record it follows and that record's insertion position (seq).
type Cursor struct {
	// Values are the field keys' values, one per Spec.Fields, each with
	// Rank RankMissing when the record had no such field.
	Values []Value
	Seq    int64
}

type cursorJSON struct {
	H string     `json:"h"`
	K []keyValue `json:"k"`
	S int64      `json:"s"`
}

type keyValue struct {
	V json.RawMessage `json:"v,omitempty"`
}

// Cursor returns the cursor that resumes s after the record with document
// data at insertion position seq.
func (s *Spec) Cursor(data []byte, seq int64) string {
	c := cursorJSON{H: s.hash, S: seq, K: []keyValue{}}
	for _, k := range s.Fields() {
		var kv keyValue
		if raw := Lookup(data, k.Path); raw != nil {
			kv.V = Canon(raw)
		}
		c.K = append(c.K, kv)
	}
	b, _ := json.Marshal(c)
	return base64.RawURLEncoding.EncodeToString(b)
}

func (s *Spec) decodeCursor(text string) (*Cursor, error) {
	if len(text) > MaxCursor {
		return nil, fmt.Errorf("%d bytes, more than %d", len(text), MaxCursor)
	}
	b, err := base64.RawURLEncoding.DecodeString(text)
	if err != nil {
		return nil, fmt.Errorf("not a cursor of this store")
	}
	var c cursorJSON
	if err := json.Unmarshal(b, &c); err != nil {
		return nil, fmt.Errorf("not a cursor of this store")
	}
	if c.H != s.hash {
		return nil, fmt.Errorf("from another query")
	}
	if len(c.K) != len(s.Fields()) {
		return nil, fmt.Errorf("has %d sort values, want %d", len(c.K), len(s.Fields()))
	}
	out := &Cursor{Seq: c.S}
	for i, kv := range c.K {
		v := Value{Rank: RankMissing, Key: []byte{RankMissing.KeyByte()}}
		if kv.V != nil {
			if v, err = ParseValue(kv.V); err != nil {
				return nil, fmt.Errorf("sort value %d: %v", i, err)
			}
		}
		out.Values = append(out.Values, v)
	}
	return out, nil
}

// Next returns a copy of s that resumes after the record with document
// data at insertion position seq: what decoding s.Cursor(data, seq) gives,
// without the round trip.
func (s *Spec) Next(data []byte, seq int64) *Spec {
	c := &Cursor{Seq: seq}
	for _, k := range s.Fields() {
		v := Value{Rank: RankMissing, Key: []byte{RankMissing.KeyByte()}}
		if raw := Lookup(data, k.Path); raw != nil {
			if pv, err := ParseValue(raw); err == nil {
				v = pv
			}
		}
		c.Values = append(c.Values, v)
	}
	next := *s
	next.After = c
	return &next
}
