package persist_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log"

	"github.com/persistkit/persist"
	_ "github.com/persistkit/persist/sqlite"
)

func ExampleOpen() {
	ctx := context.Background()
	db, err := persist.Open(ctx, "sqlite://:memory:", nil)
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()
	fmt.Println(db.Ping(ctx))

	_, err = persist.Open(ctx, "mysql://app@db/portal", nil)
	fmt.Println(errors.Is(err, persist.ErrUnknownScheme))
	// Output:
	// <nil>
	// true
}

func ExampleStore_Put() {
	ctx := context.Background()
	db, err := persist.Open(ctx, "sqlite://:memory:", nil)
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()
	sources, err := db.Store("sources")
	if err != nil {
		log.Fatal(err)
	}

	rec, err := sources.Put(ctx, persist.Record{ID: "src-1", Data: json.RawMessage(`{"name":"lake","rows":12345678901234567890}`)})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(rec.ID, rec.Revision)

	got, err := sources.Get(ctx, "src-1")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(string(got.Data))
	// Output:
	// src-1 1
	// {"name":"lake","rows":12345678901234567890}
}

func ExampleStore_Query() {
	ctx := context.Background()
	db, err := persist.Open(ctx, "sqlite://:memory:", nil)
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()
	s, err := db.Store("sources")
	if err != nil {
		log.Fatal(err)
	}
	for id, data := range map[string]string{"a": `{"n":1}`, "b": `{"n":1.0}`, "c": `{"n":"1"}`, "d": `{"n":true}`} {
		if _, err := s.Put(ctx, persist.Record{ID: id, Data: json.RawMessage(data)}); err != nil {
			log.Fatal(err)
		}
	}
	// Equality is by JSON type and value: 1 and 1.0 match, "1" and true do not.
	n := 0
	for rec, err := range s.Query(ctx, json.RawMessage(`{"n":1}`), &persist.ListOptions{Order: persist.ByID}) {
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println(rec.ID, string(rec.Data))
		n++
	}
	fmt.Println(n, "matches")
	// Output:
	// a {"n":1}
	// b {"n":1.0}
	// 2 matches
}

func ExampleStore_UpdateFunc() {
	ctx := context.Background()
	db, err := persist.Open(ctx, "sqlite://:memory:", nil)
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()
	counters, err := db.Store("counters")
	if err != nil {
		log.Fatal(err)
	}
	if _, err := counters.Put(ctx, persist.Record{ID: "hits", Data: json.RawMessage(`{"n":41}`)}); err != nil {
		log.Fatal(err)
	}

	rec, err := counters.UpdateFunc(ctx, "hits", func(cur persist.Record) (json.RawMessage, error) {
		var v struct{ N int }
		if err := json.Unmarshal(cur.Data, &v); err != nil {
			return nil, err
		}
		return json.Marshal(map[string]int{"n": v.N + 1})
	})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(string(rec.Data), rec.Revision)
	// Output:
	// {"n":42} 2
}

func ExampleTyped() {
	type Source struct {
		Name    string `json:"name"`
		Enabled bool   `json:"enabled"`
	}
	ctx := context.Background()
	db, err := persist.Open(ctx, "sqlite://:memory:", nil)
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()
	s, err := db.Store("sources")
	if err != nil {
		log.Fatal(err)
	}
	sources := persist.NewTyped[Source](s)

	if _, err := sources.Put(ctx, "src-1", Source{Name: "lake", Enabled: true}, 0); err != nil {
		log.Fatal(err)
	}
	doc, err := sources.Modify(ctx, "src-1", func(v *Source) error { v.Enabled = false; return nil })
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%s %+v revision %d\n", doc.ID, doc.Value, doc.Revision)
	// Output:
	// src-1 {Name:lake Enabled:false} revision 2
}

func ExampleError() {
	ctx := context.Background()
	db, err := persist.Open(ctx, "sqlite://:memory:", nil)
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()
	users, err := db.Store("users")
	if err != nil {
		log.Fatal(err)
	}

	_, err = users.Get(ctx, "42")
	fmt.Println(errors.Is(err, persist.ErrNotFound), err)

	if _, err := users.Insert(ctx, persist.Record{ID: "7", Data: json.RawMessage(`{}`)}); err != nil {
		log.Fatal(err)
	}
	_, err = users.Insert(ctx, persist.Record{ID: "7", Data: json.RawMessage(`{}`)})
	fmt.Println(errors.Is(err, persist.ErrConflict))

	_, err = users.Put(ctx, persist.Record{ID: "8", Data: json.RawMessage(`[1,2]`)})
	var pe *persist.Error
	fmt.Println(errors.Is(err, persist.ErrInvalid), errors.As(err, &pe) && pe.Op == "put" && pe.ID == "8")

	_, err = db.Store(`x"; DROP TABLE users; --`)
	fmt.Println(errors.Is(err, persist.ErrInvalid))

	db.Close()
	_, err = users.Get(ctx, "7")
	fmt.Println(errors.Is(err, persist.ErrClosed))
	// Output:
	// true persist: get users/42: not found
	// true
	// true true
	// true
	// true
}

func ExampleDB_Tx() {
	ctx := context.Background()
	db, err := persist.Open(ctx, "sqlite://:memory:", nil)
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()

	errAbort := errors.New("abort")
	err = db.Tx(ctx, func(tx persist.Tx) error {
		orders, err := tx.Store("orders")
		if err != nil {
			return err
		}
		if _, err := orders.Put(ctx, persist.Record{ID: "o1", Data: json.RawMessage(`{"total":10}`)}); err != nil {
			return err
		}
		return errAbort // rolls back the Put
	})
	fmt.Println(errors.Is(err, errAbort))

	orders, err := db.Store("orders")
	if err != nil {
		log.Fatal(err)
	}
	n, err := orders.Count(ctx)
	fmt.Println(n, err)
	// Output:
	// true
	// 0 <nil>
}
