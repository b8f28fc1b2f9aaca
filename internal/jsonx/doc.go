// Package jsonx is the JSON policy shared by the SQLite backend (which
// stores documents as TEXT), the PostgreSQL backend (which stores them as
// JSONB) and the migration tool. Both backends must accept exactly the same
// documents and must agree on when two stored documents are equal, so every
// rule that could make them diverge lives here.
//
// # Accepted documents
//
// Validate and ValidateObject accept a value only if every backend can store
// it without loss:
//
//  1. The syntax is exactly RFC 8259. Whitespace (space, tab, LF, CR) is
//     allowed around the value; a leading UTF-8 byte order mark is not.
//  2. No string or key contains U+0000, whether written raw or as the escape
//     \u0000, because PostgreSQL JSONB cannot store it. The six characters
//     of an escaped backslash followed by "u0000" ("\\u0000") are fine: they
//     do not decode to U+0000.
//  3. Strings are valid UTF-8 (no overlong forms, no encoded surrogates) and
//     \u escapes never leave a lone or unpaired UTF-16 surrogate, because
//     PostgreSQL rejects those.
//  4. Numbers fit PostgreSQL numeric: at most MaxIntegerDigits (131072)
//     significant digits before the decimal point, at most MaxScale (16383)
//     digits after it, and an exponent of at most MaxExponent (1073741822)
//     in magnitude, whatever the digits (0e1073741823 is rejected).
//     The scale is counted the way PostgreSQL counts it, from the digits as
//     written: fraction digits minus exponent, trailing zeros included
//     ("1.50e-16382" has scale 16384 and is rejected). The limits are
//     computed from the exponent, so a number such as 1e1000000 is rejected
//     without being expanded.
//  5. Objects and arrays nest at most MaxDepth (1000) levels, which keeps the
//     recursive parser's stack bounded.
//
// Numbers are never converted to float64: every comparison in this package
// is on exact decimal values.
//
// # Canonical form
//
// Canonical produces one encoding per JSON value, so that a document read
// back from SQLite (as written, after Compact) and the same document read
// back from PostgreSQL (keys reordered, duplicates dropped, numbers
// rewritten) can be compared byte for byte or by Digest:
//
//   - objects: duplicate keys are resolved last-wins (as JSONB does), keys
//     are sorted by the bytes of their decoded UTF-8, no whitespace;
//   - arrays: elements in order, no whitespace;
//   - strings: decoded, then re-encoded escaping only '"' as \", '\' as \\,
//     the controls U+0008, U+0009, U+000A, U+000C, U+000D as \b \t \n \f \r
//     and every other control below U+0020 as \u00xx (lowercase hex); all
//     other characters, including '/', U+007F, U+2028 and U+2029, are
//     written as raw UTF-8;
//   - numbers: CanonicalNumber, which depends only on the exact value;
//   - true, false and null as themselves.
//
// Two valid inputs therefore have equal Canonical output exactly when they
// decode to the same value under last-wins keys and exact numbers.
//
// # PostgreSQL's text
//
// JSONBText renders a document the way PostgreSQL prints it once stored as
// jsonb, or says it cannot; a PostgreSQL record whose bytes equal its
// source's JSONBText is the same value, which spares a migration the
// canonical form and the hash for nearly every record.
package jsonx
