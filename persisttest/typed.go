package persisttest

import (
	"encoding/json"
	"errors"
	"reflect"
	"testing"

	"github.com/persistkit/persist"
)

// item is the caller's own type in the Typed tests. Big checks that
// numbers survive the trip through encoding/json and the store exactly.
type item struct {
	Name  string            `json:"name"`
	N     int               `json:"n"`
	Big   json.Number       `json:"big,omitempty"`
	Tags  []string          `json:"tags,omitempty"`
	Attrs map[string]string `json:"attrs,omitempty"`
	Next  *item             `json:"next,omitempty"`
}

func testTyped(t *testing.T, open openFunc) {
	t.Run("Find", func(t *testing.T) {
		_, s := openStore(t, open, "items")
		ty := persist.NewTyped[item](s)
		for i, name := range []string{"c", "a", "b", "d"} {
			if _, err := ty.Put(t.Context(), name, item{Name: name, N: i, Next: &item{Name: "x" + name}}, 0); err != nil {
				t.Fatal(err)
			}
		}
		q := persist.Where("n", ">=", 1).Where("next.name", "!=", "xd").OrderBy("name", persist.Asc)
		var got []string
		for d, err := range ty.Find(t.Context(), q) {
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, d.Value.Name)
		}
		if !reflect.DeepEqual(got, []string{"a", "b"}) {
			t.Errorf("Find=%q, want [a b]", got)
		}
		docs, next, err := ty.FindPage(t.Context(), q.Limit(1))
		if err != nil || len(docs) != 1 || docs[0].ID != "a" || next == "" {
			t.Fatalf("FindPage = %v, %q, %v; want [a] and a cursor", docs, next, err)
		}
		docs, next, err = ty.FindPage(t.Context(), q.Limit(1).After(next))
		if err != nil || len(docs) != 1 || docs[0].ID != "b" || next != "" {
			t.Fatalf("second FindPage = %v, %q, %v; want [b] and no cursor", docs, next, err)
		}
		n, err := ty.CountWhere(t.Context(), q)
		if err != nil || n != 2 {
			t.Errorf("CountWhere = %d, %v; want 2", n, err)
		}
	})
	t.Run("PutGet", func(t *testing.T) {
		_, s := openStore(t, open, "items")
		ty := persist.NewTyped[item](s)
		if ty.Store() != s {
			t.Error("Store() is not the Store given to NewTyped")
		}
		v := item{Name: "alpha", N: 7, Big: "12345678901234567890", Tags: []string{"x", "ü"},
			Attrs: map[string]string{"k": "v"}, Next: &item{Name: "beta"}}
		put, err := ty.Put(t.Context(), "a", v, 0)
		if err != nil {
			t.Fatalf("Put: %v", err)
		}
		if put.ID != "a" || put.Revision != 1 {
			t.Errorf("Put: ID=%q Revision=%v, want a 1", put.ID, put.Revision)
		}
		got, err := ty.Get(t.Context(), "a")
		if err != nil {
			t.Fatalf("Get: %v", err)
		}
		if !reflect.DeepEqual(got.Value, v) {
			t.Errorf("Get: Value=%+v, want %+v", got.Value, v)
		}
		if got.Revision != 1 || !got.Created.Equal(put.Created) || !got.Updated.Equal(put.Updated) {
			t.Errorf("Get: Revision=%v Created=%v Updated=%v, want 1 %v %v", got.Revision, got.Created, got.Updated, put.Created, put.Updated)
		}
		// A precondition, as on Store.Put.
		if _, err := ty.Put(t.Context(), "a", v, 5); !errors.Is(err, persist.ErrConflict) {
			t.Errorf("Put with stale revision: err %v, want %v", err, persist.ErrConflict)
		}
		if d, err := ty.Put(t.Context(), "a", v, 1); err != nil || d.Revision != 2 {
			t.Errorf("Put with revision 1: Revision=%v, %v; want 2", d.Revision, err)
		}
		gen, err := ty.Put(t.Context(), "", item{Name: "generated"}, 0)
		if err != nil {
			t.Fatalf("Put with empty id: %v", err)
		}
		wantGeneratedID(t, gen.ID)
		_, err = ty.Get(t.Context(), "missing")
		wantOpErr(t, err, persist.ErrNotFound, "get", "items", "missing")
	})

	t.Run("Insert", func(t *testing.T) {
		_, s := openStore(t, open, "items")
		ty := persist.NewTyped[item](s)
		if _, err := ty.Insert(t.Context(), "a", item{Name: "first"}); err != nil {
			t.Fatalf("Insert: %v", err)
		}
		_, err := ty.Insert(t.Context(), "a", item{Name: "second"})
		wantOpErr(t, err, persist.ErrConflict, "insert", "items", "a")
		if got, err := ty.Get(t.Context(), "a"); err != nil || got.Value.Name != "first" {
			t.Errorf("Get=%+v, %v; want the first", got.Value, err)
		}
	})

	t.Run("Modify", func(t *testing.T) {
		_, s := openStore(t, open, "items")
		ty := persist.NewTyped[item](s)
		if _, err := ty.Put(t.Context(), "a", item{Name: "alpha", N: 1}, 0); err != nil {
			t.Fatal(err)
		}
		d, err := ty.Modify(t.Context(), "a", func(v *item) error {
			v.N++
			v.Tags = append(v.Tags, "modified")
			return nil
		})
		if err != nil {
			t.Fatalf("Modify: %v", err)
		}
		want := item{Name: "alpha", N: 2, Tags: []string{"modified"}}
		if !reflect.DeepEqual(d.Value, want) || d.Revision != 2 {
			t.Errorf("Modify=%+v rev %d, want %+v rev 2", d.Value, d.Revision, want)
		}
		_, err = ty.Modify(t.Context(), "a", func(v *item) error {
			v.N = 100
			return errBoom
		})
		wantOpErr(t, err, errBoom, "update_func", "items", "a")
		if got, err := ty.Get(t.Context(), "a"); err != nil || !reflect.DeepEqual(got.Value, want) || got.Revision != 2 {
			t.Errorf("Get after a failed Modify=%+v rev %d, %v; want %+v rev 2", got.Value, got.Revision, err, want)
		}
	})

	t.Run("QueryList", func(t *testing.T) {
		_, s := openStore(t, open, "items")
		ty := persist.NewTyped[item](s)
		for _, v := range []item{{Name: "c", N: 1}, {Name: "a", N: 2}, {Name: "b", N: 1}} {
			if _, err := ty.Put(t.Context(), v.Name, v, 0); err != nil {
				t.Fatal(err)
			}
		}
		var names []string
		for d, err := range ty.Query(t.Context(), map[string]any{"n": 1}, nil) {
			if err != nil {
				t.Fatalf("Query: %v", err)
			}
			if d.ID != d.Value.Name {
				t.Errorf("Query: ID=%q with Value.Name=%q", d.ID, d.Value.Name)
			}
			names = append(names, d.Value.Name)
		}
		if !reflect.DeepEqual(names, []string{"c", "b"}) {
			t.Errorf("Query names %q, want [c b]", names)
		}
		names = nil
		for d, err := range ty.List(t.Context(), &persist.ListOptions{After: "c"}) {
			if err != nil {
				t.Fatalf("List: %v", err)
			}
			names = append(names, d.Value.Name)
		}
		if !reflect.DeepEqual(names, []string{"a", "b"}) {
			t.Errorf("List names %q, want [a b]", names)
		}
		if ok, err := ty.Delete(t.Context(), "a"); err != nil || !ok {
			t.Errorf("Delete=%v, %v; want true", ok, err)
		}
		wantCount(t, s, 2)
	})

	t.Run("ErrInvalid", func(t *testing.T) {
		_, s := openStore(t, open, "items")
		// A stored document that does not fit the type.
		mustPut(t, s, "odd", `{"name":5}`)
		_, err := persist.NewTyped[item](s).Get(t.Context(), "odd")
		wantOpErr(t, err, persist.ErrInvalid, "get", "items", "odd")
		// A type that does not encode to an object.
		_, err = persist.NewTyped[[]int](s).Put(t.Context(), "list", []int{1}, 0)
		wantErr(t, err, persist.ErrInvalid)
		wantMissing(t, s, "list")
		wantCount(t, s, 1)
	})
}
