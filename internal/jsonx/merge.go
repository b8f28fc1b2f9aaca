package jsonx

// topMember is one top-level member of a valid object, pointing into the
// input.
type topMember struct {
	key    string // decoded
	rawKey []byte // the string literal as written, quotes included
	value  []byte // the value as written
	off    int    // offset of the value in the input
}

// topMembers validates b as an object and splits it into its top-level
// members, in input order.
func topMembers(b []byte) ([]topMember, error) {
	if err := ValidateObject(b); err != nil {
		return nil, err
	}
	s := scanner{data: b}
	s.skipWS()
	s.pos++ // '{'
	s.depth = 1
	var ms []topMember
	var scratch []byte
	for {
		s.skipWS()
		if b[s.pos] == '}' {
			return ms, nil
		}
		k0 := s.pos
		scratch = decodeString(scratch[:0], b, k0)
		_ = s.str() // cannot fail: b is valid
		k1 := s.pos
		s.skipWS()
		s.pos++ // ':'
		s.skipWS()
		v0 := s.pos
		_ = s.value()
		ms = append(ms, topMember{key: string(scratch), rawKey: b[k0:k1], value: b[v0:s.pos], off: v0})
		s.skipWS()
		if b[s.pos] == ',' {
			s.pos++
		}
	}
}

// Merge shallow-merges the object patch into the object doc, the update
// semantics both backends implement identically.
//
// Each top-level key of patch replaces that key's value in doc; a null value
// sets the key to null rather than deleting it, so a merge can never remove
// data. Keys of doc keep their order and new keys are appended in the order
// they first appear in patch. Keys are matched after decoding escapes, so
// "\u0061" in patch replaces "a" in doc. If patch repeats a key its last
// value wins; if doc repeats a key every occurrence is replaced, which keeps
// last-wins reads consistent.
//
// The result is compact. Keys and values are copied as written, without
// re-encoding strings or numbers; only insignificant whitespace is dropped.
func Merge(doc, patch []byte) ([]byte, error) {
	dm, err := topMembers(doc)
	if err != nil {
		return nil, &contextError{"merge document", err}
	}
	pm, err := topMembers(patch)
	if err != nil {
		return nil, &contextError{"merge patch", err}
	}
	last := make(map[string]int, len(pm)) // key → index of its last value in pm
	for i, m := range pm {
		last[m.key] = i
	}
	inDoc := make(map[string]bool, len(dm))
	out := make([]byte, 0, len(doc)+len(patch))
	out = append(out, '{')
	add := func(rawKey, value []byte) {
		if len(out) > 1 {
			out = append(out, ',')
		}
		out = append(out, rawKey...)
		out = append(out, ':')
		out = appendCompact(out, value)
	}
	for _, m := range dm {
		inDoc[m.key] = true
		if i, ok := last[m.key]; ok {
			add(m.rawKey, pm[i].value)
		} else {
			add(m.rawKey, m.value)
		}
	}
	for _, m := range pm {
		if inDoc[m.key] {
			continue
		}
		inDoc[m.key] = true
		add(m.rawKey, pm[last[m.key]].value)
	}
	return append(out, '}'), nil
}

// CompactObject is [Compact] for an object whose top-level duplicate keys
// are resolved as PostgreSQL JSONB resolves them: the last value wins, at
// the place the key first appears. A backend that stores text (SQLite) uses
// it so that a query on a field sees the same value on every backend.
// Nested objects keep their duplicates; only top-level fields are queried.
func CompactObject(b []byte) ([]byte, error) {
	ms, err := topMembers(b)
	if err != nil {
		return nil, err
	}
	if !hasDuplicateKey(ms) {
		return appendCompact(make([]byte, 0, len(b)), b), nil
	}
	return Merge([]byte("{}"), b)
}

// smallObject is the member count up to which comparing every pair of keys
// is cheaper than building a set.
const smallObject = 16

// hasDuplicateKey reports whether two members have the same decoded key.
// Beyond a few members it uses a set, so a document with many top-level
// keys costs linear time: comparing every pair made a 50,000-key Put take
// seconds.
func hasDuplicateKey(ms []topMember) bool {
	if len(ms) <= smallObject {
		for i := 1; i < len(ms); i++ {
			for j := range i {
				if ms[i].key == ms[j].key {
					return true
				}
			}
		}
		return false
	}
	seen := make(map[string]struct{}, len(ms))
	for _, m := range ms {
		if _, ok := seen[m.key]; ok {
			return true
		}
		seen[m.key] = struct{}{}
	}
	return false
}
