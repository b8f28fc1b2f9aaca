package persisttest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	"strconv"
)

// This file compares JSON documents by value, the way the contract defines
// equality: objects are unordered with the last of duplicate keys winning,
// and numbers are exact decimals. It deliberately shares no code with any
// backend's JSON handling, so a bug there cannot hide itself here.

// decodeJSON decodes exactly one JSON value, keeping numbers as written.
func decodeJSON(b []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("data after the JSON value")
	}
	return v, nil
}

// diffJSON returns "" if got and want hold equal JSON values, else a
// description of the first difference found.
func diffJSON(got, want []byte) string {
	g, err := decodeJSON(got)
	if err != nil {
		return fmt.Sprintf("got is not JSON: %v", err)
	}
	w, err := decodeJSON(want)
	if err != nil {
		return fmt.Sprintf("want is not JSON: %v", err)
	}
	return diffValue("$", g, w)
}

func diffValue(path string, got, want any) string {
	switch w := want.(type) {
	case map[string]any:
		g, ok := got.(map[string]any)
		if !ok {
			return fmt.Sprintf("%s: got %s, want object", path, typeName(got))
		}
		for k, wv := range w {
			gv, ok := g[k]
			if !ok {
				return fmt.Sprintf("%s: key %q missing", path, k)
			}
			if d := diffValue(path+"["+strconv.Quote(k)+"]", gv, wv); d != "" {
				return d
			}
		}
		for k := range g {
			if _, ok := w[k]; !ok {
				return fmt.Sprintf("%s: unexpected key %q", path, k)
			}
		}
	case []any:
		g, ok := got.([]any)
		if !ok {
			return fmt.Sprintf("%s: got %s, want array", path, typeName(got))
		}
		if len(g) != len(w) {
			return fmt.Sprintf("%s: got %d elements, want %d", path, len(g), len(w))
		}
		for i := range w {
			if d := diffValue(path+"["+strconv.Itoa(i)+"]", g[i], w[i]); d != "" {
				return d
			}
		}
	case json.Number:
		g, ok := got.(json.Number)
		if !ok {
			return fmt.Sprintf("%s: got %s, want number %s", path, typeName(got), w)
		}
		if !sameNumber(g, w) {
			return fmt.Sprintf("%s: got number %s, want %s", path, g, w)
		}
	case string:
		if g, ok := got.(string); !ok || g != w {
			return fmt.Sprintf("%s: got %s, want string %q", path, describe(got), w)
		}
	case bool:
		if g, ok := got.(bool); !ok || g != w {
			return fmt.Sprintf("%s: got %s, want %v", path, describe(got), w)
		}
	case nil:
		if got != nil {
			return fmt.Sprintf("%s: got %s, want null", path, describe(got))
		}
	default:
		return fmt.Sprintf("%s: unexpected decoded type %T", path, want)
	}
	return ""
}

// sameNumber compares two JSON numbers as exact rationals, so 1.0, 1e0 and
// 10E-1 are equal and 12345678901234567890 differs from
// 12345678901234567891, which float64 cannot tell apart.
func sameNumber(a, b json.Number) bool {
	if a == b {
		return true
	}
	x, ok1 := new(big.Rat).SetString(string(a))
	y, ok2 := new(big.Rat).SetString(string(b))
	return ok1 && ok2 && x.Cmp(y) == 0
}

func typeName(v any) string {
	switch v.(type) {
	case map[string]any:
		return "object"
	case []any:
		return "array"
	case json.Number:
		return "number"
	case string:
		return "string"
	case bool:
		return "boolean"
	case nil:
		return "null"
	}
	return fmt.Sprintf("%T", v)
}

func describe(v any) string {
	switch v := v.(type) {
	case string:
		return fmt.Sprintf("string %.80q", v)
	case json.Number, bool:
		return fmt.Sprintf("%s %v", typeName(v), v)
	}
	return typeName(v)
}

// numberAt returns the number stored under key in the object data, spelled
// as the store returned it.
func numberAt(data []byte, key string) (json.Number, error) {
	v, err := decodeJSON(data)
	if err != nil {
		return "", err
	}
	obj, ok := v.(map[string]any)
	if !ok {
		return "", fmt.Errorf("data is %s, not an object", typeName(v))
	}
	n, ok := obj[key].(json.Number)
	if !ok {
		return "", fmt.Errorf("key %q is %s, not a number", key, describe(obj[key]))
	}
	return n, nil
}
