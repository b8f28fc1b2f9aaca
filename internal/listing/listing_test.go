package listing_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/persistkit/persist"
	"github.com/persistkit/persist/internal/listing"
)

func TestOptions(t *testing.T) {
	if o, err := listing.Options(nil); err != nil || o != (persist.ListOptions{}) {
		t.Errorf("Options(nil)=%+v, %v; want zero, nil", o, err)
	}
	ok := &persist.ListOptions{Limit: 5, After: "a", Order: persist.ByID}
	if o, err := listing.Options(ok); err != nil || o != *ok {
		t.Errorf("Options(%+v)=%+v, %v; want it back", *ok, o, err)
	}
	for _, bad := range []persist.ListOptions{{Limit: -1}, {Order: 7}, {After: "a\x00b"}, {After: strings.Repeat("x", 2049)}} {
		if _, err := listing.Options(&bad); err == nil {
			t.Errorf("Options(%+v)=nil error, want one", bad)
		}
	}
}

func TestFilter(t *testing.T) {
	fields, err := listing.Filter(json.RawMessage(`{"b":1,"a":"x"}`))
	if err != nil || len(fields) != 2 || fields[0].Key != "a" || fields[1].Key != "b" {
		t.Errorf("Filter=%+v, %v; want a then b", fields, err)
	}
	for _, bad := range []string{`[]`, `{"a":[1]}`, `{"a.b":1}`, `{"x\"; DROP TABLE y; --":1}`, `{`, ``} {
		if _, err := listing.Filter(json.RawMessage(bad)); err == nil {
			t.Errorf("Filter(%s)=nil error, want one", bad)
		}
	}
}
