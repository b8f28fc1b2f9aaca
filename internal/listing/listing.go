// Package listing validates what List and Query take, once for every
// backend: the options and the filter. Backends wrap its errors in
// persist.ErrInvalid with their own operation and table.
package listing

import (
	"encoding/json"
	"fmt"

	"github.com/persistkit/persist"
	"github.com/persistkit/persist/internal/ident"
	"github.com/persistkit/persist/internal/jsonx"
)

// Options returns a copy of opts (the zero value for nil) after checking
// it: Limit not negative, a known Order, and After a valid id when set.
func Options(opts *persist.ListOptions) (persist.ListOptions, error) {
	var o persist.ListOptions
	if opts != nil {
		o = *opts
	}
	if o.Limit < 0 {
		return o, fmt.Errorf("limit %d is negative", o.Limit)
	}
	if o.Order != persist.ByInsertion && o.Order != persist.ByID {
		return o, fmt.Errorf("order %d is unknown", int(o.Order))
	}
	if o.After != "" {
		if err := ident.ID(o.After); err != nil {
			return o, fmt.Errorf("after: %w", err)
		}
	}
	return o, nil
}

// Filter parses a query filter, an object of scalars, and checks every key
// with [ident.FilterKey]. {} gives no fields.
func Filter(filter json.RawMessage) ([]jsonx.Field, error) {
	fields, err := jsonx.ParseFilter(filter)
	if err != nil {
		return nil, err
	}
	for _, f := range fields {
		if err := ident.FilterKey(f.Key); err != nil {
			return nil, err
		}
	}
	return fields, nil
}
