package sqlite

import (
	"database/sql/driver"
	"encoding/json"
	"fmt"
	"strings"
	"sync"

	"github.com/persistkit/persist/internal/jsonx"
	msqlite "modernc.org/sqlite"
)

// numFunc is the SQL function that compares JSON numbers exactly: it maps
// the number's JSON text (data -> '$.k') to its canonical spelling, which
// is equal for equal values (1, 1.0 and 1e0) and never rounds
// (12345678901234567890 stays distinct from 12345678901234567891).
const numFunc = "persist_num"

var (
	registerOnce sync.Once
	registerErr  error
)

// registerFunctions adds persist_num and persist_canon to the driver, once per process,
// before any connection is opened.
func registerFunctions() error {
	registerOnce.Do(func() {
		if registerErr = registerQueryFunctions(); registerErr != nil {
			return
		}
		registerErr = msqlite.RegisterDeterministicScalarFunction(numFunc, 1,
			func(_ *msqlite.FunctionContext, args []driver.Value) (driver.Value, error) {
				s, ok := args[0].(string)
				if !ok {
					return nil, nil
				}
				c, err := jsonx.CanonicalNumber(s)
				if err != nil {
					// Not a JSON number (a legacy row written by another
					// tool): it equals no filter value.
					return nil, nil
				}
				return c, nil
			})
	})
	return registerErr
}

// filterSQL translates a checked query filter into a WHERE condition with its
// arguments. Every key and value is bound; the SQL text depends only on
// the keys' kinds, so equal-shaped filters share one prepared statement.
func filterSQL(fields []jsonx.Field) (string, []any, error) {
	var b strings.Builder
	var args []any
	for _, f := range fields {
		path := `$."` + f.Key + `"`
		b.WriteString(" AND ")
		switch f.Kind {
		case jsonx.KindNull:
			b.WriteString(`json_type(data, ?) = 'null'`)
			args = append(args, path)
		case jsonx.KindBool:
			if string(f.Value) == "true" {
				b.WriteString(`json_type(data, ?) = 'true'`)
			} else {
				b.WriteString(`json_type(data, ?) = 'false'`)
			}
			args = append(args, path)
		case jsonx.KindString:
			var v string
			if err := json.Unmarshal(f.Value, &v); err != nil {
				return "", nil, fmt.Errorf("filter value for %q: %v", f.Key, err)
			}
			b.WriteString(`json_type(data, ?) = 'text' AND json_extract(data, ?) = ?`)
			args = append(args, path, path, v)
		case jsonx.KindNumber:
			c, err := jsonx.CanonicalNumber(string(f.Value))
			if err != nil {
				return "", nil, fmt.Errorf("filter value for %q: %v", f.Key, err)
			}
			b.WriteString(`json_type(data, ?) IN ('integer', 'real') AND ` + numFunc + `(data -> ?) = ?`)
			args = append(args, path, path, c)
		default:
			return "", nil, fmt.Errorf("filter value for %q: unsupported kind %v", f.Key, f.Kind)
		}
	}
	return b.String(), args, nil
}
