package jsonx

import (
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestIDField(t *testing.T) {
	for _, tt := range []struct{ doc, id, want string }{
		{`{}`, "a", `{"id":"a"}`},
		{`{"n":1}`, "a", `{"id":"a","n":1}`},
		{` { "n" : 1 } `, "a", ` {"id":"a", "n" : 1 } `},
		{`{"id":"a","n":1}`, "a", `{"id":"a","n":1}`},
		{`{"n":1,"id":"a"}`, "a", `{"n":1,"id":"a"}`},
		{`{"\u0069d":"\u0061"}`, "a", `{"\u0069d":"\u0061"}`},
		{`{"nested":{"id":"other"}}`, "a", `{"id":"a","nested":{"id":"other"}}`},
		{`{}`, "", `{"id":""}`},
		{`{}`, "q\"\\\n\t\r\x01\x7f\u0085é😀", `{"id":"q\"\\\n\t\r\u0001` + "\x7f\u0085é😀" + `"}`},
	} {
		got, err := IDField([]byte(tt.doc), "id", tt.id)
		if err != nil || string(got) != tt.want {
			t.Errorf("IDField(%s, %q)=%s, %v; want %s", tt.doc, tt.id, got, err, tt.want)
			continue
		}
		var v map[string]any
		if err := json.Unmarshal(got, &v); err != nil || v["id"] != tt.id {
			t.Errorf("IDField(%s, %q)=%s decodes to id %v, %v", tt.doc, tt.id, got, v["id"], err)
		}
	}
	for _, tt := range []struct{ doc, id, wantErr string }{
		{`{"id":"b"}`, "a", `field "id" is "b", not the record's id "a"`},
		{`{"id":1}`, "1", `field "id" is a number`},
		{`{"id":null}`, "a", `field "id" is null`},
		{`{"id":{"a":1}}`, "a", `field "id" is an object`},
		{`{"id":"a","id":"b"}`, "a", `is "b"`},
		{`{"id":"b","id":"a"}`, "a", `is "b"`},
		{`[]`, "a", ``},
		{`{"id":`, "a", ``},
	} {
		_, err := IDField([]byte(tt.doc), "id", tt.id)
		if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
			t.Errorf("IDField(%s, %q) error %v, want one containing %q", tt.doc, tt.id, err, tt.wantErr)
		}
	}
}

func FuzzIDField(f *testing.F) {
	f.Add([]byte(`{"a":1}`), "x")
	f.Add([]byte(`{"id":"x"}`), "x")
	f.Fuzz(func(t *testing.T, doc []byte, id string) {
		if !utf8.ValidString(id) || strings.ContainsRune(id, 0) {
			return // ids are checked before; see ident.ID
		}
		got, err := IDField(doc, "id", id)
		if err != nil {
			return
		}
		if err := ValidateObject(got); err != nil {
			t.Fatalf("IDField(%q)=%q, not an object: %v", doc, got, err)
		}
		again, err := IDField(got, "id", id)
		if err != nil || string(again) != string(got) {
			t.Fatalf("IDField is not idempotent on %q: %q, %v", got, again, err)
		}
	})
}
