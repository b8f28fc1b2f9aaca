package query

import (
	"bytes"
	"encoding/json"
	"math/big"
	"slices"
	"strings"
)

// Doc is a record as the reference evaluator sees it.
type Doc struct {
	ID   string
	Seq  int64
	Data []byte
}

// Eval is the reference evaluator: the records of docs that s matches, in
// its order, after its cursor, at most its limit. It is written plainly,
// over decoded values with exact big.Rat numbers and without Key, so that
// the backends (which compare keys) are checked against an independent
// statement of the same rules.
func Eval(docs []Doc, s *Spec) []Doc {
	type row struct {
		d    Doc
		vals []any
	}
	var rows []row
	for _, d := range docs {
		if !Match(d.Data, s) {
			continue
		}
		r := row{d: d}
		for _, k := range s.Fields() {
			r.vals = append(r.vals, field(d.Data, k.Path))
		}
		rows = append(rows, r)
	}
	cmp := func(av []any, aseq int64, bv []any, bseq int64) int {
		for i, k := range s.Fields() {
			c := order(av[i], bv[i])
			if k.Desc {
				c = -c
			}
			if c != 0 {
				return c
			}
		}
		c := compareInt(aseq, bseq)
		if s.Keys[len(s.Keys)-1].Desc {
			c = -c
		}
		return c
	}
	slices.SortFunc(rows, func(a, b row) int { return cmp(a.vals, a.d.Seq, b.vals, b.d.Seq) })
	var out []Doc
	for _, r := range rows {
		if s.After != nil {
			cv := make([]any, len(s.After.Values))
			for i, v := range s.After.Values {
				cv[i] = missing{}
				if v.Rank != RankMissing {
					cv[i] = decode([]byte(v.Canon))
				}
			}
			if cmp(r.vals, r.d.Seq, cv, s.After.Seq) <= 0 {
				continue
			}
		}
		out = append(out, r.d)
		if s.Limit > 0 && len(out) == s.Limit {
			break
		}
	}
	return out
}

// Match reports whether the document data meets every condition of s.
func Match(data []byte, s *Spec) bool {
	for _, c := range s.Conds {
		v := field(data, c.Path)
		_, isMissing := v.(missing)
		ok := false
		switch c.Op {
		case Exists:
			ok = !isMissing
		case Missing:
			ok = isMissing
		case Eq, Ne:
			ok = equal(v, decode([]byte(c.Value.Canon)))
			if c.Op == Ne {
				ok = !ok
			}
		case In, NotIn:
			for _, x := range c.Values {
				if equal(v, decode([]byte(x.Canon))) {
					ok = true
				}
			}
			if c.Op == NotIn {
				ok = !ok
			}
		default:
			w := decode([]byte(c.Value.Canon))
			if rank(v) != rank(w) {
				break
			}
			o := order(v, w)
			switch c.Op {
			case Lt:
				ok = o < 0
			case Le:
				ok = o <= 0
			case Gt:
				ok = o > 0
			case Ge:
				ok = o >= 0
			}
		}
		if !ok {
			return false
		}
	}
	return true
}

// missing is the value of an absent field.
type missing struct{}

func field(data []byte, path []string) any {
	raw := Lookup(data, path)
	if raw == nil {
		return missing{}
	}
	return decode(raw)
}

func decode(raw []byte) any {
	d := json.NewDecoder(bytes.NewReader(raw))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		return missing{}
	}
	return v
}

func rank(v any) Rank {
	switch v := v.(type) {
	case missing:
		return RankMissing
	case nil:
		return RankNull
	case bool:
		if v {
			return RankTrue
		}
		return RankFalse
	case json.Number:
		return RankNumber
	case string:
		return RankString
	case []any:
		return RankArray
	}
	return RankObject
}

func rat(n json.Number) *big.Rat {
	r, ok := new(big.Rat).SetString(string(n))
	if !ok {
		return new(big.Rat)
	}
	return r
}

// order compares two values in the documented total order.
func order(a, b any) int {
	ra, rb := rank(a), rank(b)
	if ra != rb {
		return compareInt(int64(ra), int64(rb))
	}
	switch ra {
	case RankNumber:
		return rat(a.(json.Number)).Cmp(rat(b.(json.Number)))
	case RankString:
		return strings.Compare(a.(string), b.(string))
	}
	return 0
}

// equal is whole-value equality: same type, numbers by exact value,
// arrays element by element, objects key by key.
func equal(a, b any) bool {
	if rank(a) != rank(b) {
		return false
	}
	switch a := a.(type) {
	case missing:
		return false
	case json.Number:
		return rat(a).Cmp(rat(b.(json.Number))) == 0
	case string:
		return a == b.(string)
	case []any:
		bb := b.([]any)
		if len(a) != len(bb) {
			return false
		}
		for i := range a {
			if !equal(a[i], bb[i]) {
				return false
			}
		}
		return true
	case map[string]any:
		bb := b.(map[string]any)
		if len(a) != len(bb) {
			return false
		}
		for k, v := range a {
			w, ok := bb[k]
			if !ok || !equal(v, w) {
				return false
			}
		}
		return true
	}
	return true // null, false, true: the rank is the value
}

func compareInt(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}
