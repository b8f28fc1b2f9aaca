// Command sa1019 calls the deprecated sync wrapper on purpose, so a test can
// show that staticcheck reports SA1019 at such a call site.
package main

import (
	"context"
	"fmt"

	"github.com/persistkit/persist"
	_ "github.com/persistkit/persist/sqlite"
)

func main() {
	db, err := persist.Open(context.Background(), "sqlite://:memory:", nil)
	if err != nil {
		panic(err)
	}
	defer db.Close()
	store, err := db.Store("legacy")
	if err != nil {
		panic(err)
	}
	s := persist.NewSyncStore(store, 0)
	fmt.Println(s.Count())
}
