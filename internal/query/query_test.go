package query

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/persistkit/persist"
)

// randValue returns a random JSON value, biased towards the edges of the
// order: equal numbers spelled differently, big and tiny numbers, strings
// that are prefixes of each other and non-ASCII ones.
func randValue(r *rand.Rand, depth int) string {
	switch r.IntN(9) {
	case 0:
		return "null"
	case 1:
		return []string{"true", "false"}[r.IntN(2)]
	case 2, 3, 4:
		return []string{"0", "-0", "0.0", "1", "1.0", "1e0", "10E-1", "-1", "-1.5", "-1.50", "1.10", "1.1", "2",
			"12345678901234567890", "12345678901234567891", "-12345678901234567891", "1e21", "1e-7", "0.0000001",
			"99", "100", "1e2", "-100", "-99.999", "3.14159265358979323846264338327950288", "1.5e300", "-2.5e-30",
			fmt.Sprint(r.IntN(200) - 100), fmt.Sprintf("%d.%d", r.IntN(20)-10, r.IntN(100))}[r.IntN(29)]
	case 5, 6:
		return []string{`""`, `"a"`, `"ab"`, `"b"`, `"B"`, `"é"`, `"😀"`, `"\uffee"`, `"a\u0001"`, `"Z"`, `"ä"`}[r.IntN(11)]
	case 7:
		if depth > 1 {
			return "[]"
		}
		return "[" + randValue(r, depth+1) + "]"
	}
	if depth > 1 {
		return "{}"
	}
	return `{"k":` + randValue(r, depth+1) + `}`
}

func TestKeyOrder(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for range 20000 {
		a, b := randValue(r, 0), randValue(r, 0)
		ka, kb := Key([]byte(a)), Key([]byte(b))
		want := order(decode([]byte(a)), decode([]byte(b)))
		if got := bytes.Compare(ka, kb); got != want {
			t.Fatalf("Key order of %s and %s is %d, want %d", a, b, got, want)
		}
	}
	for range 20000 {
		a := randValue(r, 0)
		v, err := ParseValue([]byte(a))
		if err != nil {
			t.Fatal(err)
		}
		if k := Key(a); !bytes.Equal(k, v.Key) {
			t.Fatalf("Key(%s) = %x, ParseValue's key %x", a, k, v.Key)
		}
	}
	for _, esc := range []string{`"\u00e9"`, `"a\"b"`, `"\ud83d\ude00"`, ` "x" `, " 1.0\n"} {
		v, _ := ParseValue([]byte(esc))
		if k := Key(esc); !bytes.Equal(k, v.Key) {
			t.Errorf("Key(%s) = %x, want %x", esc, k, v.Key)
		}
	}
	if got := bytes.Compare(Key([]byte(nil)), Key([]byte("null"))); got != -1 {
		t.Errorf("missing vs null = %d, want -1", got)
	}
}

func TestParseLimits(t *testing.T) {
	deep := strings.TrimSuffix(strings.Repeat("a.", MaxDepth), ".")
	many := func(n int) persist.Query {
		q := persist.Query{}
		for range n {
			q = q.Where("a", "==", 1)
		}
		return q
	}
	list := func(n int) []int { return make([]int, n) }
	sorts := func(n int) persist.Query {
		q := persist.Query{}
		for range n {
			q = q.OrderBy("a", persist.Asc)
		}
		return q
	}
	for _, tt := range []struct {
		name string
		q    persist.Query
		page bool
		ok   bool
	}{
		{"Depth", persist.Where(deep, "exists", nil), false, true},
		{"DepthOver", persist.Where(deep+".a", "exists", nil), false, false},
		{"Conditions", many(MaxConditions), false, true},
		{"ConditionsOver", many(MaxConditions + 1), false, false},
		{"In", persist.Where("a", "in", list(MaxIn)), false, true},
		{"InOver", persist.Where("a", "in", list(MaxIn+1)), false, false},
		{"Sorts", sorts(MaxSorts), false, true},
		{"SortsOver", sorts(MaxSorts + 1), false, false},
		{"Value", persist.Where("a", "==", strings.Repeat("x", MaxValue-2)), false, true},
		{"ValueOver", persist.Where("a", "==", strings.Repeat("x", MaxValue-1)), false, false},
		{"Page", persist.Query{}.Limit(MaxPage), true, true},
		{"PageOver", persist.Query{}.Limit(MaxPage + 1), true, false},
		{"KeyLength", persist.Where(strings.Repeat("k", 128), "exists", nil), false, true},
		{"KeyLengthOver", persist.Where(strings.Repeat("k", 129), "exists", nil), false, false},
		{"NegativeLimit", persist.Query{}.Limit(-1), false, false},
		{"UnknownOp", persist.Where("a", "=", 1), false, false},
		{"RangeOnBool", persist.Where("a", "<", true), false, false},
		{"RangeOnNull", persist.Where("a", "<", nil), false, false},
		{"ExistsWithValue", persist.Where("a", "exists", 1), false, false},
		{"EqNil", persist.Where("a", "==", nil), false, true},
		{"InNotArray", persist.Where("a", "in", 1), false, false},
		{"EmptyPath", persist.Where("", "exists", nil), false, false},
		{"EmptySegment", persist.Where("a..b", "exists", nil), false, false},
		{"IndexSegment", persist.Where("a.0", "exists", nil), false, false},
		{"InsertedNotLast", persist.OrderBy(persist.Inserted, persist.Desc).OrderBy("a", persist.Asc), false, false},
		{"InsertedLast", persist.OrderBy("a", persist.Asc).OrderBy(persist.Inserted, persist.Desc), false, true},
		{"BadDirection", persist.OrderBy("a", 7), false, false},
		{"Unencodable", persist.Where("a", "==", func() {}), false, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("find", "t", tt.q, tt.page)
			if tt.ok && err != nil {
				t.Fatalf("Parse: %v, want nil", err)
			}
			if !tt.ok && !errors.Is(err, persist.ErrInvalid) {
				t.Fatalf("Parse: %v, want ErrInvalid", err)
			}
		})
	}
}

func TestCursor(t *testing.T) {
	q := persist.Where("a", ">", 1).OrderBy("b", persist.Desc)
	s, err := Parse("find", "t", q, true)
	if err != nil {
		t.Fatal(err)
	}
	c := s.Cursor([]byte(`{"a":2,"b":"x"}`), 7)
	s2, err := Parse("find", "t", q.Limit(5).After(c), true)
	if err != nil {
		t.Fatalf("Parse with own cursor: %v", err)
	}
	if s2.After.Seq != 7 || s2.After.Values[0].Str != "x" {
		t.Errorf("cursor = %+v", s2.After)
	}
	for _, other := range []persist.Query{
		persist.Where("a", ">", 2).OrderBy("b", persist.Desc),
		persist.Where("a", ">", 1).OrderBy("b", persist.Asc),
		persist.Where("a", ">", 1),
	} {
		if _, err := Parse("find", "t", other.After(c), true); !errors.Is(err, persist.ErrInvalid) {
			t.Errorf("cursor on another query: %v, want ErrInvalid", err)
		}
	}
	if _, err := Parse("find", "t", q.After("garbage!"), true); !errors.Is(err, persist.ErrInvalid) {
		t.Errorf("garbage cursor: %v, want ErrInvalid", err)
	}
}
